/**
 * The escalation ladder on a real guest OS (issue 14): a tiny Debian-kernel + busybox guest under
 * the real libvirtd (scripts/guest-image.sh, test/support/guest-os.ts) whose HTTP service the
 * test switches off and on through its control disk; a real CMA and a real nanoprobe, both as
 * processes inside the guest's network namespace (they talk over its loopback; the nanoprobe's
 * guest check reaches the guest there; libvirt is a Unix socket). The service stops answering →
 * the nanoprobe's check finds the guest unhealthy → the CMA's ladder notifies, then asks for a soft
 * reboot (ACPI: the guest powers off and libvirt restarts it; the service stays off) → a hard reset
 * (the test lets the service start at that boot) → the check passes → healthy: the ladder ends,
 * having escalated to no one. One slow, decisive scenario (~70 s: three TCG boots).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "@ringwatch/shared/testing";
import { GuestOs } from "./support/guest-os.js";
import { LibvirtLab } from "./support/libvirt.js";
import { CMA_CLI, NANOPROBE_CLI, RunningProcess, runToExit, testIdentityKeyFile } from "./support/processes.js";
import type { LogLine } from "./support/processes.js";

const BOOT_MS = 90_000;
const CMA_PORT = 19_841; // inside the guest's own namespace: nothing else listens there

/** a process of ours inside the namespace (`ip netns exec` execs it: the PID is node's) */
function inNamespace(ns: string, name: string, script: string, env: Record<string, string>): RunningProcess {
  return new RunningProcess(name, spawn("ip", ["netns", "exec", ns, process.execPath, script, "run"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] }));
}

describe("system: the ladder on a real guest OS (service down → notify → soft reboot → hard reset → healthy)", function () {
  this.timeout(300_000);
  let lab: LibvirtLab;
  let guest: GuestOs;
  let cma: RunningProcess, np: RunningProcess;
  let dir: string;
  let firstBoot: string;

  before(async function () {
    this.timeout(300_000); // a fresh machine installs libvirt, the kernel and busybox first
    lab = await LibvirtLab.start(0, { prefix: "rwt-lad" });
    guest = await GuestOs.start({ name: "rwt-lad-1", subnet: 9 });
    firstBoot = await guest.waitForBoot(undefined, BOOT_MS);
    dir = mkdtempSync(join(tmpdir(), "rw-ladder-guest-"));
    const kg = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(kg.code, 0, kg.stderr);
    writeFileSync(join(dir, "checks.json"), JSON.stringify({ defaults: { intervalMs: 1000, timeoutMs: 800, failures: 3 }, checks: [{ guest: guest.name, http: guest.url }] }));
    // the reboot's boot must come and go before the reset: 35 s between them (a TCG boot takes ~11 s)
    writeFileSync(join(dir, "policy.json"), JSON.stringify({ default: ["notify", { wait: "1s" }, "reboot", { wait: "35s" }, "reset", { wait: "60s" }, "escalate"] }));
    const common = { RINGWATCH_CLUSTER: "ladderguest", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0", RINGWATCH_BIND_ADDRESS: "127.0.0.1" };
    cma = inNamespace(guest.ns, "cma", CMA_CLI, {
      ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_PORT: String(CMA_PORT), RINGWATCH_MULTICAST_GROUP: "",
      RINGWATCH_DATA_DIR: join(dir, "cma"), RINGWATCH_HTTP_LISTEN: "off", RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none",
      RINGWATCH_ACTION_POLICY_FILE: join(dir, "policy.json"), RINGWATCH_LADDER_TICK_MS: "200",
    });
    await cma.waitFor((l) => l.msg === "CMA started", 30_000, "CMA started");
    np = inNamespace(guest.ns, "hv-lad", NANOPROBE_CLI, {
      ...common, RINGWATCH_IDENTITY: "hv-lad", RINGWATCH_IDENTITY_KEY_FILE: testIdentityKeyFile("hv-lad"), RINGWATCH_PORT: String(CMA_PORT + 1), RINGWATCH_CMA: `127.0.0.1:${CMA_PORT}`,
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_DISCOVERY_DIR: "", RINGWATCH_ZABBIX_AGENT_CONFIG: "",
      RINGWATCH_LIBVIRT_URI: lab.uri, RINGWATCH_GUEST_CHECKS_FILE: join(dir, "checks.json"),
    });
    await np.waitFor((l) => l.msg === "registered with the CMA", 30_000, "registered");
  });

  after(async () => {
    await np?.stop();
    await cma?.stop();
    await guest?.remove();
    await lab?.stop();
  });

  const step = (name: string) => (l: LogLine) => l.msg === "ladder step" && l.step === name;

  it("kept down through the soft reboot, back after the hard reset: the ladder ends there, every step audited", async () => {
    guest.writeFlags({ httpd: "off" });
    const notify = await cma.waitFor(step("notify"), 60_000, "notify");
    assert.equal(notify.outcome, "ok");
    const reboot = await cma.waitFor(step("reboot"), 30_000, "soft reboot");
    assert.equal(reboot.outcome, "ok", String(reboot.detail));
    // the reboot's boot reads httpd=off; once it has, the next boot (the reset's) may serve again
    await waitUntil(() => /rwguest: httpd off/.test(guest.console()), BOOT_MS, "the soft reboot's boot, service still off", 250);
    assert.ok(!cma.lines.some(step("reset")), "the reset comes after the reboot's boot");
    guest.writeFlags({ httpd: "on" });
    const reset = await cma.waitFor(step("reset"), 60_000, "hard reset");
    assert.equal(reset.outcome, "ok", String(reset.detail));
    const ended = await cma.waitFor((l) => l.msg === "ladder ended", BOOT_MS, "the ladder's end");
    assert.equal(ended.why, "healthy again");
    assert.notEqual(await guest.bootId(), firstBoot, "the guest serves from a new boot");
    assert.ok(!cma.lines.some(step("escalate")), "no escalation");

    type Saved = { ladders: { name: string; status: string; history: { what: string; outcome: string }[] }[] };
    const saved = (): Saved => JSON.parse(readFileSync(join(dir, "cma/ladders.json"), "utf8")) as Saved;
    await waitUntil(() => saved().ladders[0]?.status === "ended", 10_000, "the end written (at the ladder's next tick)", 100);
    const state = saved();
    assert.deepEqual(state.ladders.map((l) => [l.name, l.status, l.history.map((h) => `${h.what}:${h.outcome}`)]), [[guest.name, "ended", ["notify:ok", "reboot:ok", "reset:ok"]]]);
    const audit = readdirSync(join(dir, "cma/audit")).filter((f) => f.endsWith(".jsonl")).sort()
      .flatMap((f) => readFileSync(join(dir, "cma/audit", f), "utf8").split("\n").filter(Boolean).map((t) => JSON.parse(t) as { actor: string; action: string; outcome: string }))
      .filter((e) => e.actor === "ladder").map((e) => `${e.action}:${e.outcome}`);
    assert.deepEqual(audit, ["ladderStart:ok", "ladderNotify:ok", "ladderAction:ok", "ladderAction:ok", "ladderEnd:ok"]);
    assert.equal(np.lines.filter((l) => l.msg === "domain action done").length, 2, "two actions on the hypervisor");
  });
});

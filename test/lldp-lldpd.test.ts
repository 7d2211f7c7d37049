/**
 * The real LLDP discovery script against a real lldpd: two network namespaces joined by a veth
 * pair, an lldpd in the foreground in each (its own control socket, one interface, sending every
 * second), and the script run with LLDPCTL pointing at lldpctl on the first one's socket. It must
 * report the other end as its neighbour, and "not available" (exit 0) when lldpd is gone.
 * Needs root (namespaces) and the Debian lldpd package (scripts/install.sh installs it without
 * starting its daemon). Everything started here is stopped and deleted in the after hook.
 */
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseDocument } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { REPO } from "./support/processes.js";

const run = promisify(execFile);
const LLDP_SCRIPT = `${REPO}discovery-scripts/bin/lldp`;

interface LldpData {
  available: boolean;
  reason?: string;
  neighbours: { interface: string; chassisName: string | null; chassisId: string | null; portId: string | null; portDescription: string | null; mgmtIp: string | null }[];
}

async function runLldpScript(lldpctl: string): Promise<LldpData> {
  const r = spawnSync(LLDP_SCRIPT, [], { env: { ...process.env, LLDPCTL: lldpctl }, encoding: "utf8", timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const p = parseDocument(r.stdout);
  assert.ok(p.ok, r.stdout);
  assert.equal(p.document.discovertype, "lldp");
  return p.document.data as unknown as LldpData;
}

describe("system: the lldp discovery script against a real lldpd", function () {
  this.timeout(60_000);
  const prefix = `rwl${process.pid}`;
  const ns = { a: `${prefix}a`, b: `${prefix}b` };
  const ifs = { a: `${prefix}x`, b: `${prefix}y` };
  let dir: string;
  const daemons: ChildProcess[] = [];

  before(async function () {
    assert.equal(process.getuid?.(), 0, "network namespaces need root");
    assert.ok(existsSync("/usr/sbin/lldpd") && existsSync("/usr/sbin/lldpcli"), "lldpd is not installed: run scripts/install.sh");
    dir = mkdtempSync(join(tmpdir(), "rw-lldpd-"));
    chmodSync(dir, 0o755); // lldpcli runs set-uid _lldpd: it must reach the sockets in here
    const ip = (...args: string[]): Promise<unknown> => run("ip", args);
    await ip("netns", "add", ns.a);
    await ip("netns", "add", ns.b);
    await ip("link", "add", ifs.a, "type", "veth", "peer", "name", ifs.b);
    for (const k of ["a", "b"] as const) {
      await ip("link", "set", ifs[k], "netns", ns[k]);
      await ip("-n", ns[k], "link", "set", ifs[k], "up");
      await ip("-n", ns[k], "addr", "add", k === "a" ? "10.198.0.1/24" : "10.198.0.2/24", "dev", ifs[k]);
    }
  });

  after(async () => {
    for (const d of daemons) d.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill("SIGKILL");
    for (const n of Object.values(ns)) spawnSync("ip", ["netns", "del", n], { stdio: "ignore" }); // takes the veth pair with it
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sock = (k: "a" | "b"): string => join(dir, `${k}.sock`);

  async function startLldpd(k: "a" | "b", hostname: string): Promise<ChildProcess> {
    // its own UTS namespace with the hostname it should announce: lldpd reads the system's name at
    // start and may send it before a configured one takes effect (seen in CI-like runs: "vm")
    const d = spawn("ip", ["netns", "exec", ns[k], "unshare", "--uts", "sh", "-c", 'hostname "$0" && exec lldpd -d -u "$1" -I "$2" -S "$3"', hostname, sock(k), ifs[k], `ringwatch test ${k}`], { stdio: ["ignore", "ignore", "pipe"] });
    daemons.push(d);
    let stderr = "";
    d.stderr!.on("data", (b: Buffer) => (stderr += b));
    await waitUntil(() => existsSync(sock(k)) || d.exitCode !== null, 10_000, `lldpd in ${ns[k]} listening`);
    assert.equal(d.exitCode, null, `lldpd in ${ns[k]} exited: ${stderr}`);
    // lldpd starts paused until lldpcli configures it (its own call does not know our socket)
    for (const cmd of [["configure", "system", "hostname", hostname], ["configure", "lldp", "tx-interval", "1"], ["resume"]]) {
      await run("lldpcli", ["-u", sock(k), ...cmd]);
    }
    return d;
  }

  it("reports the lldpd at the other end of the link as its neighbour", async () => {
    await startLldpd("a", "hv-under-test");
    const b = await startLldpd("b", "tor-switch-b");
    const lldpctl = join(dir, "lldpctl-a");
    writeFileSync(lldpctl, `#!/bin/sh\nexec lldpctl -u '${sock("a")}' "$@"\n`);
    chmodSync(lldpctl, 0o755);
    const { stdout: macB } = await run("ip", ["-n", ns.b, "-o", "link", "show", ifs.b]);
    const mac = /link\/ether ([0-9a-f:]{17})/.exec(macB)![1];

    let data = await runLldpScript(lldpctl);
    for (const end = Date.now() + 20_000; data.neighbours.length === 0 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 500));
      data = await runLldpScript(lldpctl);
    }
    assert.equal(data.available, true);
    assert.deepEqual(data.neighbours, [{
      interface: ifs.a, chassisName: "tor-switch-b", chassisId: mac, portId: mac, portDescription: ifs.b, mgmtIp: "10.198.0.2",
    }]);

    // lldpd stopped: the same script says "not available", with lldpctl's reason, and exits 0
    b.kill("SIGTERM");
    for (const d of daemons) d.kill("SIGTERM");
    await waitUntil(() => daemons.every((d) => d.exitCode !== null || d.signalCode !== null), 10_000, "lldpd stopped");
    rmSync(sock("a"), { force: true });
    const down = await runLldpScript(lldpctl);
    assert.equal(down.available, false);
    assert.deepEqual(down.neighbours, []);
    assert.match(down.reason ?? "", /^lldpd not reachable: unable to connect to socket .*a\.sock/);
  });
});

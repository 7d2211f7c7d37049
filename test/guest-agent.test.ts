/**
 * The QEMU guest agent of a real guest under a real libvirtd (QEMU/TCG), through the nanoprobe's
 * agent check (issue 14, items 1 and 2): the tiny guest of scripts/guest-image.sh has a guest-agent
 * channel and runs a tiny agent (a busybox shell loop) while its control disk says agent=on. With
 * the agent answering, the ping answers and the guest stays healthy, and a reboot or shutdown
 * command goes through the agent; with nobody answering on the channel (agent=off) or an agent that reads and
 * never answers (agent=hang), the check fails its count in a row and the guest is unhealthy with
 * the agent's evidence — without blocking the event loop; a domain with no agent channel is never
 * pinged. Needs root; fails (does not skip) when libvirtd cannot start.
 */
import assert from "node:assert/strict";
import { pino } from "pino";
import type { Alert } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { agentFailure } from "@ringwatch/libvirt";
import { HypervisorMonitor, executeDomainAction, parseGuestChecks } from "@ringwatch/nanoprobe";
import { GuestOs } from "./support/guest-os.js";
import { LibvirtLab } from "./support/libvirt.js";

const BOOT_MS = 90_000;

interface Evidence { causes: { check: string; failures: number; lastError: string }[] }

describe("system: a real guest's QEMU guest agent under libvirt: ping, unhealthy when it does not answer, reboot through it", function () {
  this.timeout(120_000);
  let lab: LibvirtLab;
  let guest: GuestOs;
  let uuid: string;
  let bootId: string;
  let monitor: HypervisorMonitor;
  const alerts: Alert[] = [];
  const logs: { msg: string; uuid?: string }[] = [];
  const unhealthy = (): boolean => monitor.health.unhealthy().has(uuid);
  const lastAlert = (): Alert | undefined => alerts.filter((a) => a.subject === uuid).at(-1);

  before(async function () {
    this.timeout(300_000); // a fresh machine installs libvirt, the kernel and busybox first
    lab = await LibvirtLab.start(1, { prefix: "rwt-gag" }); // rwt-gag01: a domain without an agent channel
    guest = await GuestOs.start({ name: `rwt-gag-guest${process.pid}`, subnet: 93, agentChannel: true, flags: { agent: "on" } });
    uuid = (await guest.virsh("domuuid", guest.name)).trim();
    bootId = await guest.waitForBoot(undefined, BOOT_MS);
    await waitUntil(() => /rwguest: agent on on \/dev\/vport/.test(guest.console()), 30_000, "the guest's agent on its port", 200);
    const log = pino({ level: "info" }, { write: (s: string) => { logs.push(JSON.parse(s) as { msg: string }); } });
    const checks = parseGuestChecks({ defaults: { intervalMs: 1000, timeoutMs: 900, failures: 2 }, checks: [{ guest: guest.name, agent: true }, { guest: lab.name(1), agent: true }] }, "test");
    monitor = new HypervisorMonitor({ uri: lab.uri, sampleMs: 5000, reportIntervalMs: 600_000, inventoryResendMs: 600_000, reconnectMs: 1000, guestChecks: checks }, log);
    monitor.on("alert", (a) => { if (a.kind === "guestUnhealthy") alerts.push(a); });
    await monitor.start();
  });

  after(async function () {
    this.timeout(60_000);
    await monitor?.stop();
    await guest?.remove();
    await lab?.stop();
  });

  it("agent on: the ping answers and the guest stays healthy; the domain without a channel is never pinged (logged once, counted)", async () => {
    await waitUntil(() => monitor.health.counters.checksRun >= 3 && monitor.health.agentAnswered(uuid), 20_000, "answered pings");
    assert.deepEqual(await monitor.conn!.agentCommand(uuid, { execute: "guest-ping" }, 2), { return: {} });
    assert.equal(monitor.health.counters.checksFailed, 0);
    assert.equal(alerts.length, 0);
    await waitUntil(() => monitor.health.counters.agentNoChannel >= 3, 10_000, "the domain without a channel skipped");
    const noChannel = logs.filter((l) => l.msg.startsWith("guest has no guest-agent channel"));
    assert.equal(noChannel.length, 1, "logged once");
  });

  it("a reboot command asks the agent (it answered its last ping): the guest reboots through it", async () => {
    const done = await executeDomainAction(monitor, { uuid, action: "reboot" });
    assert.equal(done.via, "agent");
    bootId = await guest.waitForBoot(bootId, BOOT_MS);
    assert.match(guest.console(), /rwguest: agent: guest-shutdown reboot/);
    // the agent is back after the boot; failures while the guest rebooted are over
    await waitUntil(() => monitor.health.agentAnswered(uuid) && !unhealthy(), 30_000, "the agent answering again");
  });

  it("a shutdown command asks the agent too: the guest powers itself off through it (no power button), is never unhealthy for it, and starts again", async () => {
    const done = await executeDomainAction(monitor, { uuid, action: "shutdown" });
    assert.equal(done.via, "agent");
    for (let i = 0; !(await guest.domstate()).startsWith("shut off"); i++) {
      assert.ok(i < 240, "the guest powered off within 60 s");
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(guest.console(), /rwguest: agent: guest-shutdown\r?\n/);
    assert.doesNotMatch(guest.console(), /power button: poweroff/);
    assert.ok(!unhealthy(), "powered off on purpose: not unhealthy");
    const started = await executeDomainAction(monitor, { uuid, action: "start" });
    assert.deepEqual([started.state, started.via], ["running", undefined]);
    await guest.attachNetwork(); // a new QEMU process: a new tap, in the root namespace
    bootId = await guest.waitForBoot(bootId, BOOT_MS);
    await waitUntil(() => monitor.health.agentAnswered(uuid) && !unhealthy(), 30_000, "the agent answering after the start");
  });

  it("agent off (the channel there, nobody answering): unhealthy after 2 failures with the agent's evidence; on again: healthy", async () => {
    const failed = monitor.health.counters.checksFailed;
    guest.writeFlags({ agent: "off" });
    await waitUntil(() => lastAlert()?.active === true, 20_000, "unhealthy: the agent does not answer");
    const ev = JSON.parse(lastAlert()!.evidenceJson) as Evidence;
    assert.deepEqual(ev.causes.map((c) => [c.check, c.failures]), [["agent", 2]]);
    assert.match(ev.causes[0].lastError, /^guest agent: no answer within 1 s \(.*QEMU guest agent is not connected\)$/);
    assert.ok(monitor.health.counters.checksFailed >= failed + 2);
    assert.equal(monitor.health.agentAnswered(uuid), false);
    guest.writeFlags({ agent: "on" });
    await waitUntil(() => lastAlert()?.active === false, 20_000, "healthy again");
  });

  it("a hung agent (the port open, nothing answered): the ping times out on a pool thread, the event loop runs on; unhealthy", async () => {
    guest.writeFlags({ agent: "hang" });
    await waitUntil(() => /rwguest: agent hang on/.test(guest.console()), 10_000, "the agent hung", 200);
    // libvirt connects to the channel once it sees the guest open the port
    for (let i = 0; !/name='org\.qemu\.guest_agent\.0' state='connected'/.test(await monitor.conn!.domainXml(uuid)); i++) {
      assert.ok(i < 50, "libvirt connected to the hung agent's port");
      await new Promise((r) => setTimeout(r, 200));
    }
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 50);
    const err = await monitor.conn!.agentPing(uuid, 1).then(() => undefined, (e: unknown) => e);
    clearInterval(ticker);
    assert.equal(agentFailure(err), "unresponsive", String(err));
    assert.ok(ticks >= 10, `the event loop ran while the ping waited (${ticks} ticks; ${String(err)})`);
    await waitUntil(() => lastAlert()?.active === true, 40_000, "unhealthy: the hung agent");
    // libvirt words a hung agent as "not available for now" until it gives the connection up after a
    // timeout, then as "not connected" until the guest opens its port again: both are no answer (seen in a full run)
    assert.match((JSON.parse(lastAlert()!.evidenceJson) as Evidence).causes[0].lastError, /^guest agent: no answer within 1 s \(.*(not available for now|not connected)/);
  });

  it("a reboot command for a guest whose agent did not answer goes by ACPI; the domain without a channel was never unhealthy", async () => {
    guest.writeFlags({ agent: "off" });
    const done = await executeDomainAction(monitor, { uuid, action: "reboot" });
    assert.equal(done.via, "acpi");
    bootId = await guest.waitForBoot(bootId, BOOT_MS);
    assert.match(guest.console(), /rwguest: power button: poweroff/);
    const other = (await monitor.conn!.listDomains()).find((d) => d.name === lab.name(1))!;
    assert.ok(!alerts.some((a) => a.subject === other.uuid));
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import type { Socket } from "node:net";
import { join } from "node:path";
import { decodeEnvelope, silentLogger } from "@ringwatch/shared";
import type { Alert, Endpoint, Envelope } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { DEFAULT_THRESHOLDS, HypervisorMonitor } from "../../src/index.js";
import { CmaRegistration } from "../../src/outbox/cma-registration.js";
import { InventorySender } from "../../src/outbox/inventory-sender.js";
import { writeFixture, type Fixture } from "@ringwatch/libvirt/test-driver-fixture";

describe("nanoprobe/hypervisor/hypervisor-monitor: the host's memory", () => {
  let fx: Fixture;
  let dir: string;
  before(() => {
    fx = writeFixture(4);
    dir = mkdtempSync(join(tmpdir(), "rw-meminfo-"));
  });
  after(() => {
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the host's memory with every evaluation and raises hostMemoryLeak on steady growth", async () => {
    const meminfo = join(dir, "meminfo");
    const m = new HypervisorMonitor({ uri: fx.uri, sampleMs: 1000, reportIntervalMs: 600_000, inventoryResendMs: 600_000, reconnectMs: 1000, meminfoPath: meminfo }, silentLogger(), { ...DEFAULT_THRESHOLDS, hostLeakSlopeKiBPerMin: 2048 });
    const alerts: Alert[] = [];
    m.on("alert", (a) => alerts.push(a));
    await m.start();
    try {
      const write = (availableKiB: number): void => writeFileSync(meminfo, `MemTotal:       33554432 kB\nMemFree:         1000000 kB\nMemAvailable:   ${availableKiB} kB\n`);
      const t0 = Date.now();
      for (let i = 0; i <= 200; i++) { // 10 s apart, 4 MiB/min
        write(Math.round(30_000_000 - (i * 10 * 4096) / 60));
        await m.evaluate(t0 + i * 10_000);
      }
      assert.equal(m.counters.hostMemoryReadErrors, 0);
      assert.deepEqual(alerts.filter((a) => a.kind === "hostMemoryLeak").map((a) => a.active), [true]);
      // a file that cannot be read is counted, never thrown
      rmSync(meminfo);
      await m.evaluate(t0 + 201 * 10_000);
      assert.equal(m.counters.hostMemoryReadErrors, 1);
    } finally {
      await m.stop();
    }
  });
});

describe("nanoprobe/hypervisor/hypervisor-monitor: libvirt unreachable", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "rw-nolibvirt-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("never throws: retries with a doubling delay capped at reconnectMs, raises libvirtUnreachable once, sends no inventory as full", async () => {
    // the remote driver on a socket nobody listens on: libvirt's own "Failed to connect socket" error
    const uri = `qemu+unix:///system?socket=${join(dir, "absent-libvirt-sock")}`;
    const m = new HypervisorMonitor({ uri, sampleMs: 100, reportIntervalMs: 200, inventoryResendMs: 200, reconnectMs: 80, reconnectMinMs: 10 }, silentLogger());
    const alerts: Alert[] = [];
    const delays: number[] = [];
    let inventories = 0;
    let stats = 0;
    m.on("alert", (a) => alerts.push(a));
    m.on("disconnected", (d) => delays.push(d.retryInMs));
    m.on("inventory", () => inventories++);
    m.on("stats", () => stats++);
    // what the CMA would be sent: the outbox's inventory sender, registered with a CMA that takes everything
    const sent: Envelope[] = [];
    const endpoint = { send: (_to: unknown, p: Buffer) => (sent.push(decodeEnvelope(p)), Promise.resolve()) } as unknown as Endpoint;
    const cma = new CmaRegistration(endpoint, { lost: () => undefined, stopped: () => false });
    cma.cma = { address: "127.0.0.1", port: 1984 };
    cma.registered = true;
    const inventory = new InventorySender(cma, { inventoriesSent: 0 }, () => m.full());
    m.on("inventory", (inv) => inventory.send(inv));
    await m.start(); // resolves after the first failed attempt, does not reject
    try {
      inventory.sendFull(); // a CMA registered us: the full set is asked for
      await waitUntil(() => m.counters.libvirtConnectFailures >= 7, 10_000, "seven failed attempts");
      assert.equal(m.connected, false);
      assert.equal(m.full(), undefined, "no full inventory without libvirt");
      assert.equal(inventories, 0);
      assert.equal(sent.length, 0, "nothing sent to the CMA about guests");
      assert.equal(stats, 0, "no stats batch: absent, not zeros");
      assert.equal(m.sampler.stats.passes, 0);
      // bounded backoff: 10, 20, 40, 80, then 80 for ever
      assert.deepEqual(delays.slice(0, 6), [10, 20, 40, 80, 80, 80]);
      assert.ok(delays.every((d) => d <= 80), delays.join(","));
      const raised = alerts.filter((a) => a.kind === "libvirtUnreachable");
      assert.deepEqual(raised.map((a) => a.active), [true], "raised once, however many attempts fail");
      assert.equal(raised[0].subject, "libvirt");
      assert.equal(raised[0].subjectName, uri);
      assert.match(JSON.parse(raised[0].evidenceJson).error as string, /Failed to connect socket/);
      assert.equal(m.counters.libvirtConnects, 0);
    } finally {
      await m.stop();
    }
    const attempts = m.counters.libvirtConnectFailures;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(m.counters.libvirtConnectFailures, attempts, "stopped: no more attempts");
  });

  it("a libvirt that accepts and never answers (hung libvirtd) is unreachable after the answer timeout; no second attempt while one hangs", async () => {
    const path = join(dir, "silent-libvirt-sock");
    const accepted: Socket[] = [];
    const silent = createServer((c) => accepted.push(c)); // takes the connection, never says a word
    await new Promise<void>((r) => silent.listen(path, r));
    const m = new HypervisorMonitor({ uri: `qemu+unix:///system?socket=${path}`, sampleMs: 100, inventoryResendMs: 60_000, reconnectMs: 50, reconnectMinMs: 10, answerTimeoutMs: 100 }, silentLogger());
    const alerts: Alert[] = [];
    m.on("alert", (a) => alerts.push(a));
    void m.start(); // its first attempt hangs: start() would too
    try {
      await waitUntil(() => alerts.length > 0, 5000, "the alert");
      assert.match(JSON.parse(alerts[0].evidenceJson).error as string, /did not answer within 100 ms/);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(accepted.length, 1, "one attempt at a time: a hung open is not piled on");
      for (const c of accepted) c.destroy(); // the daemon dies: that attempt fails, the next one hangs again
      await waitUntil(() => accepted.length === 2, 5000, "the next attempt");
      assert.deepEqual(alerts.map((a) => a.active), [true], "still one alert for the outage");
      assert.equal(m.counters.libvirtConnectFailures, 1);
    } finally {
      for (const c of accepted) c.destroy();
      silent.close();
      await m.stop();
    }
  });
});

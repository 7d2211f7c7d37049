import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import type { Alert } from "@ringwatch/shared";
import { DEFAULT_THRESHOLDS, HypervisorMonitor } from "../../src/index.js";
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

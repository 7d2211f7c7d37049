/**
 * Start jitter (seed 000): 50 real nanoprobes started together in one process (the simulator's
 * hosts run neither libvirt nor discovery, so these are full agents: libvirt test driver, the
 * shipped discovery scripts' schedule) spread their stats reports and every discovery script over
 * the interval, and their first runs over the start window. Asserted on the schedules the agents
 * run by (spread, not timing), and on a count: no discovery run began before its planned first run.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Keyring, makeClusterKey, silentLogger, generateHostKeys, newKeyPair } from "@ringwatch/shared";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { Nanoprobe, SpreadSchedule, nanoprobeConfig } from "../src/index.js";

const HOSTS = 50;

/** All offsets inside [0, windowMs], and every quarter of it holds one (50 uniform draws leave a quarter empty with p ≈ 4 × 0.75^50 ≈ 2e-6). */
function assertSpread(offsets: number[], windowMs: number, what: string): void {
  assert.equal(offsets.length, HOSTS);
  assert.ok(offsets.every((o) => o >= 0 && o <= windowMs), `${what}: outside [0, ${windowMs}]: ${offsets.filter((o) => o < 0 || o > windowMs).join(", ")}`);
  for (let q = 0; q < 4; q++) {
    const [lo, hi] = [(q * windowMs) / 4, ((q + 1) * windowMs) / 4];
    assert.ok(offsets.some((o) => o >= lo && o <= hi), `${what}: none in [${lo}, ${hi}] ms: ${[...offsets].sort((a, b) => a - b).join(", ")}`);
  }
}

describe("nanoprobe: start jitter across 50 hosts started together", function () {
  this.timeout(60_000);

  it("stats reports, full inventory resends and each discovery script are spread over their interval, first runs over the start window", async () => {
    const fx = writeFixture(2);
    const scriptsDir = mkdtempSync(join(tmpdir(), "rw-jitter-")); // empty: a run that begins fails at once (spawn), cheaply
    const deps = { keyring: new Keyring("jitter", makeClusterKey(randomBytes(32))), cmaPublicKey: newKeyPair("ed25519").publicKey, log: silentLogger() };
    const defaults = nanoprobeConfig({});
    assert.deepEqual([defaults.scheduleSpread, defaults.scheduleStartWindowMs, defaults.reportIntervalMs], [1, 30_000, 60_000], "the shipped defaults are what is tested");
    const t0 = performance.now();
    const hosts = await Promise.all(Array.from({ length: HOSTS }, (_, i) => Nanoprobe.start(nanoprobeConfig({
      identity: `hv${i}`, cluster: "jitter", cma: "127.0.0.1:9", bindAddress: "127.0.0.1", port: 0, statusIntervalMs: 0,
      libvirtUri: fx.uri, discoveryDir: scriptsDir,
    }), { ...deps, hostKeys: generateHostKeys() })));
    try {
      const window = defaults.scheduleStartWindowMs;
      const reports = hosts.map((h) => h.hypervisor!.reportSchedule);
      assertSpread(reports.map((s) => s.phaseMs), defaults.reportIntervalMs, "stats report phase");
      assertSpread(reports.map((s) => s.firstRunMs), Math.min(window, defaults.reportIntervalMs), "first stats report");
      assertSpread(hosts.map((h) => h.hypervisor!.resendSchedule.phaseMs), defaults.inventoryResendMs, "full inventory resend phase");
      const names = hosts[0].discovery!.scriptNames;
      assert.equal(names.length, 7); // guest-flows too: these hosts have libvirt
      for (const name of names) {
        const s = hosts.map((h) => h.discovery!.schedules()[name]);
        assertSpread(s.map((x) => x.phaseMs), s[0].intervalMs, `${name} phase`);
        assertSpread(s.map((x) => x.firstRunMs), Math.min(window, s[0].intervalMs), `${name} first run`);
      }
      // the runners run by these schedules: no script began before its first run (a timer never fires early)
      const elapsed = performance.now() - t0;
      const begun = hosts.flatMap((h) => Object.values(h.discovery!.stats())).filter((st) => st.running || st.lastRunAt !== null).length;
      const due = hosts.flatMap((h) => Object.values(h.discovery!.schedules())).filter((s) => s.firstRunMs <= elapsed).length;
      assert.ok(begun <= due, `${begun} discovery runs began within ${Math.round(elapsed)} ms of start; ${due} were due by then`);
      assert.ok(due < (HOSTS * names.length) / 2, "most first runs are still to come: the window, not the start, holds them");
    } finally {
      await Promise.all(hosts.map((h) => h.stop(false)));
      rmSync(scriptsDir, { recursive: true, force: true });
      fx.cleanup();
    }
  });

  it("after an early first run the job keeps its phase; runs follow its grid, at least half an interval apart", () => {
    const draws = [0.9, 0.5]; // phase 0.9 × 600 s = 540 s, later than the 30 s window: early run at 0.5 × 30 s
    const s = new SpreadSchedule(600_000, { spread: 1, startWindowMs: 30_000, random: () => draws.shift()! });
    assert.deepEqual([s.phaseMs, s.firstRunMs], [540_000, 15_000]);
    assert.equal(s.nextRunAfter(15_000), 540_000, "the early run, then the phase");
    assert.equal(s.nextRunAfter(540_050), 1_140_000, "a late timer: the next grid point, not a second run");
    const close = new SpreadSchedule(600_000, { spread: 1, startWindowMs: 30_000, random: (() => { const d = [0.06, 0.99]; return () => d.shift()!; })() });
    assert.deepEqual([close.phaseMs, close.firstRunMs], [36_000, 29_700]);
    assert.equal(close.nextRunAfter(29_700), 636_000, "an early run 6 s before the phase stands for it");
    const inStep = new SpreadSchedule(60_000, { spread: 0, startWindowMs: 30_000 });
    assert.deepEqual([inStep.phaseMs, inStep.firstRunMs, inStep.nextRunAfter(0)], [0, 0, 60_000], "spread 0: at start, then every interval");
  });
});

import assert from "node:assert/strict";
import { seededRandom } from "@ringwatch/shared";
import { DEFAULT_THRESHOLDS, detectBursts, detectLeak, detectVcpuAbuse, linearFit } from "../../src/index.js";
import type { Point } from "../../src/index.js";

const T = DEFAULT_THRESHOLDS;
const series = (n: number, stepMs: number, f: (i: number) => number, t0 = 0): Point[] => Array.from({ length: n }, (_, i) => ({ at: t0 + i * stepMs, value: f(i) }));

describe("nanoprobe/analytics/detectors", () => {
  const rand = seededRandom(42);

  it("flags a miner: vCPUs saturated for minutes while another domain's vCPUs wait (steal)", () => {
    const now = 240_000;
    const busy = series(241, 1000, () => 0.97 + rand() * 0.03);
    const stealing = new Map([["victim", series(241, 1000, () => 0.08 + rand() * 0.02)], ["calm", series(241, 1000, () => 0.001)]]);
    const ev = detectVcpuAbuse(busy, stealing, T, now);
    assert.ok(ev);
    assert.deepEqual(ev.victims.map((v) => v.domain), ["victim"]);
    assert.ok(ev.vcpuBusy > 0.96);
  });

  it("does not flag a busy domain that hurts nobody, a short burst of work, or a dip in saturation", () => {
    const now = 240_000;
    const busy = series(241, 1000, () => 0.99);
    assert.equal(detectVcpuAbuse(busy, new Map([["calm", series(241, 1000, () => 0.01)]]), T, now), undefined);
    const stealing = new Map([["victim", series(241, 1000, () => 0.2)]]);
    assert.equal(detectVcpuAbuse(series(60, 1000, () => 0.99, 180_000), stealing, T, now), undefined, "one minute is not 'for minutes'");
    const dip = series(241, 1000, (i) => (i === 200 ? 0.5 : 0.99));
    assert.equal(detectVcpuAbuse(dip, stealing, T, now), undefined);
  });

  it("flags steady memory growth and not a flat or noisy series", () => {
    const now = 30 * 60_000;
    const leak = series(181, 10_000, (i) => 1_000_000 + i * 400 + rand() * 100); // 400 KiB / 10 s = 2.4 MiB/min
    const ev = detectLeak(leak, T, now);
    assert.ok(ev);
    assert.ok(Math.abs(ev.slopeKiBPerMin - 2400) < 50, String(ev.slopeKiBPerMin));
    assert.ok(ev.r2 > 0.99);
    assert.equal(detectLeak(series(181, 10_000, () => 1_000_000 + rand() * 50_000), T, now), undefined, "noise");
    assert.equal(detectLeak(series(181, 10_000, (i) => 1_000_000 + i * 10), T, now), undefined, "too slow to matter");
    assert.equal(detectLeak(series(30, 10_000, (i) => 1_000_000 + i * 400), T, now), undefined, "window not yet covered");
  });

  it("finds micro-bursts at 0.1 s sampling that vanish in the minute's average", () => {
    // one minute at 0.1 s: 1 MB/s baseline, two bursts of 300 ms at 80 MB/s
    const rate = series(600, 100, (i) => ((i >= 100 && i < 103) || (i >= 400 && i < 403) ? 80e6 : 1e6 + rand() * 1e5));
    const bursts = detectBursts(rate, T);
    assert.equal(bursts.length, 2);
    assert.ok(bursts.every((b) => b.peakBytesPerSec === 80e6 && b.durationMs <= 300));
    const mean = bursts[0].meanBytesPerSec;
    assert.ok(mean < 2e6, `the minute's average (${mean}) hides them`);
    // sustained load is not a burst; an idle NIC's blips are not bursts
    assert.equal(detectBursts(series(600, 100, (i) => (i >= 100 && i < 300 ? 80e6 : 1e6)), T).length, 0);
    assert.equal(detectBursts(series(600, 100, (i) => (i === 50 ? 5e5 : 1e3)), T).length, 0);
  });

  it("fits lines exactly", () => {
    const f = linearFit(series(10, 1000, (i) => 5 + 2 * i));
    assert.ok(Math.abs(f.slopePerMs - 0.002) < 1e-12);
    assert.ok(Math.abs(f.r2 - 1) < 1e-12);
  });
});

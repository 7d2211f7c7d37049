import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import Database from "better-sqlite3";
import { silentLogger } from "@ringwatch/shared";
import { HistoryRollupRetention, HistoryStore, querySeries } from "../../src/index.js";
import type { HistoryRow } from "../../src/index.js";
import { DAY, GUEST, HOUR, Host, MIN, T0, intake, tempDir } from "./history-fixture.js";

const ref = (metric: string) => ({ host: "hv1", domain: GUEST, metric });
/** Interval k's cpu samples in per-mille of a CPU: varied, with a spike now and then. */
const cpuSamples = (k: number): number[] => Array.from({ length: 6 }, (_, i) => ((k * 37 + i * 101) % 400) + (i === k % 6 && k % 7 === 0 ? 2000 : 0));

/** What buckets of raw intervals must be: min of mins, max of maxes, count-weighted average. */
function aggregate(rows: HistoryRow[]): Omit<HistoryRow, "t"> {
  const count = rows.reduce((s, r) => s + r.count, 0);
  return { count, min: Math.min(...rows.map((r) => r.min)), max: Math.max(...rows.map((r) => r.max)), avg: rows.reduce((s, r) => s + r.avg * r.count, 0) / count };
}
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

describe("cma/history/history-store", () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps a batch's exact min/avg/max in the series' units", () => {
    const { stats, history } = intake(dir);
    try {
      const hv1 = new Host("hv1");
      assert.equal(stats.apply("hv1", hv1.batch(T0, { cpu: [250, 500, 1500], "net.tap0.tx.bytes": [10, 30], "balloon.rss": [2048, 4096] })), true);
      const cpu = querySeries(history, { ...ref("cpu"), from: T0, to: T0 + MIN, points: 100 }, { fullDays: 7, hourlyDays: 90 }, T0 + MIN)!;
      assert.deepEqual({ resolution: cpu.resolution, bucketMs: cpu.bucketMs, kind: cpu.kind, unit: cpu.unit }, { resolution: "interval", bucketMs: null, kind: "cpu", unit: "CPU" });
      assert.deepEqual(cpu.rows, [{ t: T0, count: 3, min: 0.25, avg: 0.75, max: 1.5 }]);
      const net = querySeries(history, { ...ref("net.tap0.tx.bytes"), from: T0, to: T0 + MIN, points: 100 }, { fullDays: 7, hourlyDays: 90 }, T0 + MIN)!;
      assert.deepEqual(net.rows, [{ t: T0, count: 2, min: 10, avg: 20, max: 30 }]);
      assert.deepEqual(history.list("hv1").map((s) => s.metric), ["balloon.rss", "cpu", "net.tap0.tx.bytes"]);
      assert.equal(querySeries(history, { ...ref("memory"), from: T0, to: T0 + MIN, points: 100 }, { fullDays: 7, hourlyDays: 90 }, T0), undefined);
    } finally {
      history.close();
    }
  });

  it("buckets many intervals: min of mins, max of maxes, count-weighted avg; raw rows when they fit", () => {
    const { stats, history } = intake(dir);
    try {
      const hv1 = new Host("hv1");
      const raw: number[][] = [];
      for (let k = 0; k < 120; k++) {
        const xs = cpuSamples(k).slice(0, 1 + (k % 6)); // counts 1…6: the average must be weighted
        raw.push(xs);
        assert.equal(stats.apply("hv1", hv1.batch(T0 + k * MIN, { cpu: xs })), true);
      }
      const o = { fullDays: 7, hourlyDays: 90 };
      const all = querySeries(history, { ...ref("cpu"), from: T0, to: T0 + 2 * HOUR, points: 120 }, o, T0 + 2 * HOUR)!;
      assert.equal(all.bucketMs, null);
      assert.equal(all.rows.length, 120);
      const b = querySeries(history, { ...ref("cpu"), from: T0, to: T0 + 2 * HOUR, points: 12 }, o, T0 + 2 * HOUR)!;
      assert.equal(b.bucketMs, 10 * MIN);
      assert.equal(b.rows.length, 12);
      for (let i = 0; i < 12; i++) {
        const want = aggregate(all.rows.slice(i * 10, i * 10 + 10));
        const got = b.rows[i];
        assert.equal(got.t, T0 + i * 10 * MIN);
        assert.equal(got.count, want.count);
        assert.equal(got.min, want.min);
        assert.equal(got.max, want.max);
        assert.ok(close(got.avg, want.avg), `bucket ${i}: avg ${got.avg} ≠ ${want.avg}`);
        // and against the raw samples themselves: min/max exact, avg within the wire's half unit
        const xs = raw.slice(i * 10, i * 10 + 10).flat();
        assert.equal(got.min, Math.min(...xs) / 1000);
        assert.equal(got.max, Math.max(...xs) / 1000);
        assert.ok(Math.abs(got.avg - xs.reduce((s, x) => s + x, 0) / xs.length / 1000) <= 0.0005);
      }
    } finally {
      history.close();
    }
  });

  it("the job rolls up each hour (once, late batches included) and expires points, then rollups, then the series", async () => {
    const { stats, history } = intake(dir);
    const retention = new HistoryRollupRetention(history, { fullDays: 1, hourlyDays: 2, everyMs: HOUR }, silentLogger());
    try {
      const hv1 = new Host("hv1");
      for (let k = 0; k < 180; k++) if (k !== 30) stats.apply("hv1", hv1.batch(T0 + k * MIN, { cpu: cpuSamples(k).slice(0, 1 + (k % 6)) })); // counts 1…6
      const id = history.series(ref("cpu"))!;
      await retention.run(T0 + 3 * HOUR);
      assert.deepEqual(history.pendingRollups(), []);
      // interval 30 arrives late (a resend after an outage): its hour is rolled up again, once
      history.write({ host: "hv1", intervalStart: T0 + 30 * MIN, intervalMs: MIN, points: [{ domain: GUEST, metric: "cpu", kind: "cpu", count: 6, min: 0.001, avg: 0.002, max: 3 }] });
      assert.equal(history.pendingRollups().length, 1);
      await retention.run(T0 + 3 * HOUR);
      await retention.run(T0 + 3 * HOUR);
      const points = history.rows("points", id, T0, T0 + 3 * HOUR);
      const hours = history.rows("hourly", id, T0, T0 + 3 * HOUR);
      assert.equal(hours.length, 3);
      for (let h = 0; h < 3; h++) {
        const want = aggregate(points.slice(h * 60, h * 60 + 60));
        assert.equal(hours[h].t, T0 + h * HOUR);
        assert.deepEqual({ ...hours[h], avg: 0 }, { t: T0 + h * HOUR, ...want, avg: 0 });
        assert.ok(close(hours[h].avg, want.avg));
      }
      // a day and 90 minutes later: the first 90 intervals are past the full resolution's day
      await retention.run(T0 + DAY + 90 * MIN);
      assert.equal(history.rows("points", id, 0, T0 + 4 * HOUR).length, 90);
      assert.equal(history.rows("points", id, 0, T0 + 4 * HOUR)[0].t, T0 + 90 * MIN);
      assert.equal(history.count("hourly", id, 0, T0 + 4 * HOUR), 3);
      // a range reaching back before that day is charted from the rollups
      const old = querySeries(history, { ...ref("cpu"), from: T0, to: T0 + 3 * HOUR, points: 100 }, { fullDays: 1, hourlyDays: 2 }, T0 + DAY + 90 * MIN)!;
      assert.equal(old.resolution, "hourly");
      assert.deepEqual(old.rows, hours);
      // past two days: everything goes, and with it the series
      await retention.run(T0 + 2 * DAY + 3 * HOUR + 1);
      assert.equal(history.rows("points", id, 0, T0 + 4 * HOUR).length, 0);
      assert.equal(history.count("hourly", id, 0, T0 + 4 * HOUR), 0);
      assert.deepEqual(history.list("hv1"), []);
      assert.deepEqual({ points: retention.counters.pointsDeleted, rollups: retention.counters.rollupsDeleted, hours: retention.counters.hoursRolledUp }, { points: 180, rollups: 3, hours: 4 });
    } finally {
      await retention.stop();
      history.close();
    }
  });

  it("forgets a guest's series once its rollups expire while its host goes on; series with points not yet rolled up stay", async () => {
    const { stats, history } = intake(dir);
    const job = new HistoryRollupRetention(history, { fullDays: 1, hourlyDays: 1, everyMs: HOUR }, silentLogger());
    const point = (domain: string, t: number) => history.write({ host: "hv1", intervalStart: t, intervalMs: MIN, points: [{ domain, metric: "cpu", kind: "cpu", count: 1, min: 1, avg: 1, max: 1 }] });
    try {
      stats.apply("hv1", new Host("hv1").batch(T0, { cpu: [100] }, "gone-guest"));
      await job.run(T0 + HOUR);
      // two days on the host reports two other guests, in hours not rolled up yet (the last one under way)
      point(GUEST, T0 + 2 * DAY);
      point(GUEST, T0 + 2 * DAY + HOUR);
      point("new-guest", T0 + 2 * DAY + HOUR);
      for (const id of history.seriesIds(0, 100)) history.expireSeries(id, T0 + DAY + 2 * HOUR);
      assert.deepEqual(history.list("hv1").map((s) => s.domain), [GUEST, "new-guest"]);
      await job.run(T0 + 2 * DAY + HOUR + MIN);
      assert.deepEqual(history.list("hv1").map((s) => s.domain), [GUEST, "new-guest"]);
    } finally {
      await job.stop();
      history.close();
    }
  });

  it("keeps its history across close and reopen, and a batch delivered again is not counted twice", () => {
    const hv1 = new Host("hv1");
    const first = intake(dir);
    first.stats.apply("hv1", hv1.batch(T0, { cpu: [100, 300] }));
    first.history.close();
    const again = new HistoryStore(dir, silentLogger());
    try {
      const id = again.series(ref("cpu"))!;
      assert.deepEqual(again.rows("points", id, T0, T0 + MIN), [{ t: T0, count: 2, min: 0.1, avg: 0.2, max: 0.3 }]);
      // the same interval again (a crash between the event and the saved stream position)
      again.write({ host: "hv1", intervalStart: T0, intervalMs: MIN, points: [{ domain: GUEST, metric: "cpu", kind: "cpu", count: 2, min: 0.1, avg: 0.2, max: 0.3 }] });
      assert.equal(again.counters.duplicatePoints, 1);
      assert.equal(again.counters.pointsWritten, 0);
      assert.deepEqual(again.rows("points", id, T0, T0 + HOUR), [{ t: T0, count: 2, min: 0.1, avg: 0.2, max: 0.3 }]);
      // a new series after reopening gets its own id
      again.write({ host: "hv1", intervalStart: T0 + MIN, intervalMs: MIN, points: [{ domain: GUEST, metric: "balloon.rss", kind: "memory", count: 1, min: 5, avg: 5, max: 5 }] });
      assert.deepEqual(again.list("hv1").map((s) => s.metric), ["balloon.rss", "cpu"]);
    } finally {
      again.close();
    }
  });

  it("a failed write is counted and tried again with the next batch; the stats intake goes on", () => {
    const { stats, history } = intake(dir);
    const other = new Database(history.path); // another process holding the write lock
    try {
      const hv1 = new Host("hv1");
      other.exec("BEGIN IMMEDIATE");
      assert.equal(stats.apply("hv1", hv1.batch(T0, { cpu: [100] })), true);
      assert.equal(stats.counters.batches, 1);
      assert.equal(stats.latest("hv1")?.intervalStart, T0);
      assert.deepEqual({ errors: history.counters.writeErrors, pending: history.counters.pending, written: history.counters.batchesWritten }, { errors: 1, pending: 1, written: 0 });
      other.exec("COMMIT");
      assert.equal(stats.apply("hv1", hv1.batch(T0 + MIN, { cpu: [200] })), true);
      assert.deepEqual({ errors: history.counters.writeErrors, pending: history.counters.pending, written: history.counters.batchesWritten }, { errors: 1, pending: 0, written: 2 });
      const id = history.series(ref("cpu"))!;
      assert.deepEqual(history.rows("points", id, T0, T0 + 2 * MIN).map((r) => r.avg), [0.1, 0.2]);
    } finally {
      other.close();
      history.close();
    }
  });
});

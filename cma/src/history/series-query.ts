/**
 * One series over a time range at the resolution the range needs: the stored intervals themselves
 * when at most `points` of them fall in it, otherwise buckets of a round length (1 min … 1 day,
 * then whole days) from `from` on, each the min of mins, max of maxes, and the count-weighted
 * average (the mean of every raw sample in it). A range that starts before the full resolution's
 * retention is answered from the hourly rollups as a whole (one resolution per answer; hours
 * starting in the range; the hour under way once the rollup job has been over it).
 */
import { catalogued } from "@ringwatch/shared";
import type { MetricKind } from "@ringwatch/shared";
import { HOUR_MS } from "./history-store.js";
import type { HistoryRow, HistoryStore, SeriesRef } from "./history-store.js";
import { retentionCutoffs } from "./rollup-retention.js";

const MIN_MS = 60_000;
/** Bucket lengths a chart reads easily; past the last, whole days. */
const ROUND_BUCKETS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MIN_MS);

export interface SeriesRange extends SeriesRef {
  /** [from, to), ms since the epoch */
  from: number;
  to: number;
  /** most rows the answer may hold */
  points: number;
}

export interface SeriesAnswer extends SeriesRef {
  kind: MetricKind;
  /** the catalogue's unit (CPUs, B/s, KiB …), or null for a series it does not name */
  unit: string | null;
  from: number;
  to: number;
  /** "interval": the nanoprobes' report intervals; "hourly": the hourly rollups */
  resolution: "interval" | "hourly";
  /** the bucket length when rows were aggregated, null when they are the stored rows themselves */
  bucketMs: number | null;
  /** t: start of the interval, hour or bucket (ms) */
  rows: HistoryRow[];
}

/** The smallest round bucket that fits the range into `points` buckets. */
export function bucketLength(spanMs: number, points: number): number {
  const need = Math.ceil(spanMs / points);
  return ROUND_BUCKETS.find((b) => b >= need) ?? Math.ceil(need / ROUND_BUCKETS[ROUND_BUCKETS.length - 1]) * ROUND_BUCKETS[ROUND_BUCKETS.length - 1];
}

/** The answer, or undefined when the series has no history. */
export function querySeries(store: HistoryStore, q: SeriesRange, retention: { fullDays: number; hourlyDays: number }, now = Date.now()): SeriesAnswer | undefined {
  const s = store.series(q);
  if (!s) return undefined;
  const hourly = q.from < retentionCutoffs(retention, now).pointsSince;
  const table = hourly ? "hourly" : "points";
  const from = hourly ? Math.floor(q.from / HOUR_MS) * HOUR_MS : q.from;
  const fits = store.count(table, s, from, q.to) <= q.points;
  const bucketMs = fits ? null : Math.max(bucketLength(q.to - from, q.points), hourly ? HOUR_MS : 0);
  return {
    host: s.host, domain: s.domain, metric: s.metric, kind: s.kind, unit: catalogued(s.metric)?.entry.unit ?? null,
    from: q.from, to: q.to, resolution: hourly ? "hourly" : "interval", bucketMs,
    rows: bucketMs === null ? store.rows(table, s, from, q.to) : store.buckets(table, s, from, q.to, bucketMs),
  };
}

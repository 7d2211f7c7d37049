/** A stats event as the history keeps it: each series' min/avg/max back in its units (CPUs, per second, KiB). */
import { dequantize } from "@ringwatch/shared";
import type { StatsEvent } from "../intake/stats-store.js";
import type { HistoryBatch } from "./history-store.js";

export function historyBatch(e: StatsEvent): HistoryBatch {
  return {
    host: e.host,
    intervalStart: e.batch.intervalStart,
    intervalMs: e.batch.intervalMs,
    points: e.batch.series.map((s) => ({
      domain: s.domain, metric: s.metric, kind: s.kind, count: s.data.count,
      min: dequantize(s.kind, s.data.min), avg: dequantize(s.kind, s.data.avg), max: dequantize(s.kind, s.data.max),
    })),
  };
}

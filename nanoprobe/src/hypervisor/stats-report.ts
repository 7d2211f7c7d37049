/**
 * One report interval's samples → one stats batch: each series quantized per metric kind and
 * summarized to count/min/max/sum (shared/src/metrics). The agent's StatsBatchSender encodes it
 * (a delta against the previous batch) when it can be sent. Only the summary is made: the compacted
 * values are the receiver's to rebuild (compactSummary), the sender never needs them.
 */
import { compactShape, metricKind, quantize, summarizeSamples } from "@ringwatch/shared";
import type { MetricKind, SeriesSummary, StatsBatch } from "@ringwatch/shared";
import type { SeriesSamples } from "./sampler.js";

/** Metric name → kind: the same few hundred names every interval, each looked up in the catalogue once. */
const KINDS = new Map<string, MetricKind>();
/** Past this many names the cache stops growing (device names come and go with hotplug). */
const MAX_KINDS = 100_000;

function kindOf(metric: string): MetricKind {
  let k = KINDS.get(metric);
  if (k === undefined) {
    k = metricKind(metric);
    if (KINDS.size < MAX_KINDS) KINDS.set(metric, k);
  }
  return k;
}

export function buildStatsBatch(series: Map<string, SeriesSamples>, intervalStart: number, intervalMs: number): { batch: StatsBatch<SeriesSummary>; skipped: number } {
  const out: StatsBatch<SeriesSummary> = { intervalStart, intervalMs, series: [] };
  let skipped = 0;
  const q: number[] = []; // one list for every series' quantized values, reused
  for (const [key, { at, values }] of series) {
    const n = values.length;
    if (n === 0) continue;
    const slash = key.indexOf("/");
    const domain = key.slice(0, slash);
    const metric = key.slice(slash + 1);
    const kind = kindOf(metric);
    try {
      q.length = n;
      for (let i = 0; i < n; i++) q[i] = quantize(kind, values[i]);
      const data = summarizeSamples(q, at[0], at[n - 1]);
      compactShape(data); // a summary no receiver could expand is skipped here, not refused with the whole batch
      out.series.push({ domain, metric, kind, data });
    } catch {
      skipped++; // a value out of the codec's range: never a reason to lose the rest
    }
  }
  return { batch: out, skipped };
}

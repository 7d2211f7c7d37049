/**
 * One report interval's samples → one stats batch: each series quantized per metric kind and
 * compacted to count/min/max/sum (shared/src/metrics). The agent's StatsBatchSender encodes it
 * (a delta against the previous batch) when it can be sent.
 */
import { compactSamples, metricKind, quantize } from "@ringwatch/shared";
import type { StatsBatch } from "@ringwatch/shared";
import type { SamplePoint } from "./sampler.js";

export function buildStatsBatch(series: Map<string, SamplePoint[]>, intervalStart: number, intervalMs: number): { batch: StatsBatch; skipped: number } {
  const out: StatsBatch = { intervalStart, intervalMs, series: [] };
  let skipped = 0;
  for (const [key, points] of series) {
    if (points.length === 0) continue;
    const slash = key.indexOf("/");
    const domain = key.slice(0, slash);
    const metric = key.slice(slash + 1);
    const kind = metricKind(metric);
    try {
      const q = points.map((p) => quantize(kind, p.value));
      out.series.push({ domain, metric, kind, data: compactSamples(q, points[0].at, points[points.length - 1].at) });
    } catch {
      skipped++; // a value out of the codec's range: never a reason to lose the rest
    }
  }
  return { batch: out, skipped };
}

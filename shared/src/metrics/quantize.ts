/**
 * Per-kind quantization of metric values to integers before compaction and encoding.
 *
 * Quantizing FIRST and compacting the integers means min, max and the sum (hence avg) of what the
 * receiver decodes are exactly those of the quantized samples; the only loss is the rounding of
 * each sample, bounded per kind:
 *   cpu    input: CPUs busy (CPU-seconds per wall second; 1 = one full CPU). Stored in per-mille
 *          of one CPU: precision 0.001 CPU, error ≤ 0.0005 CPU (0.05 percentage points).
 *          Used for the domain's `cpu` and every `vcpu.N.time` / `vcpu.N.delay`.
 *   rate   input: per second (bytes, packets, requests, errors, drops). Stored as an integer per
 *          second: error ≤ 0.5/s.
 *   memory input: KiB (libvirt's own unit). Stored as integer KiB: error ≤ 0.5 KiB.
 *   integer anything else: rounded to the nearest integer.
 */
import { catalogued } from "./catalogue.js";

export type MetricKind = "cpu" | "rate" | "memory" | "integer";

/** Wire codes; append only. */
export const METRIC_KINDS: readonly MetricKind[] = ["cpu", "rate", "memory", "integer"];

/** |quantized value| limit: deltas and zigzag of two such values stay exact doubles (< 2^53). */
export const MAX_QUANTIZED = 2 ** 50;

const SCALE: Record<MetricKind, number> = { cpu: 1000, rate: 1, memory: 1, integer: 1 };

/**
 * A metric's kind: the catalogue's for the series the sampler makes (catalogue.ts); for any other
 * name, the kind its shape implies (`cpu.*`, a rate suffix, `mem*` …).
 */
export function metricKind(metric: string): MetricKind {
  return catalogued(metric)?.entry.kind ?? kindByShape(metric);
}

function kindByShape(metric: string): MetricKind {
  if (metric === "cpu" || metric.startsWith("cpu.") || /^vcpu\.\d+\.(time|delay|wait)$/.test(metric)) return "cpu";
  if (/\.(bytes|packets|pkts|reqs|requests|errs|errors|drop|drops)$/.test(metric)) return "rate";
  if (metric.startsWith("mem") || metric.startsWith("balloon.")) return "memory";
  return "integer";
}

export function quantize(kind: MetricKind, value: number): number {
  const q = Math.round(value * SCALE[kind]);
  if (!Number.isFinite(q) || Math.abs(q) > MAX_QUANTIZED) throw new RangeError(`quantize: ${value} out of range for ${kind}`);
  return q === 0 ? 0 : q; // no -0 on the wire
}

export function dequantize(kind: MetricKind, q: number): number {
  return q / SCALE[kind];
}

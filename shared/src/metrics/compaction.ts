/**
 * Min/max/avg-preserving compaction of one series over one report interval.
 *
 * Zabbix draws min, avg and max of the values stored per time slot, so instead of one average per
 * interval (which hides a 2-second spike in a 60-second report) we send the SMALLEST multiset of
 * values whose min, max and average equal the raw samples'. It always has the shape
 *   k × min, m × max and at most one value c strictly between (k, m ≥ 1 when min < max).
 *
 * The math. Let the raw samples have count n, min a, max b (a < b), width W = b − a and
 * excess E = Σ(xᵢ − a), so avg = a + E/n. Write p = E/(nW) ∈ (0, 1) for where avg sits in [a, b].
 * A multiset of size N with that min/max/avg must have Σ(vᵢ − a) = N·E/n, i.e. in units of W:
 *   m·1 + j·f = u,  where u = N·p, c = a + f·W, f ∈ (0, 1), j ∈ {0, 1}, k = N − m − j ≥ 1, m ≥ 1.
 * - u is an integer: take m = u, j = 0, k = N − u; valid iff 1 ≤ u ≤ N − 1.
 * - u is not an integer: take m = ⌊u⌋, j = 1, f = u − m, k = N − 1 − m; valid iff 1 < u < N − 1.
 * So size N works iff u = N·p ∈ [1, N − 1], and we search N = 2, 3, … for the first that does.
 * Termination by N ≤ n: at N = n, u = E/W = Σ(xᵢ − a)/W; the sample equal to b contributes 1 and
 * the one equal to a contributes 0 while every other contributes a number in [0, 1], hence
 * 1 ≤ u ≤ n − 1. Minimality holds even among ALL multisets (not just this shape): any multiset of
 * size N with min a and max b holds one a, one b and N − 2 values in [a, b], whose excess can be
 * anything in [W, (N − 1)W] and nothing else, i.e. again exactly u ∈ [1, N − 1].
 * Equivalently N = max(2, ⌈1/p⌉, ⌈1/(1 − p)⌉). We still search (it is obviously right under
 * floating point), but start just below that bound: sizes under max(1/p, 1/(1 − p))·(1 − 1e-6) − 1
 * fail even with snapping and the rounding of 1/p, so skipping them keeps the result minimal and
 * a hostile summary (count 4M, one spike) costs a few iterations, not millions.
 *
 * Floating point: E is summed with Neumaier compensation of (xᵢ − a), so for integer samples
 * (the quantized case, see quantize.ts) it is exact and the receiver recomputes avg exactly from
 * (count, min, excess). For integer data (N·E and n·W below 2^53) "is u an integer" is decided
 * exactly with an integer remainder. Otherwise u within SNAP·max(1, u) of an integer
 * (SNAP = 1e-12, a few thousand ulps) is treated as that integer: the avg moves by at most
 * W·SNAP ≪ 1e-9 of the magnitude. A c that rounds onto a or b is folded into k or m. The result is asserted: |avg' − avg| ≤ 1e-9·max(1, |min|, |max|).
 */

/** Samples are limited so that n·(max − min) cannot overflow a double. */
export const MAX_COMPACT_SAMPLE = 2 ** 1000;
export const MAX_COMPACT_COUNT = 2 ** 22;
const SNAP = 1e-12;
const AVG_TOLERANCE = 1e-9;

/** What a receiver needs to rebuild the compacted values: exact for integer samples. */
export interface SeriesSummary {
  /** Raw samples in the interval (≥ 1). */
  count: number;
  /** Time of the first and last raw sample (the caller's clock unit, e.g. ms since epoch). */
  firstTime: number;
  lastTime: number;
  min: number;
  max: number;
  /** Σ(sample − min); avg = min + excess / count. */
  excess: number;
}

export interface CompactedSeries extends SeriesSummary {
  /** Average of the raw samples (min + excess / count). */
  avg: number;
  minCount: number;
  /** 0 when min === max (then `values` is the single value). */
  maxCount: number;
  /** The one value strictly between min and max, or null. */
  between: number | null;
  /** minCount × min, then `between` if any, then maxCount × max. */
  values: number[];
}

/** Compensated sum of (x − base): exact for integers below 2^53, ~1 ulp otherwise. */
function excessOver(samples: ArrayLike<number>, base: number): number {
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i] - base;
    const t = sum + x;
    comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  return sum + comp;
}

/** Compact the raw samples of one series taken between firstTime and lastTime. */
export function compactSamples(samples: ArrayLike<number>, firstTime = 0, lastTime = firstTime): CompactedSeries {
  return compactSummary(summarizeSamples(samples, firstTime, lastTime));
}

/**
 * The summary of the raw samples (what the wire carries) without the compacted values: a sender
 * that only encodes needs no more. Same checks as compactSamples except the shape's (compactShape).
 */
export function summarizeSamples(samples: ArrayLike<number>, firstTime = 0, lastTime = firstTime): SeriesSummary {
  const n = samples.length;
  if (n < 1) throw new RangeError("compactSamples: at least one sample is needed");
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = samples[i];
    if (!Number.isFinite(x) || Math.abs(x) > MAX_COMPACT_SAMPLE) {
      throw new RangeError(`compactSamples: sample ${i} is ${x} (finite, |x| ≤ 2^1000 required)`);
    }
    if (x < min) min = x;
    if (x > max) max = x;
  }
  // excess can never exceed (n − 1)·W; clamp the last-ulp error of the float sum
  const excess = min === max ? 0 : Math.min(Math.max(excessOver(samples, min), max - min), (n - 1) * (max - min));
  return { count: n, firstTime, lastTime, min, max, excess };
}

/** The shape of the compacted multiset, without materialising it. */
export interface CompactShape {
  minCount: number;
  maxCount: number;
  between: number | null;
}

/** Shape for a summary (validated); O(1) in count. Throws RangeError on an impossible summary. */
export function compactShape(s: SeriesSummary): CompactShape {
  const { count: n, min: a, max: b, excess: e } = s;
  if (!Number.isInteger(n) || n < 1 || n > MAX_COMPACT_COUNT) throw new RangeError(`compactSummary: bad count ${n}`);
  if (!(Number.isFinite(a) && Number.isFinite(b) && a <= b && Math.abs(a) <= MAX_COMPACT_SAMPLE && Math.abs(b) <= MAX_COMPACT_SAMPLE)) {
    throw new RangeError(`compactSummary: bad min/max ${a}/${b}`);
  }
  if (a === b || n === 1) {
    if (a !== b || e !== 0) throw new RangeError("compactSummary: one sample or min = max needs max = min and excess 0");
    return { minCount: 1, maxCount: 0, between: null };
  }
  const w = b - a;
  // real samples have one at max (excess ≥ W) and one at min (excess ≤ (n − 1)W)
  if (!(e >= w && e <= (n - 1) * w)) throw new RangeError(`compactSummary: excess ${e} outside [${w}, ${(n - 1) * w}]`);
  const p = e / n / w;
  const d = n * w;
  const exact = Number.isSafeInteger(e) && Number.isSafeInteger(d) && Number.isInteger(w);
  const start = Math.max(2, Math.floor(Math.max(1 / p, 1 / (1 - p)) * (1 - 1e-6)) - 1);
  for (let size = start; size <= n; size++) {
    let m: number;
    let f: number;
    const q = size * e;
    if (exact && Number.isSafeInteger(q)) {
      const rem = q % d; // exact for safe integers
      m = (q - rem) / d;
      f = rem / d;
    } else {
      const u = size * p;
      m = Math.round(u);
      f = u - m;
      if (Math.abs(f) <= SNAP * Math.max(1, u)) f = 0;
      else if (f < 0) {
        m -= 1;
        f += 1;
      }
    }
    if (f === 0) {
      if (m >= 1 && m <= size - 1) return { minCount: size - m, maxCount: m, between: null };
      continue;
    }
    if (m < 1 || m > size - 2) continue; // u ∈ (1, size − 1)
    const c = a + f * w;
    // f·W below one ulp of a or b: the value IS a or b in floating point
    if (c <= a) return { minCount: size - m, maxCount: m, between: null };
    if (c >= b) return { minCount: size - 1 - m, maxCount: m + 1, between: null };
    return { minCount: size - 1 - m, maxCount: m, between: c };
  }
  throw new Error(`compactSummary: no size ≤ ${n} found (p = ${p}); this is a bug`);
}

/** The compacted values for a summary; also what a receiver runs on a decoded batch. */
export function compactSummary(s: SeriesSummary, shape: CompactShape = compactShape(s)): CompactedSeries {
  const { min: a, max: b } = s;
  const avg = a + s.excess / s.count;
  const { minCount: k, maxCount: m, between } = shape;
  const values = new Array<number>(k).fill(a);
  if (between !== null) values.push(between);
  for (let i = 0; i < m; i++) values.push(b);
  if (m > 0) {
    const size = values.length;
    const got = a + (m * (b - a) + (between === null ? 0 : between - a)) / size;
    if (Math.abs(got - avg) > AVG_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b))) {
      throw new Error(`compactSummary: average drifted (${got} vs ${avg}); this is a bug`);
    }
  }
  return { ...s, avg: m > 0 ? avg : a, minCount: k, maxCount: m, between, values };
}

/** Spread compacted values evenly over [firstTime, lastTime] (one value: at lastTime). */
export function placeInTime(c: CompactedSeries): { time: number; value: number }[] {
  const len = c.values.length;
  if (len === 1) return [{ time: c.lastTime, value: c.values[0] }];
  const step = (c.lastTime - c.firstTime) / (len - 1);
  return c.values.map((value, i) => ({ time: i === len - 1 ? c.lastTime : c.firstTime + i * step, value }));
}

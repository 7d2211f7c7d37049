/**
 * How a stats batch predicts each value it codes (batch-codec.ts codes only the difference from the
 * prediction, with a range coder told how large that difference usually is). Encoder and decoder
 * run exactly this code on the decoded values, so they make the same predictions bit for bit
 * (IEEE doubles, same operations in the same order).
 *
 * Per series and per column (count, first offset, span, min, max, third) both ends keep:
 *  - the last value and a running mean of the values (most series are noise around a level: the
 *    mean is the better guess there, the last value where the level walks, e.g. a guest's RSS),
 *    and one alternative guess (below);
 *  - for each guess, the running size of its misses: the guess that missed least is used, and
 *    the size of its misses says how many bits the difference will take.
 * The third column is the sum Σx of the samples (exact batches; sent as Σ(x − min), predicted as a
 * mean per sample times the count, so the min moving no longer moves it) or the average rounded to
 * the quantized unit ("unit" batches).
 * Siblings: a guest's `cpu` is predicted from its vCPUs' `vcpu.<n>.time` in the same batch (the
 * sum of theirs plus the usual difference), so it is coded after them.
 * Contexts: the coder's adaptive probabilities are kept per metric family (catalogue entry), so a
 * disk's bytes and a vCPU's time do not share their statistics.
 */
import { METRIC_CATALOGUE, catalogued } from "./catalogue.js";
import type { SeriesKey } from "./key-table.js";
import { IntModel, MAX_CODED_BITS, bitLength } from "./range-coder.js";

export const COLUMNS = 6; // count, first offset, span, min, max, third
const MIN = 3;
const MAX = 4;
const THIRD = 5;
/**
 * Per column: last value, running mean, the alternative guess's level, and the running miss of
 * each guess. The alternative: for max and third, the new min plus their running distance from
 * it; for count and times, the value of the same guest's series coded before in this batch, or of
 * the series coded just before (every series of a sampling pass shares its times, and a pass that
 * missed a guest shortens all of its series).
 */
const LAST = 0;
const MEAN = 1;
const ALT = 2;
const MISS_LAST = 3;
const MISS_MEAN = 4;
const MISS_ALT = 5;
const PER_COLUMN = 6;
/** then how many batches the series has been in (the running means average their first values evenly) */
const AGE = COLUMNS * PER_COLUMN;
export const STATE_WIDTH = AGE + 1;

/** Which of the ideas are on. @internal Only the benchmark turns them off, to show what each one pays. */
export interface CodecTuning {
  /** the running mean as a guess for min, max and third */
  mean: boolean;
  /** max and third also guessed as the new min plus their usual distance from it (a level that walks moves all three) */
  aboveMin: boolean;
  /** count and times also guessed as the guest's (or the previous series') in this batch */
  sharedTimes: boolean;
  /** exact batches: the third column predicted as a mean per sample (else Σ(x − min) as it is) */
  sum: boolean;
  /** a guest's cpu predicted from its vCPUs */
  siblings: boolean;
  /** coder contexts per metric family (else one set for all) */
  families: boolean;
  /** Weight of the latest value in the running mean. */
  meanWeight: number;
}
export const DEFAULT_TUNING: Readonly<CodecTuning> = { mean: true, aboveMin: true, sharedTimes: true, sum: true, siblings: true, families: true, meanWeight: 1 / 4 };

const FAMILIES = METRIC_CATALOGUE.length + 1; // the catalogue's entries, then everything else
const familyIndex = new Map<string, number>(METRIC_CATALOGUE.map((e, i) => [e.series, i]));
function family(metric: string): number {
  const c = catalogued(metric);
  return c ? familyIndex.get(c.entry.series)! : FAMILIES - 1;
}
const SIBLING_OF_CPU = /^vcpu\.\d+\.time$/;

/** The coder's adaptive probabilities: per family and column for series the base has, one set per column for new ones. */
export class Models {
  readonly fromBase: IntModel[][];
  readonly fromNeighbour = Array.from({ length: COLUMNS }, () => new IntModel());

  constructor(families: boolean, from?: Uint16Array) {
    this.fromBase = Array.from({ length: families ? FAMILIES : 1 }, () => Array.from({ length: COLUMNS }, () => new IntModel()));
    if (from) {
      const all = this.all;
      if (from.length !== all.length * all[0].probs.length) throw new RangeError("Models: snapshot of another shape");
      all.forEach((m, i) => m.probs.set(from.subarray(i * m.probs.length, (i + 1) * m.probs.length)));
    }
  }

  private get all(): IntModel[] {
    return [...this.fromBase.flat(), ...this.fromNeighbour];
  }

  snapshot(): Uint16Array {
    const all = this.all;
    const out = new Uint16Array(all.length * all[0].probs.length);
    all.forEach((m, i) => out.set(m.probs, i * m.probs.length));
    return out;
  }
}

/** Codes (or decodes) one value: given the column, its predicted value, model, expected bit length and sign context; returns the value. */
export type CodeValue = (c: number, predicted: number, model: IntModel, k: number, signCtx: number) => number;

const sgn = (d: number): number => (d === 0 ? 0 : d > 0 ? 1 : 2);
const ZERO_ROW = new Float64Array(STATE_WIDTH);

/** What a key table implies for coding, worked out once per table (tables change only when guests or devices do). */
export interface TablePlan {
  /** series indexes in coding order: a guest's `cpu` after its vCPUs (siblings), the rest in key-table order */
  order: number[];
  family: Uint8Array;
  vcpuTime: Uint8Array;
}
const plans = new WeakMap<readonly SeriesKey[], TablePlan>();

export function tablePlan(keys: readonly SeriesKey[]): TablePlan {
  let p = plans.get(keys);
  if (!p) {
    const idx = keys.map((_, i) => i);
    p = {
      order: [...idx.filter((i) => keys[i].metric !== "cpu"), ...idx.filter((i) => keys[i].metric === "cpu")],
      family: Uint8Array.from(keys, (k) => family(k.metric)),
      vcpuTime: Uint8Array.from(keys, (k) => (SIBLING_OF_CPU.test(k.metric) ? 1 : 0)),
    };
    plans.set(keys, p);
  }
  return p;
}

/** The order series are coded in. */
export function codingOrder(keys: readonly SeriesKey[], tuning: CodecTuning): readonly number[] {
  return tuning.siblings ? tablePlan(keys).order : keys.map((_, i) => i);
}

/**
 * Walks one batch's series in coding order, predicting each value from the series' state in the
 * base (or, for a series the base lacks, from the series coded just before: same metric,
 * neighbouring guest), and writes every series' new state into `rows`.
 */
export class SeriesPredictor {
  private neighbour: Float64Array = ZERO_ROW;
  /** per guest: Σ of its vcpu.<n>.time min, max and third (as a value per sample) in this batch */
  private readonly vcpuSums = new Map<string, [number, number, number]>();
  private readonly values = new Array<number>(COLUMNS).fill(0);
  private readonly deltas = new Array<number>(COLUMNS).fill(0);
  private coded = 0;
  /** per guest: count and times of its series coded last in this batch */
  private readonly guestTimes = new Map<string, [number, number, number]>();

  private readonly plan: TablePlan;

  constructor(
    keys: readonly SeriesKey[],
    private readonly models: Models,
    private readonly rows: Float64Array,
    private readonly exact: boolean,
    private readonly tuning: CodecTuning,
  ) {
    this.plan = tablePlan(keys);
  }

  /** Code series i of the table (key k) with its state in the base (undefined: a new series); returns its six values. */
  series(i: number, k: SeriesKey, base: Float64Array | undefined, code: CodeValue): readonly number[] {
    const t = this.tuning;
    const prev = base ?? this.neighbour;
    const ms = base ? this.models.fromBase[t.families ? this.plan.family[i] : 0] : this.models.fromNeighbour;
    const sibling = t.siblings && k.metric === "cpu" ? this.vcpuSums.get(k.domain) : undefined;
    const v = this.values;
    const s = this.rows.subarray(i * STATE_WIDTH, (i + 1) * STATE_WIDTH);
    const guest = this.guestTimes.get(k.domain);
    for (let c = 0; c < COLUMNS; c++) {
      const o = c * PER_COLUMN;
      const offset = sibling && c >= MIN ? sibling[c - MIN] : 0; // what the siblings say, in the column's own terms
      // the guess that missed least lately: the last value, the running mean, or the new min plus the usual distance
      let guess = prev[o + LAST] + offset;
      let miss = prev[o + MISS_LAST];
      if (t.mean && c >= MIN && prev[o + MISS_MEAN] < miss) {
        guess = prev[o + MEAN] + offset;
        miss = prev[o + MISS_MEAN];
      }
      const relative = t.aboveMin && c > MIN;
      if (relative && prev[o + MISS_ALT] < miss) {
        guess = v[MIN] + prev[o + ALT];
        miss = prev[o + MISS_ALT];
      }
      const before = guest ? guest[c] : v[c]; // v[c]: still the previous series' value of this column
      const shared = t.sharedTimes && c < MIN && this.coded > 0;
      if (shared && prev[o + MISS_ALT] <= miss) {
        guess = before;
        miss = prev[o + MISS_ALT];
      }
      const k = Math.min(bitLength(Math.round(miss)), MAX_CODED_BITS);
      const signCtx = c === MAX ? sgn(this.deltas[MIN]) : c === THIRD ? 3 * sgn(this.deltas[MIN]) + sgn(this.deltas[MAX]) : 0;
      const predicted = this.predict(c, guess);
      v[c] = code(c, predicted, ms[c], k, signCtx);
      this.deltas[c] = v[c] - predicted;
      // the new state: the value in the predictor's terms, the misses of every guess
      const level = this.asLevel(c);
      const x = level - offset;
      s[o + LAST] = x;
      if (base) {
        const w = Math.max(1 / (prev[AGE] + 1), t.meanWeight);
        s[o + MEAN] = prev[o + MEAN] + (x - prev[o + MEAN]) * w;
        s[o + MISS_LAST] = (prev[o + MISS_LAST] + Math.abs(v[c] - this.predict(c, prev[o + LAST] + offset))) / 2;
        s[o + MISS_MEAN] = (prev[o + MISS_MEAN] + Math.abs(v[c] - this.predict(c, prev[o + MEAN] + offset))) / 2;
        if (relative) {
          s[o + ALT] = prev[o + ALT] + (level - v[MIN] - prev[o + ALT]) * w;
          s[o + MISS_ALT] = (prev[o + MISS_ALT] + Math.abs(v[c] - this.predict(c, v[MIN] + prev[o + ALT]))) / 2;
        } else if (shared) {
          s[o + MISS_ALT] = (prev[o + MISS_ALT] + Math.abs(v[c] - before)) / 2;
        }
      } else {
        // first sight: the neighbour's distance says nothing about how much this series will move (no guess of its misses)
        s[o + MEAN] = x;
        s[o + ALT] = c > MIN ? level - v[MIN] : 0;
        s[o + MISS_LAST] = s[o + MISS_MEAN] = s[o + MISS_ALT] = 0;
      }
    }
    s[AGE] = base ? base[AGE] + 1 : 1;
    this.coded++;
    if (t.sharedTimes) this.guestTimes.set(k.domain, [v[0], v[1], v[2]]);
    if (t.siblings && this.plan.vcpuTime[i] === 1) {
      const sum = this.vcpuSums.get(k.domain) ?? [0, 0, 0];
      sum[0] += v[MIN];
      sum[1] += v[MAX];
      sum[2] += this.asLevel(THIRD);
      this.vcpuSums.set(k.domain, sum);
    }
    this.neighbour = s;
    return v;
  }

  /**
   * A column's value in the predictor's terms: the sum as a mean per sample (a count that changes
   * by one sample changes the sum, not the level); everything else as it is.
   */
  private asLevel(c: number): number {
    const v = this.values;
    if (c !== THIRD || !this.exact || !this.tuning.sum) return v[c];
    return v[MIN] + v[THIRD] / v[0];
  }

  /** The integer to code against, from a level: the third column's excess from the predicted mean, clamped to what is possible. */
  private predict(c: number, level: number): number {
    if (c !== THIRD) return Math.round(level);
    const [count, , , min, max] = this.values;
    const w = max - min;
    if (!this.exact) return w <= 0 ? min : clamp(Math.round(level), min, max);
    if (w <= 0 || count < 2) return 0;
    const excess = this.tuning.sum ? Math.round((level - min) * count) : Math.round(level);
    const upper = (count - 1) * w;
    const e = clamp(excess, w, upper);
    return Number.isSafeInteger(e) ? e : w;
  }
}

const clamp = (x: number, lo: number, hi: number): number => (!(x >= lo) ? lo : x > hi ? hi : x); // NaN → lo

import assert from "node:assert/strict";
import { compactSamples, compactSummary, placeInTime, seededRandom } from "../../src/index.js";
import type { CompactedSeries } from "../../src/index.js";

/** Every double is an integer times a power of two: scale the whole series to exact BigInts. */
function exactScaled(xs: readonly number[]): bigint[] {
  const ints: number[] = [];
  const exps = xs.map((x) => {
    let e = 0;
    for (; !Number.isInteger(x); e++) x *= 2; // doubling is exact (2 ** e itself would overflow past 1023)
    ints.push(x);
    return e;
  });
  const top = Math.max(...exps);
  return ints.map((x, i) => BigInt(x) << BigInt(top - exps[i]));
}

interface Exact { n: bigint; w: bigint; e: bigint }

function exactOf(xs: readonly number[]): Exact {
  const big = exactScaled(xs);
  let lo = big[0];
  let hi = big[0];
  for (const v of big) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return { n: BigInt(xs.length), w: hi - lo, e: big.reduce((s, v) => s + (v - lo), 0n) };
}

/** Size N admits k·min + m·max (+ one c in (min, max)) with the exact average: closed form. */
function feasible({ n, w, e }: Exact, size: number): boolean {
  const N = BigInt(size);
  return n * w <= N * e && N * e <= (N - 1n) * n * w;
}

/** The same question answered by trying every k, m, j (excess units: Σ(v − min)·n = N·E). */
function feasibleBruteForce({ n, w, e }: Exact, size: number): boolean {
  const N = BigInt(size);
  for (let m = 1; m <= size - 1; m++) {
    for (let j = 0; j <= 1; j++) {
      const k = size - m - j;
      if (k < 1) continue;
      const rest = N * e - BigInt(m) * n * w; // n·(c − min) when j = 1, must be 0 when j = 0
      if (j === 0 ? rest === 0n : rest > 0n && rest < n * w) return true;
    }
  }
  return false;
}

function refAverage(xs: readonly number[]): number {
  let sum = 0;
  let comp = 0;
  for (const x of xs) {
    const t = sum + x;
    comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  return (sum + comp) / xs.length;
}

const stats = { series: 0, bruteForced: 0, snappedBelowExact: 0, maxSize: 0 };

function check(xs: readonly number[]): CompactedSeries {
  const c = compactSamples(xs, 1000, 1000 + (xs.length - 1) * 1000);
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  const label = `series ${JSON.stringify(xs.length > 12 ? [...xs.slice(0, 12), "…"] : xs)} → ${JSON.stringify(c.values)}`;
  assert.equal(c.count, xs.length);
  assert.equal(c.firstTime, 1000);
  assert.equal(c.lastTime, 1000 + (xs.length - 1) * 1000);
  assert.equal(c.min, min, label);
  assert.equal(c.max, max, label);
  assert.equal(Math.min(...c.values), min, label);
  assert.equal(Math.max(...c.values), max, label);
  // shape: minCount × min, at most one strictly between, maxCount × max
  if (min === max) {
    assert.deepEqual(c.values, [min], label);
  } else {
    assert.ok(c.minCount >= 1 && c.maxCount >= 1, label);
    assert.equal(c.values.length, c.minCount + c.maxCount + (c.between === null ? 0 : 1), label);
    assert.ok(c.values.slice(0, c.minCount).every((v) => v === min), label);
    assert.ok(c.values.slice(c.values.length - c.maxCount).every((v) => v === max), label);
    if (c.between !== null) assert.ok(c.between > min && c.between < max, label);
  }
  const tol = 1e-9 * Math.max(1, Math.abs(min), Math.abs(max));
  const want = refAverage(xs);
  assert.ok(Math.abs(refAverage(c.values) - want) <= tol, `${label}: avg ${refAverage(c.values)} vs ${want}`);
  assert.ok(Math.abs(c.avg - want) <= tol, label);
  // minimal: no smaller size works in exact arithmetic (brute force over k, m, j for short series)
  const size = c.values.length;
  if (min !== max) {
    const ex = exactOf(xs);
    const brute = xs.length <= 40;
    if (brute) stats.bruteForced++;
    for (let s = 2; s < size; s++) {
      assert.equal(brute ? feasibleBruteForce(ex, s) : feasible(ex, s), false, `${label}: size ${s} < ${size} works`);
    }
    if (!feasible(ex, size)) stats.snappedBelowExact++; // accepted within SNAP; the avg check above still held
    assert.ok(size <= xs.length, label);
  }
  stats.series++;
  stats.maxSize = Math.max(stats.maxSize, size);
  return c;
}

describe("metrics/compaction", () => {
  it("the worked examples from the operators' write-up", () => {
    assert.deepEqual(compactSamples([12345, 12345, 12345]).values, [12345]);
    assert.deepEqual(compactSamples([10, 20, 30, 40, 50, 50, 40, 30, 20, 10]).values, [10, 50]); // avg 30 = midpoint
    const c = check([10, 10, 30, 10, 50, 10, 40, 10, 20, 10]); // avg 20: 3 × 10 + 50 = 80 = 4 × 20
    assert.deepEqual(c.values, [10, 10, 10, 50]);
    assert.deepEqual(check([0, 0, 1]).values, [0, 0, 1]);
    assert.deepEqual(check([0, 0, 0, 0, 2, 0, 0]).values, [0, 0, 0, 0, 0, 0, 2]); // avg 2/7 needs 7
    assert.deepEqual(check([0, 1, 1, 3]).values, [0, 0.75, 3]); // avg 5/4: 0 + c + 3 = 3 × 5/4
  });

  it("a 2-second spike in a 60-second series at 1 s sampling survives as the max", () => {
    const rand = seededRandom(7);
    const cpu = Array.from({ length: 60 }, () => 40 + Math.round(rand() * 20));
    cpu[31] = 980;
    cpu[32] = 1000;
    const c = check(cpu);
    assert.equal(c.max, 1000);
    assert.ok(c.values.includes(1000) && c.values.length <= 60);
    assert.ok(c.values.length < 30, `${c.values.length} values`);
    const placed = placeInTime(c);
    assert.equal(placed.length, c.values.length);
    assert.equal(placed[0].time, c.firstTime);
    assert.equal(placed[placed.length - 1].time, c.lastTime);
    assert.deepEqual(placeInTime(compactSamples([5, 5], 0, 1000)), [{ time: 1000, value: 5 }]);
  });

  it("preserves min/max/avg with the promised minimal shape over thousands of random series", function () {
    this.timeout(120_000);
    const rand = seededRandom(0xc0ffee);
    const ri = (n: number): number => Math.floor(rand() * n);
    const length = (): number => (rand() < 0.5 ? 1 + ri(40) : 1 + ri(600));
    const gens: ((n: number) => number[])[] = [
      (n) => new Array<number>(n).fill(rand() * 200 - 100), // constant
      (n) => { const a = ri(1000) - 500; const b = a + 1 + ri(1000); return Array.from({ length: n }, () => (rand() < rand() ? a : b)); },
      (n) => Array.from({ length: n }, () => ri(101)), // small integers
      (n) => Array.from({ length: n }, () => ri(2 ** 40) - 2 ** 39), // big integers, negative too
      (n) => Array.from({ length: n }, () => rand() * 1000 - 500), // floats
      (n) => Array.from({ length: n }, () => (rand() - 0.5) * 1e290), // huge
      (n) => Array.from({ length: n }, () => rand() * 1e-300), // tiny (still normal numbers)
      (n) => Array.from({ length: n }, () => -1e6 - rand() * 1e3), // all negative
      (n) => Array.from({ length: n }, () => (rand() < 0.02 ? 1000 : ri(3))), // rare spikes: avg hugs min
      (n) => Array.from({ length: n }, () => (rand() < 0.02 ? 0 : 1000 - ri(3))), // rare dips: avg hugs max
      (n) => Array.from({ length: n }, () => 1e12 + rand() * 1e-2), // big offset, tiny noise
      (n) => Array.from({ length: n }, () => ri(3) * 2 ** -60), // dyadic tiny steps
    ];
    for (let i = 0; i < 6000; i++) check(gens[i % gens.length](length()));
    assert.equal(stats.snappedBelowExact, 0, JSON.stringify(stats));
    assert.ok(stats.bruteForced > 2000, JSON.stringify(stats));
  });

  it("rejects empty, non-finite and inconsistent input", () => {
    assert.throws(() => compactSamples([]), RangeError);
    assert.throws(() => compactSamples([1, NaN]), RangeError);
    assert.throws(() => compactSamples([1, Infinity]), RangeError);
    assert.throws(() => compactSamples([2 ** 1001]), RangeError);
    const ok = { count: 3, firstTime: 0, lastTime: 2, min: 0, max: 1, excess: 1 };
    assert.deepEqual(compactSummary(ok).values, [0, 0, 1]);
    assert.throws(() => compactSummary({ ...ok, excess: 0.5 }), RangeError); // below one max
    assert.throws(() => compactSummary({ ...ok, excess: 2.5 }), RangeError); // above (n − 1)·W
    assert.throws(() => compactSummary({ ...ok, count: 0 }), RangeError);
    assert.throws(() => compactSummary({ ...ok, min: 2 }), RangeError);
    assert.throws(() => compactSummary({ ...ok, count: 1 }), RangeError);
  });
});

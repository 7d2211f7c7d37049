import assert from "node:assert/strict";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import {
  BATCH_MAGIC, BatchCodecError, MAX_COMPACT_COUNT, MAX_QUANTIZED, UnknownKeyTableError, batchKeyTable, compactSamples, compactSummary,
  decodeStatsBatch, dequantize, encodeStatsBatch, metricKind, quantize, seededRandom,
} from "../../src/index.js";
import type { CompactedSeries, KeyTable, StatsBatch } from "../../src/index.js";

const rand = seededRandom(0xba7c4);
const ri = (n: number): number => Math.floor(rand() * n);
const uuid = (): string => Array.from({ length: 32 }, () => ri(16).toString(16)).join("").replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");

const METRICS = ["cpu", "vcpu.0.time", "vcpu.0.delay", "vcpu.1.time", "block.vda.rd.bytes", "block.vda.wr.bytes",
  "net.tap0.rx.bytes", "net.tap0.tx.packets", "balloon.current", "mem.rss", "custom.gauge"];

function randomBatch(maxDomains = 8): StatsBatch {
  const start = 1_700_000_000_000 + ri(1e6) * 1000;
  const domains = Array.from({ length: ri(maxDomains + 1) }, (_, i) => (i % 4 === 3 ? `host-${i}` : i % 5 === 4 ? "" : uuid()));
  const series: StatsBatch["series"] = [];
  for (const domain of new Set(domains)) {
    for (const metric of METRICS) {
      if (rand() < 0.3) continue;
      const kind = metricKind(metric);
      const n = 1 + ri(rand() < 0.2 ? 5 : 600);
      // the extremes only with few samples: Σ(x − min) must stay below 2^53
      const mag = [1, 1e3, 1e6, 2 ** 43, n <= 8 ? MAX_QUANTIZED : 1e9][ri(5)];
      const neg = rand() < 0.2;
      const samples = Array.from({ length: n }, () => {
        const v = rand() < 0.1 ? mag : Math.floor(rand() * rand() * mag);
        return neg && v !== 0 ? -v : v;
      });
      const first = start + ri(3) * 1000 - 1000;
      series.push({ domain, metric, kind, data: compactSamples(samples, first, first + (n - 1) * 100) });
    }
  }
  return { intervalStart: start, intervalMs: 60_000, series };
}

const keyOf = (s: { domain: string; metric: string }): string => `${s.metric}\u0000${s.domain}`;

function assertSameBatch(got: StatsBatch, want: StatsBatch): void {
  assert.equal(got.intervalStart, want.intervalStart);
  assert.equal(got.intervalMs, want.intervalMs);
  assert.equal(got.series.length, want.series.length);
  const byKey = new Map(want.series.map((s) => [keyOf(s), s]));
  for (const s of got.series) {
    const w = byKey.get(keyOf(s));
    assert.ok(w, `unexpected series ${keyOf(s)}`);
    assert.equal(s.kind, w.kind);
    assert.deepEqual(s.data, w.data);
  }
}

/** Whatever decodes must be a self-consistent batch. */
function assertValidBatch(b: StatsBatch): void {
  for (const s of b.series) {
    const d: CompactedSeries = s.data;
    assert.ok(Number.isInteger(d.min) && Number.isInteger(d.max) && d.min <= d.max);
    assert.ok(d.count >= 1 && d.values.length >= 1 && d.values.length <= d.count);
    assert.equal(d.values.reduce((x, y) => Math.min(x, y)), d.min);
    assert.equal(d.values.reduce((x, y) => Math.max(x, y)), d.max);
    assert.ok(d.lastTime >= d.firstTime);
  }
}

/** The same batch with its body stored plain, so fuzzing reaches the parser and not only inflate. */
function plain(bytes: Buffer): Buffer {
  if (!(bytes[1] & 1)) return bytes;
  return Buffer.concat([Buffer.from([bytes[0], bytes[1] & ~1]), inflateRawSync(bytes.subarray(2))]);
}

describe("metrics/batch-codec", () => {
  it("round-trips random batches with and without the key table", () => {
    for (let i = 0; i < 300; i++) {
      const b = randomBatch();
      const table = batchKeyTable(b);
      const full = encodeStatsBatch(b, { includeTable: true });
      const lean = encodeStatsBatch(b, { includeTable: false, table });
      assert.ok(lean.length <= full.length);
      const d1 = decodeStatsBatch(full);
      assertSameBatch(d1, b);
      assert.equal(d1.tableId, table.id);
      assertSameBatch(decodeStatsBatch(lean, (id) => (id === table.id ? table : undefined)), b);
      assertSameBatch(decodeStatsBatch(plain(full)), b);
    }
  });

  it("min, max and avg of the decoded values are exactly those of the quantized samples", () => {
    const raw = Array.from({ length: 60 }, (_, i) => 0.0123 + (i === 17 ? 0.93 : rand() * 0.01)); // CPUs busy
    const q = raw.map((x) => quantize("cpu", x));
    const b: StatsBatch = { intervalStart: 0, intervalMs: 60_000, series: [{ domain: uuid(), metric: "cpu", kind: "cpu", data: compactSamples(q, 0, 59_000) }] };
    const d = decodeStatsBatch(encodeStatsBatch(b, { includeTable: true })).series[0].data;
    assert.equal(d.min, Math.min(...q));
    assert.equal(d.max, Math.max(...q));
    assert.equal(d.excess, q.reduce((s, x) => s + x - d.min, 0)); // exact integer: the avg is min + excess / count
    const avg = d.values.reduce((s, x) => s + x, 0) / d.values.length;
    assert.ok(Math.abs(avg - q.reduce((s, x) => s + x, 0) / q.length) < 1e-9 * Math.abs(d.max));
    // and the quantization error per sample is what quantize.ts promises
    assert.ok(Math.abs(dequantize("cpu", d.max) - Math.max(...raw)) <= 0.0005);
    assert.equal(dequantize("cpu", quantize("cpu", 1.5)), 1.5);
    assert.equal(quantize("rate", 1234.5), 1235);
    assert.throws(() => quantize("rate", 2 ** 51), RangeError);
  });

  it("refuses to encode what a receiver could not trust", () => {
    const good = compactSamples([1, 2, 3], 0, 2000);
    const enc = (data: typeof good): Buffer =>
      encodeStatsBatch({ intervalStart: 0, intervalMs: 1, series: [{ domain: "x", metric: "cpu", kind: "cpu", data }] }, { includeTable: true });
    enc(good);
    assert.throws(() => enc(compactSamples([1.5, 2], 0, 1)), RangeError); // not quantized
    assert.throws(() => enc({ ...good, excess: 7 }), RangeError);
    assert.throws(() => enc(compactSamples([0, 2 ** 51], 0, 1)), RangeError);
    assert.throws(() => enc(compactSamples(new Array<number>(100).fill(2 ** 50).concat([0]), 0, 1)), /2\^53/);
    assert.throws(() => enc({ ...good, firstTime: 0.5 }), RangeError);
    const dup = { domain: "x", metric: "cpu", kind: "cpu" as const, data: good };
    assert.throws(() => encodeStatsBatch({ intervalStart: 0, intervalMs: 1, series: [dup, dup] }, { includeTable: true }), RangeError);
  });

  it("rejects truncated, trailing, foreign and oversized input with BatchCodecError", () => {
    const b = randomBatch(4);
    const full = encodeStatsBatch(b, { includeTable: true });
    for (const bytes of [full, plain(full)]) {
      for (let cut = 0; cut < bytes.length; cut++) assert.throws(() => decodeStatsBatch(bytes.subarray(0, cut)), BatchCodecError, `cut ${cut}`);
    }
    assert.throws(() => decodeStatsBatch(Buffer.concat([plain(full), Buffer.from([0])])), /trailing/);
    assert.throws(() => decodeStatsBatch(Buffer.from([0x7b, 0x22])), /magic/);
    assert.throws(() => decodeStatsBatch(Buffer.from([BATCH_MAGIC, 0x20])), /version/);
    // a deflate bomb stops at the size limit instead of allocating gigabytes
    const bomb = Buffer.concat([Buffer.from([BATCH_MAGIC, 0x11]), deflateRawSync(Buffer.alloc(64 << 20))]);
    assert.throws(() => decodeStatsBatch(bomb), /deflate/);
    // a few bytes claiming 4M samples with one spike: refused before 4M values are built
    const spike = (count: number): Buffer => encodeStatsBatch({ intervalStart: 0, intervalMs: 1, series: [
      { domain: "x", metric: "cpu", kind: "cpu", data: { count, firstTime: 0, lastTime: 1, min: 0, max: 1, excess: 1 } }] }, { includeTable: true });
    assert.ok(spike(MAX_COMPACT_COUNT).length < 100);
    assert.throws(() => decodeStatsBatch(spike(MAX_COMPACT_COUNT)), /exceed/);
    assert.equal(decodeStatsBatch(spike(1_000_000)).series[0].data.values.length, 1_000_000);
    // a batch that only names its table
    const lean = encodeStatsBatch(b, { includeTable: false });
    assert.throws(() => decodeStatsBatch(lean), UnknownKeyTableError);
    assert.throws(() => decodeStatsBatch(lean), BatchCodecError);
    // a table whose id does not match its content
    const p = plain(full);
    p[2] ^= 1;
    assert.throws(() => decodeStatsBatch(p), /id does not match/);
  });

  it("fuzz: random and mutated bytes either decode to a valid batch or throw BatchCodecError", function () {
    this.timeout(120_000);
    const seeds = Array.from({ length: 20 }, () => randomBatch(5));
    const tables = new Map<number, KeyTable>(seeds.map((b) => { const t = batchKeyTable(b); return [t.id, t]; }));
    const known = (id: number): KeyTable | undefined => tables.get(id);
    const corpus = seeds.flatMap((b) => [encodeStatsBatch(b, { includeTable: true }), encodeStatsBatch(b, { includeTable: false })]).flatMap((x) => [x, plain(x)]);
    let decoded = 0;
    let rejected = 0;
    const t0 = Date.now();
    for (let i = 0; i < 20_000; i++) {
      const base = corpus[ri(corpus.length)];
      let m: Buffer;
      switch (i % 6) {
        case 0: // random bytes behind a valid header
          m = Buffer.concat([base.subarray(0, 2), Buffer.from(Array.from({ length: ri(300) }, () => ri(256)))]);
          break;
        case 1: // bit flips
          m = Buffer.from(base);
          for (let f = 1 + ri(3); f > 0; f--) m[ri(m.length)] ^= 1 << ri(8);
          break;
        case 2: // byte set to an extreme
          m = Buffer.from(base);
          m[2 + ri(m.length - 2)] = [0, 0x7f, 0x80, 0xff][ri(4)];
          break;
        case 3: // insert or delete a run
          { const at = ri(base.length); const len = 1 + ri(8);
            m = rand() < 0.5 ? Buffer.concat([base.subarray(0, at), Buffer.alloc(len, ri(256)), base.subarray(at)]) : Buffer.concat([base.subarray(0, at), base.subarray(at + len)]); }
          break;
        case 4: // splice two batches
          { const other = corpus[ri(corpus.length)]; m = Buffer.concat([base.subarray(0, ri(base.length)), other.subarray(ri(other.length))]); }
          break;
        default: // pure noise
          m = Buffer.from(Array.from({ length: ri(64) }, () => ri(256)));
      }
      try {
        assertValidBatch(decodeStatsBatch(m, known));
        decoded++;
      } catch (e) {
        if (!(e instanceof BatchCodecError)) throw new Error(`input ${m.toString("hex")} threw ${String(e)}`);
        rejected++;
      }
    }
    assert.equal(decoded + rejected, 20_000);
    assert.ok(rejected > 10_000 && decoded > 100, `decoded ${decoded}, rejected ${rejected}`);
    assert.ok(Date.now() - t0 < 60_000);
  });

  it("decoded summaries rebuild exactly what the sender compacted", () => {
    const c = compactSamples([3, 3, 3, 9, 4], 10, 50);
    assert.deepEqual(compactSummary({ count: c.count, firstTime: 10, lastTime: 50, min: c.min, max: c.max, excess: c.excess }), c);
  });
});

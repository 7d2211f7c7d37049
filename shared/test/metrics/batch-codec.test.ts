import assert from "node:assert/strict";
import {
  BATCH_MAGIC, BatchCodecError, MAX_COMPACT_COUNT, MAX_QUANTIZED, MissingBaseError, UnknownKeyTableError, batchKeyTable, compactSamples, compactSummary,
  decodeStatsBatch, dequantize, encodeStatsBatch, metricKind, quantize, readBatchHeader, seededRandom, unitAverage,
} from "../../src/index.js";
import type { BatchState, CompactedSeries, EncodeOptions, SeriesSummary, StatsBatch } from "../../src/index.js";

const rand = seededRandom(0xba7c4);
const ri = (n: number): number => Math.floor(rand() * n);
const uuid = (): string => Array.from({ length: 32 }, () => ri(16).toString(16)).join("").replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");

const METRICS = ["cpu", "vcpu.0.time", "vcpu.0.delay", "vcpu.1.time", "block.vda.rd.bytes", "block.vda.wr.bytes",
  "net.tap0.rx.bytes", "net.tap0.tx.packets", "balloon.current", "mem.rss", "custom.gauge"];

function randomSamples(n: number): number[] {
  // the extremes only with few samples: Σ(x − min) must stay below 2^53
  const mag = [1, 1e3, 1e6, 2 ** 43, n <= 8 ? MAX_QUANTIZED : 1e9][ri(5)];
  const neg = rand() < 0.2;
  return Array.from({ length: n }, () => {
    const v = rand() < 0.1 ? mag : Math.floor(rand() * rand() * mag);
    return neg && v !== 0 ? -v : v;
  });
}

function randomBatch(maxDomains = 8, domains?: string[]): StatsBatch {
  const start = 1_700_000_000_000 + ri(1e6) * 1000;
  const names = domains ?? Array.from({ length: ri(maxDomains + 1) }, (_, i) => (i % 4 === 3 ? `host-${i}` : i % 5 === 4 ? "" : uuid()));
  const series: StatsBatch["series"] = [];
  for (const domain of new Set(names)) {
    for (const metric of METRICS) {
      if (rand() < 0.3) continue;
      const n = 1 + ri(rand() < 0.2 ? 5 : 600);
      const first = start + ri(3) * 1000;
      series.push({ domain, metric, kind: metricKind(metric), data: compactSamples(randomSamples(n), first, first + (n - 1) * 100) });
    }
  }
  return { intervalStart: start, intervalMs: 60_000, series };
}

/** The next interval of the same host: most series move a little, some a lot, domains come and go. */
function nextBatch(prev: StatsBatch, churn = 0.1): StatsBatch {
  const start = prev.intervalStart + prev.intervalMs + (rand() < 0.1 ? ri(2000) - 1000 : 0);
  const series: StatsBatch["series"] = [];
  for (const s of prev.series) {
    if (rand() < churn / 2) continue; // gone
    const n = rand() < 0.8 ? s.data.count : 1 + ri(600);
    const level = rand() < 0.2 ? randomSamples(n) : Array.from({ length: n }, () => {
      const v = s.data.min + Math.floor(rand() * (s.data.max - s.data.min + 1));
      return Math.max(-MAX_QUANTIZED, Math.min(MAX_QUANTIZED, v + ri(7) - 3));
    });
    if (n > 8 && level.some((v) => Math.abs(v) > 2 ** 43)) continue; // keep Σ(x − min) below 2^53
    series.push({ ...s, data: compactSamples(level, start, start + (n - 1) * 1000) });
  }
  if (rand() < churn) {
    const d = uuid();
    for (const metric of METRICS.slice(0, 1 + ri(METRICS.length))) {
      series.push({ domain: d, metric, kind: metricKind(metric), data: compactSamples(randomSamples(60), start, start + 59_000) });
    }
  }
  return { intervalStart: start, intervalMs: 60_000 + (rand() < 0.1 ? ri(100) : 0), series };
}

const keyOf = (s: { domain: string; metric: string }): string => `${s.metric}\u0000${s.domain}`;

/** Exact batches: every summary comes back exactly. Unit batches: all but the average, which is within ½ unit. */
function assertSameBatch(got: StatsBatch, want: StatsBatch<SeriesSummary>, exact: boolean): void {
  assert.equal(got.intervalStart, want.intervalStart);
  assert.equal(got.intervalMs, want.intervalMs);
  assert.equal(got.series.length, want.series.length);
  const byKey = new Map(want.series.map((s) => [keyOf(s), s]));
  for (const s of got.series) {
    const w = byKey.get(keyOf(s));
    assert.ok(w, `unexpected series ${keyOf(s)}`);
    assert.equal(s.kind, w.kind);
    const { count, firstTime, lastTime, min, max, excess } = w.data;
    if (exact) {
      assert.deepEqual(s.data, compactSummary({ count, firstTime, lastTime, min, max, excess }));
      continue;
    }
    assert.deepEqual([s.data.count, s.data.firstTime, s.data.lastTime, s.data.min, s.data.max], [count, firstTime, lastTime, min, max]);
    // ½ unit of the true mean, exactly (integers: 2·count·|avg − mean| ≤ count)
    assert.ok(2 * Math.abs(s.data.excess - excess) <= count, `${keyOf(s)}: excess ${s.data.excess} vs ${excess} (count ${count})`);
    assert.ok(s.data.excess >= max - min && s.data.excess <= (count - 1) * (max - min) || max === min);
    assertValidSeries(s.data);
  }
}

/** Whatever decodes is self-consistent: the compacted values have exactly the decoded min, max and average. */
function assertValidSeries(d: CompactedSeries): void {
  assert.ok(Number.isInteger(d.min) && Number.isInteger(d.max) && d.min <= d.max);
  assert.ok(d.count >= 1 && d.values.length >= 1 && d.values.length <= d.count);
  assert.equal(d.values.reduce((x, y) => Math.min(x, y)), d.min);
  assert.equal(d.values.reduce((x, y) => Math.max(x, y)), d.max);
  const avg = d.values.reduce((x, y) => x + y, 0) / d.values.length;
  assert.ok(Math.abs(avg - d.avg) <= 1e-9 * Math.max(1, Math.abs(d.min), Math.abs(d.max)));
  assert.ok(d.lastTime >= d.firstTime);
}

const STREAM = 0x1234abcd;
const selfContained = (seq = 1, exact = false): EncodeOptions => ({ stream: STREAM, seq, prevSeq: seq - 1, chain: seq, includeTable: true, exact });

describe("metrics/batch-codec", () => {
  it("round-trips random self-contained batches, exact and to the unit", () => {
    for (let i = 0; i < 300; i++) {
      const b = randomBatch();
      for (const exact of [true, false]) {
        const { bytes, state } = encodeStatsBatch(b, selfContained(1 + i, exact));
        const d = decodeStatsBatch(bytes);
        assertSameBatch(d, b, exact);
        assert.equal(d.header.tableId, batchKeyTable(b).id);
        assert.equal(d.header.seq, 1 + i);
        assert.equal(d.header.exact, exact);
        // both ends hold the same state afterwards (the next delta depends on it)
        assert.deepEqual(d.state.rows, state.rows);
        assert.deepEqual(d.state.models, state.models);
      }
    }
  });

  it("delta chains over many seeds: every batch decodes against the previous one to what was sent", function () {
    this.timeout(60_000);
    let deltas = 0;
    for (let seed = 0; seed < 60; seed++) {
      const exact = seed % 3 === 0;
      let b = randomBatch(6);
      let sent = encodeStatsBatch(b, selfContained(1, exact));
      let held: BatchState = decodeStatsBatch(sent.bytes).state;
      for (let seq = 2; seq < 14; seq++) {
        b = nextBatch(b, seed % 2 ? 0.3 : 0.05);
        const tableChanged = batchKeyTable(b).id !== sent.state.table.id;
        sent = encodeStatsBatch(b, { stream: STREAM, seq, prevSeq: seq - 1, chain: sent.state.chain, base: sent.state, includeTable: tableChanged, exact });
        const d = decodeStatsBatch(sent.bytes, held);
        assert.equal(d.header.delta, true);
        assert.equal(d.header.table !== null, tableChanged);
        assertSameBatch(d, b, exact);
        assert.deepEqual(d.state.rows, sent.state.rows);
        assert.deepEqual(d.state.models, sent.state.models);
        held = d.state;
        deltas++;
      }
    }
    assert.equal(deltas, 60 * 12);
  });

  it("a delta is much smaller than the same batch self-contained when the series move little", () => {
    const domains = Array.from({ length: 10 }, uuid);
    const levels = domains.flatMap((d) => METRICS.map((m) => ({ d, m, level: 10 ** (1 + ri(6)) })));
    const at = (minute: number): StatsBatch => ({
      intervalStart: minute * 60_000, intervalMs: 60_000,
      series: levels.map(({ d, m, level }) => ({
        domain: d, metric: m, kind: metricKind(m),
        data: compactSamples(Array.from({ length: 60 }, () => Math.round(level * (1 + 0.01 * rand()))), minute * 60_000, minute * 60_000 + 59_000),
      })),
    });
    let s = encodeStatsBatch(at(0), selfContained(1));
    for (let seq = 2; seq < 6; seq++) {
      const b = at(seq - 1);
      const full = encodeStatsBatch(b, selfContained(seq)).bytes.length - batchKeyTable(b).bytes.length;
      s = encodeStatsBatch(b, { stream: STREAM, seq, prevSeq: seq - 1, chain: s.state.chain, base: s.state, includeTable: false });
      assert.ok(s.bytes.length < full * 0.7, `${s.bytes.length} vs ${full} without the table`);
    }
  });

  it("never decodes against the wrong base: another seq, stream or precision, or no base", () => {
    const b1 = randomBatch(4, [uuid(), uuid()]);
    const s1 = encodeStatsBatch(b1, selfContained(7));
    const s2 = encodeStatsBatch(nextBatch(b1, 0), { stream: STREAM, seq: 8, prevSeq: 7, chain: s1.state.chain, base: s1.state, includeTable: false });
    assert.throws(() => decodeStatsBatch(s2.bytes), MissingBaseError);
    assert.throws(() => decodeStatsBatch(s2.bytes, { ...s1.state, seq: 6 }), MissingBaseError);
    assert.throws(() => decodeStatsBatch(s2.bytes, { ...s1.state, stream: STREAM + 1 }), MissingBaseError);
    assert.throws(() => decodeStatsBatch(s2.bytes, { ...s1.state, exact: true }), MissingBaseError);
    // batch 7 coded again (another chain) leaves another state: a delta of the first coding must not use it
    assert.throws(() => decodeStatsBatch(s2.bytes, { ...s1.state, chain: s1.state.chain + 1 }), MissingBaseError);
    // a self-contained batch ignores whatever base the receiver holds
    assertSameBatch(decodeStatsBatch(s1.bytes, s2.state), b1, false);
    // the encoder refuses a base that is not batch prevSeq
    assert.throws(() => encodeStatsBatch(b1, { stream: STREAM, seq: 9, prevSeq: 8, chain: s1.state.chain, base: s1.state, includeTable: true }), RangeError);
    assert.throws(() => encodeStatsBatch(b1, { stream: STREAM, seq: 9, prevSeq: 9, chain: 1, includeTable: true }), RangeError);
    assert.throws(() => encodeStatsBatch(b1, { stream: 0, seq: 1, prevSeq: 0, chain: 1, includeTable: true }), RangeError);
    // a batch that only names its table needs a base holding that table
    const other = { ...s1.state, table: batchKeyTable(randomBatch(3, [uuid()])) };
    const b2 = nextBatch(b1, 0);
    const lean = encodeStatsBatch(b2, { stream: STREAM, seq: 8, prevSeq: 7, chain: other.chain, base: { ...other, table: batchKeyTable(b2) }, includeTable: false });
    assert.throws(() => decodeStatsBatch(lean.bytes, other), UnknownKeyTableError);
  });

  it("unit averages: min and max exact, the average within ½ unit of the quantized samples' and exact for the compacted values", () => {
    for (let i = 0; i < 2000; i++) {
      const n = 1 + ri(rand() < 0.3 ? 4 : 120);
      const raw = Array.from({ length: n }, () => (rand() < 0.05 ? rand() * 4 : rand() * 0.05)); // CPUs busy
      const q = raw.map((x) => quantize("cpu", x));
      const b: StatsBatch = { intervalStart: 0, intervalMs: 60_000, series: [{ domain: "d", metric: "cpu", kind: "cpu", data: compactSamples(q, 0, (n - 1) * 500) }] };
      const d = decodeStatsBatch(encodeStatsBatch(b, selfContained()).bytes).series[0].data;
      const mean = q.reduce((s, x) => s + x, 0) / n;
      assert.equal(d.min, Math.min(...q));
      assert.equal(d.max, Math.max(...q));
      assert.ok(Math.abs(d.avg - mean) <= 0.5 + 1e-9, `avg ${d.avg} vs ${mean}`);
      assertValidSeries(d);
      // and in CPUs: min/max within the quantization step of the raw samples, the average within one step
      assert.ok(Math.abs(dequantize("cpu", d.max) - Math.max(...raw)) <= 0.0005 + 1e-12);
      assert.ok(Math.abs(dequantize("cpu", d.avg) - raw.reduce((s, x) => s + x, 0) / n) <= 0.001 + 1e-12);
    }
    // where rounding would put the average on min although a sample is above it, the clamp keeps it possible
    const edge = compactSamples([0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0, 9);
    assert.equal(unitAverage(edge), 0);
    const e = decodeStatsBatch(encodeStatsBatch({ intervalStart: 0, intervalMs: 10, series: [{ domain: "", metric: "x", kind: "integer", data: edge }] }, selfContained()).bytes).series[0].data;
    assert.deepEqual([e.min, e.max, e.avg], [0, 1, 0.1]);
  });

  it("exact batches keep Σ(x − min), so the average is the quantized samples' exactly", () => {
    const raw = Array.from({ length: 60 }, (_, i) => 0.0123 + (i === 17 ? 0.93 : rand() * 0.01));
    const q = raw.map((x) => quantize("cpu", x));
    const b: StatsBatch = { intervalStart: 0, intervalMs: 60_000, series: [{ domain: uuid(), metric: "cpu", kind: "cpu", data: compactSamples(q, 0, 59_000) }] };
    const d = decodeStatsBatch(encodeStatsBatch(b, selfContained(1, true)).bytes).series[0].data;
    assert.equal(d.excess, q.reduce((s, x) => s + x - d.min, 0));
    const avg = d.values.reduce((s, x) => s + x, 0) / d.values.length;
    assert.ok(Math.abs(avg - q.reduce((s, x) => s + x, 0) / q.length) < 1e-9 * Math.abs(d.max));
    assert.equal(quantize("rate", 1234.5), 1235);
    assert.throws(() => quantize("rate", 2 ** 51), RangeError);
  });

  it("refuses to encode what a receiver could not trust", () => {
    const good = compactSamples([1, 2, 3], 0, 2000);
    const enc = (data: SeriesSummary, exact = true): Buffer =>
      encodeStatsBatch({ intervalStart: 0, intervalMs: 1, series: [{ domain: "x", metric: "cpu", kind: "cpu", data }] }, selfContained(1, exact)).bytes;
    enc(good);
    assert.throws(() => enc(compactSamples([1.5, 2], 0, 1)), RangeError); // not quantized
    assert.throws(() => enc({ ...good, excess: 7 }), RangeError);
    assert.throws(() => enc(compactSamples([0, 2 ** 51], 0, 1)), RangeError);
    assert.throws(() => enc(compactSamples(new Array<number>(100).fill(2 ** 50).concat([0]), 0, 1)), /2\^53/);
    assert.throws(() => enc({ ...good, firstTime: 0.5 }), RangeError);
    assert.throws(() => enc({ ...good, lastTime: 2 ** 51 }), RangeError);
    // to the unit, count·(max − min) must stay below 2^53 too
    assert.throws(() => enc({ count: 5000, firstTime: 0, lastTime: 1, min: 0, max: 2 ** 42, excess: 2 ** 42 }, false), /2\^53/);
    const dup = { domain: "x", metric: "cpu", kind: "cpu" as const, data: good };
    assert.throws(() => encodeStatsBatch({ intervalStart: 0, intervalMs: 1, series: [dup, dup] }, selfContained()), RangeError);
  });

  it("rejects truncated, trailing, foreign, old and oversized input with BatchCodecError", () => {
    const b = randomBatch(4);
    const full = encodeStatsBatch(b, selfContained()).bytes;
    for (let cut = 0; cut < full.length; cut++) assert.throws(() => decodeStatsBatch(full.subarray(0, cut)), BatchCodecError, `cut ${cut}`);
    assert.throws(() => decodeStatsBatch(Buffer.concat([full, Buffer.from([0])])), /trailing/);
    assert.throws(() => decodeStatsBatch(Buffer.from([0x7b, 0x22])), /magic/);
    assert.throws(() => decodeStatsBatch(Buffer.from([BATCH_MAGIC, 0x13, 0, 0, 0, 1])), /version 1 not supported/);
    assert.throws(() => decodeStatsBatch(Buffer.alloc(5 << 20, BATCH_MAGIC)), /exceeds/);
    // a few bytes claiming 4M samples with one spike: refused before 4M values are built
    const spike = (count: number): Buffer => encodeStatsBatch({ intervalStart: 0, intervalMs: 1, series: [
      { domain: "x", metric: "cpu", kind: "cpu", data: { count, firstTime: 0, lastTime: 1, min: 0, max: 1, excess: 1 } }] }, selfContained(1, true)).bytes;
    assert.ok(spike(MAX_COMPACT_COUNT).length < 100);
    assert.throws(() => decodeStatsBatch(spike(MAX_COMPACT_COUNT)), /exceed/);
    assert.equal(decodeStatsBatch(spike(1_000_000)).series[0].data.values.length, 1_000_000);
    // a table whose id does not match its content
    const p = Buffer.from(full);
    p[2 + 4 + 3] ^= 1; // first byte of the table id (after magic, version, stream, seq, back, chain)
    assert.throws(() => decodeStatsBatch(p), /id does not match/);
    assert.equal(readBatchHeader(full).stream, STREAM);
  });

  it("a key table with a NIC name per guest travels deflated and decodes to the same keys; a table that does not inflate is refused", () => {
    const start = 1_700_000_000_000;
    const series: StatsBatch["series"] = [];
    for (let g = 0; g < 30; g++) {
      const domain = uuid();
      for (const m of ["rx.bytes", "rx.pkts", "rx.drop", "tx.bytes", "tx.pkts", "tx.drop"]) {
        const metric = `net.vnet${g}.${m}`;
        series.push({ domain, metric, kind: metricKind(metric), data: compactSamples([g, g + 1], start, start + 1000) });
      }
    }
    const b: StatsBatch = { intervalStart: start, intervalMs: 60_000, series };
    const table = batchKeyTable(b);
    const { bytes } = encodeStatsBatch(b, selfContained(1, true));
    assert.equal(bytes[1] & 0x0f, 1 | 4 | 8, "table included, exact, table deflated");
    assert.ok(bytes.length < table.bytes.length / 2, `${bytes.length} bytes with a table of ${table.bytes.length}`);
    const d = decodeStatsBatch(bytes);
    assert.equal(d.header.tableId, table.id);
    assertSameBatch(d, b, true);
    // the deflated table starts after magic, version, stream (4), seq, back, chain, table id (4) and its length (2 bytes here)
    const broken = Buffer.from(bytes);
    broken[2 + 4 + 3 + 4 + 2] ^= 0xff;
    assert.throws(() => decodeStatsBatch(broken), BatchCodecError);
    const unflagged = Buffer.from(bytes);
    unflagged[1] &= ~1;
    assert.throws(() => decodeStatsBatch(unflagged), /deflated key table flagged without a table/);
  });

  it("fuzz: random and mutated bytes, with and without a base, decode to a valid batch or throw BatchCodecError", function () {
    this.timeout(120_000);
    const corpus: { bytes: Buffer; base?: BatchState }[] = [];
    for (let i = 0; i < 12; i++) {
      const b = randomBatch(5);
      const s = encodeStatsBatch(b, selfContained(1, i % 2 === 0));
      corpus.push({ bytes: s.bytes });
      const n = nextBatch(b, 0.2);
      corpus.push({ bytes: encodeStatsBatch(n, { stream: STREAM, seq: 2, prevSeq: 1, chain: s.state.chain, base: s.state, includeTable: batchKeyTable(n).id !== s.state.table.id, exact: i % 2 === 0 }).bytes, base: s.state });
    }
    let decoded = 0;
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const { bytes: base, base: state } = corpus[ri(corpus.length)];
      let m: Buffer;
      switch (i % 6) {
        case 0: // random bytes behind a valid header start
          m = Buffer.concat([base.subarray(0, 2 + ri(12)), Buffer.from(Array.from({ length: ri(300) }, () => ri(256)))]);
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
          { const other = corpus[ri(corpus.length)].bytes; m = Buffer.concat([base.subarray(0, ri(base.length)), other.subarray(ri(other.length))]); }
          break;
        default: // pure noise
          m = Buffer.from(Array.from({ length: ri(64) }, () => ri(256)));
      }
      try {
        const d = decodeStatsBatch(m, rand() < 0.8 ? state : undefined);
        d.series.forEach((s) => assertValidSeries(s.data));
        decoded++;
      } catch (e) {
        if (!(e instanceof BatchCodecError)) throw new Error(`input ${m.toString("hex")} threw ${String(e)}`);
        rejected++;
      }
    }
    assert.equal(decoded + rejected, 20_000);
    assert.ok(rejected > 10_000 && decoded > 100, `decoded ${decoded}, rejected ${rejected}`);
  });
});

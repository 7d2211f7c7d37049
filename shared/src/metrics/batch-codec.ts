/**
 * One stats batch: every compacted series of one host for one report interval, in as few bytes as
 * we can manage while keeping min and max exact (after quantization, see quantize.ts) and the
 * average exact or, by default, to the quantized unit.
 *
 * Per series the batch carries six integers: count, first sample offset from the interval start,
 * span to the last sample, min, max, and either the average rounded to the quantized unit
 * ("unit" batches) or the exact excess Σ(x − min) ("exact" batches). The compacted values are a
 * function of these (compaction.ts), so the receiver rebuilds them with compactSummary.
 *
 * Unit averages: the receiver sets excess = clamp(count·(avg − min), max − min, (count − 1)·(max − min)).
 * Real samples always satisfy those bounds (one sample is the max, one the min), so the clamp only
 * ever moves the average towards the true one: |decoded avg − mean of the quantized samples| ≤ ½
 * unit. That costs log2(count) ≈ 6 bits less per series than the exact sum (BENCHMARKS.md).
 *
 * Deltas: each value is coded as its difference from a prediction, with an adaptive binary range
 * coder (range-coder.ts) told how large that difference usually is for this series. What is
 * predicted from what is series-model.ts: the series' own history in the stream (last value,
 * running mean, distance from the min), its siblings in the same batch (a guest's cpu from its
 * vCPUs, count and times from the guest's other series), or, for a series the base does not have
 * and in a self-contained batch, the series coded just before it (same metric, neighbouring
 * domain). Both ends keep that state per series and the coder's adaptive probabilities, which a
 * delta batch continues from (BatchState): all computed from the decoded values only.
 *
 * A delta batch can never decode against the wrong base: it names its stream (a random 32-bit id
 * per sender), its chain (a number the sender gives each self-contained batch and the deltas that
 * follow it: the same batch coded twice, e.g. resent self-contained after a lost ack, leaves two
 * different states) and the sequence number of its base, and the receiver decodes it only when the
 * state it holds is exactly that one (batch-stream.ts decides what to do otherwise).
 *
 * Layout: byte 0 magic 0xB5; byte 1 = version << 4 | flags (1 table included, 2 delta against
 * prevSeq, 4 exact excess, 8 table deflated); u32 stream; varint seq; varint seq − prevSeq; varint chain; u32 key-table id;
 * [varint length + key table, deflated when flag 8 says so]; interval start and length (varints; in a delta batch zigzag
 * differences from the base's end and length); then the range-coded body to the end: per series
 * in coding order (key-table order, each guest's cpu last), its six values. Version 3 (issue 18);
 * version 2 coded every value against the same series' last one alone, and is refused.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { BatchCodecError, ByteReader, ByteWriter } from "./byte-io.js";
import { compactShape, compactSummary, MAX_COMPACT_COUNT } from "./compaction.js";
import type { CompactedSeries, CompactShape, SeriesSummary } from "./compaction.js";
import { decodeKeyTable, makeKeyTable, compareKeys, MAX_KEYS } from "./key-table.js";
import type { KeyTable, SeriesKey } from "./key-table.js";
import { MAX_QUANTIZED } from "./quantize.js";
import { RangeDecoder, RangeEncoder } from "./range-coder.js";
import { DEFAULT_TUNING, Models, STATE_WIDTH, SeriesPredictor, codingOrder } from "./series-model.js";
import type { CodecTuning } from "./series-model.js";

export interface StatsSeries<S extends SeriesSummary = CompactedSeries> extends SeriesKey {
  /** Quantized: min, max and excess are integers; times are integer ms. */
  data: S;
}

export interface StatsBatch<S extends SeriesSummary = CompactedSeries> {
  /** ms since epoch. */
  intervalStart: number;
  intervalMs: number;
  /** In canonical key order when decoded; any order when encoding. */
  series: StatsSeries<S>[];
}

export const BATCH_MAGIC = 0xb5;
export const BATCH_VERSION = 3;
const FLAG_TABLE = 1;
const FLAG_DELTA = 2;
const FLAG_EXACT = 4;
/** The key table travels deflated (names repeat: every NIC's device name in six metrics). */
const FLAG_TABLE_DEFLATED = 8;
const deflatedTables = new WeakMap<KeyTable, Buffer | null>();
/** The table's bytes deflated, or null when that is no smaller. */
function deflatedTable(t: KeyTable): Buffer | null {
  let d = deflatedTables.get(t);
  if (d === undefined) {
    const z = deflateRawSync(t.bytes, { level: 9 });
    d = z.length < t.bytes.length ? z : null;
    deflatedTables.set(t, d);
  }
  return d;
}
/** Largest batch accepted (65,536 series fit with room to spare). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Compacted values a decoded batch may expand to (each series is at most its raw count). */
export const MAX_BATCH_VALUES = 1 << 21;

/** Times (ms since the epoch) and lengths stay below 2^50 ms (35,000 years), so every difference coded is a safe integer. */
export const MAX_TIME_MS = 2 ** 50;
const isMs = (t: number): boolean => Number.isInteger(t) && t >= 0 && t <= MAX_TIME_MS;
const keyString = (k: SeriesKey): string => `${k.metric}\u0000${k.domain}`;

/**
 * What both ends hold after a batch: enough to decode the next one as a delta. `rows` holds, per
 * key of `table` in order, what series-model.ts predicts the next values from.
 */
export interface BatchState {
  stream: number;
  chain: number;
  seq: number;
  exact: boolean;
  intervalStart: number;
  intervalMs: number;
  table: KeyTable;
  rows: Float64Array;
  /** The coder's adaptive probabilities at the end of the batch. */
  models: Uint16Array;
}

const tableIndexes = new WeakMap<KeyTable, Map<string, number>>();

/** The state row of a key in a base, or undefined when the base has no such series. */
function baseRow(base: BatchState | undefined, key: string): Float64Array | undefined {
  if (!base) return undefined;
  let idx = tableIndexes.get(base.table);
  if (!idx) {
    idx = new Map(base.table.keys.map((k, i) => [keyString(k), i]));
    tableIndexes.set(base.table, idx);
  }
  const i = idx.get(key);
  return i === undefined ? undefined : base.rows.subarray(i * STATE_WIDTH, (i + 1) * STATE_WIDTH);
}

/** Where a batch sits in its sender's stream. */
export interface BatchPosition {
  /** Random per sender (1..2^32 − 1): a restarted sender is a new stream. */
  stream: number;
  /** 1, 2, 3 … per stream. */
  seq: number;
  /** The batch before this one that exists (seq − 1 unless the sender dropped some); a delta batch's base. */
  prevSeq: number;
  /** Which coding of the stream: a new number for every self-contained batch, kept by the deltas after it. */
  chain: number;
}

export interface EncodeOptions extends BatchPosition {
  /** Carry the key table (otherwise the receiver must hold it from the base). */
  includeTable: boolean;
  /** Code against this state (it must be the state after batch prevSeq of this stream). */
  base?: BatchState;
  /** Exact sums instead of averages to the quantized unit (~6 bits more per series). */
  exact?: boolean;
  /** A table already built for these keys (saves rebuilding it every interval). */
  table?: KeyTable;
  /** @internal the benchmark's switches (the decoder must be given the same); the default is what the wire format is. */
  tuning?: CodecTuning;
}

export interface BatchHeader extends BatchPosition {
  delta: boolean;
  exact: boolean;
  tableId: number;
  /** The table the batch carries, or null when it only names it. */
  table: KeyTable | null;
  /** Offset of what follows the table. */
  bodyOffset: number;
}

/** The batch names a key table this receiver does not have. */
export class UnknownKeyTableError extends BatchCodecError {
  constructor(readonly tableId: number) {
    super(`stats batch: unknown key table ${tableId.toString(16).padStart(8, "0")} (the sender must resend it)`);
    this.name = "UnknownKeyTableError";
  }
}

/** A delta batch whose base this receiver does not hold. */
export class MissingBaseError extends BatchCodecError {
  constructor(readonly stream: number, readonly baseSeq: number) {
    super(`stats batch: delta against batch ${baseSeq} of stream ${stream.toString(16)}, which this receiver does not hold`);
    this.name = "MissingBaseError";
  }
}

/** Sort the batch's series canonically and build their key table. */
export function batchKeyTable(batch: StatsBatch<SeriesSummary>): KeyTable {
  return makeKeyTable(batch.series.map(({ domain, metric, kind }) => ({ domain, metric, kind })));
}

/** Average rounded half up to the quantized unit: min + round(excess / count), in exact integers. */
export function unitAverage(d: SeriesSummary): number {
  const q = Math.floor(d.excess / d.count);
  const r = d.excess - q * d.count;
  return d.min + q + (2 * r >= d.count ? 1 : 0);
}

/** The excess a unit average stands for (see the header comment); undefined when out of range. */
function excessOfUnitAverage(count: number, min: number, max: number, avg: number): number | undefined {
  const w = max - min;
  if (w === 0) return avg === min ? 0 : undefined;
  if (avg < min || avg > max) return undefined;
  const upper = (count - 1) * w;
  if (!Number.isSafeInteger(upper)) return undefined;
  const e = (avg - min) * count;
  return Math.min(Math.max(e, w), upper); // e beyond 2^53 is inexact but then clamps to upper
}

function validateSummary(d: SeriesSummary, bad: (why: string) => never): void {
  if (!Number.isInteger(d.count) || d.count < 1 || d.count > MAX_COMPACT_COUNT) bad(`count ${d.count}`);
  if (!isMs(d.firstTime) || !isMs(d.lastTime) || d.lastTime < d.firstTime) bad("times must be integer ms, first ≤ last");
  if (!Number.isInteger(d.min) || !Number.isInteger(d.max) || Math.abs(d.min) > MAX_QUANTIZED || Math.abs(d.max) > MAX_QUANTIZED || d.max < d.min) {
    bad("min/max must be quantized integers, min ≤ max");
  }
  const range = d.max - d.min;
  if (!Number.isSafeInteger(d.excess)) bad(`excess ${d.excess} is not a safe integer (Σ(x − min) must stay below 2^53)`);
  if (range === 0 ? d.excess !== 0 : d.excess < range || d.excess > (d.count - 1) * range) {
    bad(`excess ${d.excess} impossible for count ${d.count}, range ${range}`);
  }
  if (d.count === 1 && range !== 0) bad("one sample with min ≠ max");
}

function checkPosition(p: BatchPosition): void {
  if (!Number.isInteger(p.stream) || p.stream < 1 || p.stream > 0xffffffff) throw new RangeError(`stats batch: bad stream ${p.stream}`);
  if (!Number.isSafeInteger(p.seq) || p.seq < 1 || !Number.isSafeInteger(p.prevSeq) || p.prevSeq < 0 || p.prevSeq >= p.seq || !Number.isSafeInteger(p.chain) || p.chain < 0) {
    throw new RangeError(`stats batch: bad seq ${p.seq} / prevSeq ${p.prevSeq} / chain ${p.chain}`);
  }
}

/** Throws RangeError when a batch could not be encoded (or trusted by a receiver); returns its key table. */
export function validateStatsBatch(batch: StatsBatch<SeriesSummary>, exact = false): KeyTable {
  if (!isMs(batch.intervalStart) || !isMs(batch.intervalMs)) throw new RangeError("stats batch: bad interval");
  for (const s of batch.series) {
    const bad = (why: string): never => {
      throw new RangeError(`stats batch: ${s.domain}/${s.metric}: ${why}`);
    };
    validateSummary(s.data, bad);
    if (!exact && excessOfUnitAverage(s.data.count, s.data.min, s.data.max, unitAverage(s.data)) === undefined) bad("(count − 1)·(max − min) above 2^53");
  }
  return batchKeyTable(batch); // duplicates, names
}

export function encodeStatsBatch(batch: StatsBatch<SeriesSummary>, opts: EncodeOptions): { bytes: Buffer; state: BatchState } {
  checkPosition(opts);
  const exact = opts.exact ?? false;
  const base = opts.base;
  if (base && (base.stream !== opts.stream || base.chain !== opts.chain || base.seq !== opts.prevSeq || base.exact !== exact)) {
    throw new RangeError("encodeStatsBatch: the base is not batch prevSeq of this stream and chain (or has another precision)");
  }
  const series = [...batch.series].sort(compareKeys);
  const table = opts.table ?? batchKeyTable(batch);
  if (table.keys.length !== series.length || series.some((s, i) => compareKeys(s, table.keys[i]) !== 0)) {
    throw new RangeError("encodeStatsBatch: the key table does not match the batch's series");
  }
  if (!opts.includeTable && base?.table.id !== table.id) throw new RangeError("encodeStatsBatch: the table must travel unless the base has it");
  if (!isMs(batch.intervalStart) || !isMs(batch.intervalMs)) throw new RangeError("encodeStatsBatch: bad interval");
  const rows = series.map((s) => {
    const d = s.data;
    validateSummary(d, (why) => {
      throw new RangeError(`encodeStatsBatch: ${s.domain}/${s.metric}: ${why}`);
    });
    const third = exact ? d.excess : unitAverage(d);
    if (!exact && excessOfUnitAverage(d.count, d.min, d.max, third) === undefined) {
      throw new RangeError(`encodeStatsBatch: ${s.domain}/${s.metric}: (count − 1)·(max − min) above 2^53`);
    }
    return [d.count, d.firstTime - batch.intervalStart, d.lastTime - d.firstTime, d.min, d.max, third];
  });

  const w = new ByteWriter();
  w.byte(BATCH_MAGIC);
  const packed = opts.includeTable ? deflatedTable(table) : null;
  w.byte((BATCH_VERSION << 4) | (opts.includeTable ? FLAG_TABLE : 0) | (packed ? FLAG_TABLE_DEFLATED : 0) | (base ? FLAG_DELTA : 0) | (exact ? FLAG_EXACT : 0));
  const u32 = Buffer.alloc(4);
  u32.writeUInt32BE(opts.stream);
  w.bytes(u32);
  w.uint(opts.seq);
  w.uint(opts.seq - opts.prevSeq);
  w.uint(opts.chain);
  const id = Buffer.alloc(4);
  id.writeUInt32BE(table.id);
  w.bytes(id);
  if (opts.includeTable) {
    const tableBytes = packed ?? table.bytes;
    w.uint(tableBytes.length);
    w.bytes(tableBytes);
  }
  if (base) {
    w.sint(batch.intervalStart - (base.intervalStart + base.intervalMs));
    w.sint(batch.intervalMs - base.intervalMs);
  } else {
    w.uint(batch.intervalStart);
    w.uint(batch.intervalMs);
  }
  const enc = new RangeEncoder();
  const tuning = opts.tuning ?? DEFAULT_TUNING;
  const models = new Models(tuning.families, base?.models);
  const states = new Float64Array(series.length * STATE_WIDTH);
  const predictor = new SeriesPredictor(table.keys, models, states, exact, tuning);
  for (const i of codingOrder(table.keys, tuning)) {
    const row = rows[i];
    predictor.series(i, table.keys[i], baseRow(base, keyString(table.keys[i])), (c, predicted, model, k, signCtx) => {
      model.encode(enc, row[c] - predicted, k, signCtx);
      return row[c];
    });
  }
  const bytes = Buffer.concat([w.finish(), enc.finish()]);
  if (bytes.length > MAX_BATCH_BYTES) throw new RangeError(`encodeStatsBatch: ${bytes.length} bytes exceed ${MAX_BATCH_BYTES}`);
  return {
    bytes,
    state: { stream: opts.stream, chain: opts.chain, seq: opts.seq, exact, intervalStart: batch.intervalStart, intervalMs: batch.intervalMs, table, rows: states, models: models.snapshot() },
  };
}

/** Parse what precedes the body (cheap: no series decoded). Throws BatchCodecError. */
export function readBatchHeader(bytes: Uint8Array): BatchHeader {
  if (bytes.length > MAX_BATCH_BYTES) throw new BatchCodecError(`batch of ${bytes.length} bytes exceeds ${MAX_BATCH_BYTES}`);
  if (bytes.length < 2 || bytes[0] !== BATCH_MAGIC) throw new BatchCodecError("not a stats batch (bad magic)");
  if (bytes[1] >> 4 !== BATCH_VERSION) throw new BatchCodecError(`stats batch version ${bytes[1] >> 4} not supported (this end speaks ${BATCH_VERSION})`);
  const flags = bytes[1] & 0x0f;
  if (flags & ~(FLAG_TABLE | FLAG_DELTA | FLAG_EXACT | FLAG_TABLE_DEFLATED)) throw new BatchCodecError("stats batch: unknown flags");
  if (flags & FLAG_TABLE_DEFLATED && !(flags & FLAG_TABLE)) throw new BatchCodecError("stats batch: a deflated key table flagged without a table");
  const r = new ByteReader(bytes.subarray(2));
  const stream = Buffer.from(r.bytes(4)).readUInt32BE(0);
  if (stream === 0) throw new BatchCodecError("stats batch: stream 0");
  const seq = r.uint();
  const back = r.uint();
  if (seq < 1 || back < 1 || back > seq) throw new BatchCodecError(`stats batch: bad sequence ${seq} (−${back})`);
  const chain = r.uint();
  const tableId = Buffer.from(r.bytes(4)).readUInt32BE(0);
  let table: KeyTable | null = null;
  if (flags & FLAG_TABLE) {
    const len = r.count("key table length", MAX_BATCH_BYTES);
    let tableBytes = r.bytes(len);
    if (flags & FLAG_TABLE_DEFLATED) {
      try {
        tableBytes = inflateRawSync(tableBytes, { maxOutputLength: MAX_BATCH_BYTES });
      } catch (e) {
        throw new BatchCodecError(`stats batch: key table does not inflate (${(e as Error).message})`);
      }
    }
    table = decodeKeyTable(tableBytes);
    if (table.id !== tableId) throw new BatchCodecError("stats batch: key table id does not match its content");
  }
  return {
    stream, seq, prevSeq: seq - back, chain, delta: (flags & FLAG_DELTA) !== 0, exact: (flags & FLAG_EXACT) !== 0, tableId, table,
    bodyOffset: bytes.length - r.remaining,
  };
}

/**
 * Decode and validate one batch. A delta batch needs `base` (the state after its prevSeq); a batch
 * without its table needs the base's table. Throws BatchCodecError: MissingBaseError and
 * UnknownKeyTableError mean "the sender must send this one self-contained".
 */
export function decodeStatsBatch(
  bytes: Uint8Array,
  base?: BatchState,
  tuning: CodecTuning = DEFAULT_TUNING,
): StatsBatch & { header: BatchHeader; state: BatchState } {
  const h = readBatchHeader(bytes);
  if (h.delta && (!base || base.stream !== h.stream || base.chain !== h.chain || base.seq !== h.prevSeq || base.exact !== h.exact)) {
    throw new MissingBaseError(h.stream, h.prevSeq);
  }
  const ref = h.delta ? base : undefined;
  const keys = h.table ?? (ref?.table.id === h.tableId ? ref.table : undefined);
  if (!keys) throw new UnknownKeyTableError(h.tableId);
  const r = new ByteReader(bytes.subarray(h.bodyOffset));
  let intervalStart: number;
  let intervalMs: number;
  if (ref) {
    intervalStart = ref.intervalStart + ref.intervalMs + r.sint();
    intervalMs = ref.intervalMs + r.sint();
  } else {
    intervalStart = r.uint();
    intervalMs = r.uint();
  }
  if (!isMs(intervalStart) || !isMs(intervalMs)) throw new BatchCodecError("stats batch: bad interval");
  const n = keys.keys.length;
  if (n > MAX_KEYS) throw new BatchCodecError(`stats batch: ${n} series exceed ${MAX_KEYS}`);
  const dec = new RangeDecoder(bytes, bytes.length - r.remaining);
  const models = new Models(tuning.families, ref?.models);
  const states = new Float64Array(n * STATE_WIDTH);
  const predictor = new SeriesPredictor(keys.keys, models, states, h.exact, tuning);
  const summaries = new Array<SeriesSummary>(n);
  const shapes = new Array<CompactShape>(n);
  let values = 0;
  for (const i of codingOrder(keys.keys, tuning)) {
    const k = keys.keys[i];
    const bad = (why: string): never => {
      throw new BatchCodecError(`stats batch: series ${k.domain}/${k.metric}: ${why}`);
    };
    const row = predictor.series(i, k, baseRow(ref, keyString(k)), (c, predicted, model, kBits, signCtx) => {
      const v = predicted + model.decode(dec, kBits, signCtx);
      if (!Number.isSafeInteger(v)) bad("value out of range");
      return v;
    });
    const [count, offset, span, min, max, third] = row;
    const firstTime = intervalStart + offset;
    const lastTime = firstTime + span;
    if (count < 1 || count > MAX_COMPACT_COUNT) bad(`count ${count}`);
    if (!isMs(firstTime) || !isMs(lastTime) || span < 0) bad("bad times");
    if (Math.abs(min) > MAX_QUANTIZED || Math.abs(max) > MAX_QUANTIZED || max < min) bad("min/max out of range");
    const excess = h.exact ? third : excessOfUnitAverage(count, min, max, third);
    if (excess === undefined) bad("average outside [min, max] or out of range");
    const w = max - min;
    if (w === 0 ? excess !== 0 : count === 1 || excess! < w || excess! > (count - 1) * w || !Number.isSafeInteger(excess)) {
      bad("impossible excess for its count and range");
    }
    const summary = { count, firstTime, lastTime, min, max, excess: excess! };
    let shape: CompactShape;
    try {
      shape = compactShape(summary);
    } catch (e) {
      return bad((e as Error).message);
    }
    summaries[i] = summary;
    shapes[i] = shape;
    values += shape.minCount + shape.maxCount + (shape.between === null ? 0 : 1);
  }
  if (dec.remaining !== 0) throw new BatchCodecError(`stats batch: ${dec.remaining} trailing bytes`);
  // a few bytes can claim a huge count with one spike: bound what we materialise
  if (values > MAX_BATCH_VALUES) throw new BatchCodecError(`stats batch: ${values} compacted values exceed ${MAX_BATCH_VALUES}`);
  const series: StatsSeries[] = keys.keys.map((k, i) => ({ ...k, data: compactSummary(summaries[i], shapes[i]) }));
  return {
    intervalStart, intervalMs, series, header: h,
    state: { stream: h.stream, chain: h.chain, seq: h.seq, exact: h.exact, intervalStart, intervalMs, table: keys, rows: states, models: models.snapshot() },
  };
}

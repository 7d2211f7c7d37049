/**
 * The stats batch encoding version 2 exactly as the nanoprobe sent it before issue 18 (frozen copy
 * of shared/src/metrics/batch-codec.ts at that time, encoder and decoder only): tests and the
 * benchmark run the same samples through it and through the current encoding to show that the CMA
 * rebuilds the same values, and what the change saves. Not used by the nanoprobe or the CMA.
 */
import { BatchCodecError, ByteReader, ByteWriter } from "../metrics/byte-io.js";
import { compactShape, compactSummary, MAX_COMPACT_COUNT } from "../metrics/compaction.js";
import type { CompactedSeries, CompactShape, SeriesSummary } from "../metrics/compaction.js";
import { decodeKeyTable, makeKeyTable, compareKeys, MAX_KEYS } from "../metrics/key-table.js";
import type { KeyTable, SeriesKey } from "../metrics/key-table.js";
import { MAX_QUANTIZED } from "../metrics/quantize.js";
import { IntModel, MAX_CODED_BITS, RangeDecoder, RangeEncoder, bitLength } from "../metrics/range-coder.js";

interface StatsSeries<S extends SeriesSummary = CompactedSeries> extends SeriesKey {
  /** Quantized: min, max and excess are integers; times are integer ms. */
  data: S;
}

interface StatsBatch<S extends SeriesSummary = CompactedSeries> {
  /** ms since epoch. */
  intervalStart: number;
  intervalMs: number;
  /** In canonical key order when decoded; any order when encoding. */
  series: StatsSeries<S>[];
}

const BATCH_MAGIC = 0xb5;
const BATCH_VERSION = 2;
const FLAG_TABLE = 1;
const FLAG_DELTA = 2;
const FLAG_EXACT = 4;
/** Largest batch accepted (65,536 series fit with room to spare). */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Compacted values a decoded batch may expand to (each series is at most its raw count). */
const MAX_BATCH_VALUES = 1 << 21;

const COLUMNS = 6; // count, first offset, span, min, max, avg or excess
/** Times (ms since the epoch) and lengths stay below 2^50 ms (35,000 years), so every difference coded is a safe integer. */
const MAX_TIME_MS = 2 ** 50;
const isMs = (t: number): boolean => Number.isInteger(t) && t >= 0 && t <= MAX_TIME_MS;
const keyString = (k: SeriesKey): string => `${k.metric}\u0000${k.domain}`;

/**
 * What both ends hold after a batch: enough to decode the next one as a delta. `rows` holds, per
 * key of `table` in order, its six last values followed by their six running magnitudes.
 */
export interface BatchStateV2 {
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

const STATE_WIDTH = 2 * COLUMNS;
const tableIndexes = new WeakMap<KeyTable, Map<string, number>>();

/** The state row of a key in a base, or undefined when the base has no such series. */
function baseRow(base: BatchStateV2 | undefined, key: string): Float64Array | undefined {
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
interface BatchPosition {
  /** Random per sender (1..2^32 − 1): a restarted sender is a new stream. */
  stream: number;
  /** 1, 2, 3 … per stream. */
  seq: number;
  /** The batch before this one that exists (seq − 1 unless the sender dropped some); a delta batch's base. */
  prevSeq: number;
  /** Which coding of the stream: a new number for every self-contained batch, kept by the deltas after it. */
  chain: number;
}

interface EncodeOptions extends BatchPosition {
  /** Carry the key table (otherwise the receiver must hold it from the base). */
  includeTable: boolean;
  /** Code against this state (it must be the state after batch prevSeq of this stream). */
  base?: BatchStateV2;
  /** Exact sums instead of averages to the quantized unit (~6 bits more per series). */
  exact?: boolean;
  /** A table already built for these keys (saves rebuilding it every interval). */
  table?: KeyTable;
}

interface BatchHeader extends BatchPosition {
  delta: boolean;
  exact: boolean;
  tableId: number;
  /** The table the batch carries, or null when it only names it. */
  table: KeyTable | null;
  /** Offset of what follows the table. */
  bodyOffset: number;
}

/** The batch names a key table this receiver does not have. */
class UnknownKeyTableError extends BatchCodecError {
  constructor(readonly tableId: number) {
    super(`stats batch: unknown key table ${tableId.toString(16).padStart(8, "0")} (the sender must resend it)`);
    this.name = "UnknownKeyTableError";
  }
}

/** A delta batch whose base this receiver does not hold. */
class MissingBaseError extends BatchCodecError {
  constructor(readonly stream: number, readonly baseSeq: number) {
    super(`stats batch: delta against batch ${baseSeq} of stream ${stream.toString(16)}, which this receiver does not hold`);
    this.name = "MissingBaseError";
  }
}

/** Sort the batch's series canonically and build their key table. */
function batchKeyTable(batch: StatsBatch<SeriesSummary>): KeyTable {
  return makeKeyTable(batch.series.map(({ domain, metric, kind }) => ({ domain, metric, kind })));
}

/** Average rounded half up to the quantized unit: min + round(excess / count), in exact integers. */
function unitAverage(d: SeriesSummary): number {
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

/** The delta models, one per column, separately for "same series last time" and "neighbour" references. */
class Models {
  readonly fromBase = Array.from({ length: COLUMNS }, () => new IntModel());
  readonly fromNeighbour = Array.from({ length: COLUMNS }, () => new IntModel());

  /** Continue from where a base's coding ended: the models need not learn the host's series again. */
  constructor(from?: Uint16Array) {
    if (from) this.all.forEach((m, i) => m.probs.set(from.subarray(i * m.probs.length, (i + 1) * m.probs.length)));
  }

  private get all(): IntModel[] {
    return [...this.fromBase, ...this.fromNeighbour];
  }

  snapshot(): Uint16Array {
    const all = this.all;
    const out = new Uint16Array(all.length * all[0].probs.length);
    all.forEach((m, i) => out.set(m.probs, i * m.probs.length));
    return out;
  }
}

const NEW_SERIES_SCALE = 8;
const ZERO_STATE: Float64Array = new Float64Array(STATE_WIDTH);

/**
 * Write a series' new state: its values, and per column the running magnitude of its changes,
 * moved halfway towards the latest |delta| (integers, identical on both ends). A series seen for
 * the first time (coded against its neighbour) starts from an eighth of its value instead: the
 * neighbour's distance says nothing about how much this series will move.
 */
function setState(rows: Float64Array, i: number, ref: Float64Array, values: readonly number[], fromBase: boolean): Float64Array {
  const s = rows.subarray(i * STATE_WIDTH, (i + 1) * STATE_WIDTH);
  for (let c = 0; c < COLUMNS; c++) {
    s[c] = values[c];
    s[COLUMNS + c] = fromBase ? Math.floor((ref[COLUMNS + c] + Math.abs(values[c] - ref[c])) / 2) : Math.floor(Math.abs(values[c]) / NEW_SERIES_SCALE);
  }
  return s;
}

const sgn = (d: number): number => (d === 0 ? 0 : d > 0 ? 1 : 2);
/** Min, max and average of a series tend to move together: the sign of max's change is coded knowing min's, the average's knowing both. */
function signContext(deltas: readonly number[], c: number): number {
  if (c === 4) return sgn(deltas[3]);
  if (c === 5) return 3 * sgn(deltas[3]) + sgn(deltas[4]);
  return 0;
}

const expectedBits = (ref: Float64Array, c: number): number => Math.min(bitLength(ref[COLUMNS + c]), MAX_CODED_BITS);

function checkPosition(p: BatchPosition): void {
  if (!Number.isInteger(p.stream) || p.stream < 1 || p.stream > 0xffffffff) throw new RangeError(`stats batch: bad stream ${p.stream}`);
  if (!Number.isSafeInteger(p.seq) || p.seq < 1 || !Number.isSafeInteger(p.prevSeq) || p.prevSeq < 0 || p.prevSeq >= p.seq || !Number.isSafeInteger(p.chain) || p.chain < 0) {
    throw new RangeError(`stats batch: bad seq ${p.seq} / prevSeq ${p.prevSeq} / chain ${p.chain}`);
  }
}

/** Throws RangeError when a batch could not be encoded (or trusted by a receiver); returns its key table. */
function validateStatsBatch(batch: StatsBatch<SeriesSummary>, exact = false): KeyTable {
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

export function encodeStatsBatchV2(batch: StatsBatch<SeriesSummary>, opts: EncodeOptions): { bytes: Buffer; state: BatchStateV2 } {
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
  w.byte((BATCH_VERSION << 4) | (opts.includeTable ? FLAG_TABLE : 0) | (base ? FLAG_DELTA : 0) | (exact ? FLAG_EXACT : 0));
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
    w.uint(table.bytes.length);
    w.bytes(table.bytes);
  }
  if (base) {
    w.sint(batch.intervalStart - (base.intervalStart + base.intervalMs));
    w.sint(batch.intervalMs - base.intervalMs);
  } else {
    w.uint(batch.intervalStart);
    w.uint(batch.intervalMs);
  }
  const enc = new RangeEncoder();
  const models = new Models(base?.models);
  const states = new Float64Array(series.length * STATE_WIDTH);
  let neighbour: Float64Array = ZERO_STATE;
  series.forEach((s, i) => {
    const fromBase = baseRow(base, keyString(s));
    const ref = fromBase ?? neighbour;
    const ms = fromBase ? models.fromBase : models.fromNeighbour;
    const deltas = rows[i].map((v, c) => v - ref[c]);
    for (let c = 0; c < COLUMNS; c++) ms[c].encode(enc, deltas[c], expectedBits(ref, c), signContext(deltas, c));
    neighbour = setState(states, i, ref, rows[i], fromBase !== undefined);
  });
  const bytes = Buffer.concat([w.finish(), enc.finish()]);
  if (bytes.length > MAX_BATCH_BYTES) throw new RangeError(`encodeStatsBatch: ${bytes.length} bytes exceed ${MAX_BATCH_BYTES}`);
  return {
    bytes,
    state: { stream: opts.stream, chain: opts.chain, seq: opts.seq, exact, intervalStart: batch.intervalStart, intervalMs: batch.intervalMs, table, rows: states, models: models.snapshot() },
  };
}

/** Parse what precedes the body (cheap: no series decoded). Throws BatchCodecError. */
function readBatchHeader(bytes: Uint8Array): BatchHeader {
  if (bytes.length > MAX_BATCH_BYTES) throw new BatchCodecError(`batch of ${bytes.length} bytes exceeds ${MAX_BATCH_BYTES}`);
  if (bytes.length < 2 || bytes[0] !== BATCH_MAGIC) throw new BatchCodecError("not a stats batch (bad magic)");
  if (bytes[1] >> 4 !== BATCH_VERSION) throw new BatchCodecError(`stats batch version ${bytes[1] >> 4} not supported (this end speaks ${BATCH_VERSION})`);
  const flags = bytes[1] & 0x0f;
  if (flags & ~(FLAG_TABLE | FLAG_DELTA | FLAG_EXACT)) throw new BatchCodecError("stats batch: unknown flags");
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
    table = decodeKeyTable(r.bytes(len));
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
export function decodeStatsBatchV2(
  bytes: Uint8Array,
  base?: BatchStateV2,
): StatsBatch & { header: BatchHeader; state: BatchStateV2 } {
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
  const models = new Models(ref?.models);
  const states = new Float64Array(n * STATE_WIDTH);
  const summaries: SeriesSummary[] = [];
  const shapes: CompactShape[] = [];
  let neighbour: Float64Array = ZERO_STATE;
  let values = 0;
  const row = new Array<number>(COLUMNS);
  const deltas = new Array<number>(COLUMNS).fill(0);
  for (let i = 0; i < n; i++) {
    const k = keys.keys[i];
    const bad = (why: string): never => {
      throw new BatchCodecError(`stats batch: series ${k.domain}/${k.metric}: ${why}`);
    };
    const fromBase = baseRow(ref, keyString(k));
    const prev = fromBase ?? neighbour;
    const ms = fromBase ? models.fromBase : models.fromNeighbour;
    for (let c = 0; c < COLUMNS; c++) {
      deltas[c] = ms[c].decode(dec, expectedBits(prev, c), signContext(deltas, c));
      const v = prev[c] + deltas[c];
      if (!Number.isSafeInteger(v)) bad("value out of range");
      row[c] = v;
    }
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
    summaries.push(summary);
    shapes.push(shape);
    values += shape.minCount + shape.maxCount + (shape.between === null ? 0 : 1);
    neighbour = setState(states, i, prev, row, fromBase !== undefined);
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

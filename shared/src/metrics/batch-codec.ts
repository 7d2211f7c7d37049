/**
 * One stats batch: every compacted series of one host for one report interval, as few bytes as
 * we can manage while keeping min, max and avg exact (after quantization, see quantize.ts).
 *
 * What travels per series is its summary (count, first/last time, min, max, excess = Σ(x − min)),
 * not the compacted values: those are a function of the summary (compaction.ts) and the summary
 * is smaller (the between value is a fraction; its numerator, k and m would be three numbers).
 * The receiver rebuilds the values with compactSummary.
 *
 * Layout: byte 0 magic 0xB5, byte 1 = version << 4 | flags (1: body deflated, 2: table included);
 * body: u32 key-table id, [varint length + key table], varint interval start (ms), varint
 * interval length (ms), then six columns in key-table order, each entry a varint:
 *   count        zigzag delta from the previous series' count
 *   first offset zigzag delta of (firstTime − interval start) from the previous series'
 *   span         zigzag delta of (lastTime − firstTime) from the previous series'
 *   min          zigzag (not delta: measured, neighbouring domains' minima are no closer to each
 *                other than to 0, and the delta cost 20 % more after deflate)
 *   range        max − min
 *   excess       Σ(x − min) − range (≥ 0: one sample is the max)
 * The body is deflated (raw) when that is shorter. The sampling grid is shared by all series,
 * so the three time columns are runs of zeros that deflate to almost nothing.
 */
import { deflateRawSync, inflateRawSync, constants } from "node:zlib";
import { BatchCodecError, ByteReader, ByteWriter } from "./byte-io.js";
import { compactShape, compactSummary, MAX_COMPACT_COUNT } from "./compaction.js";
import type { CompactedSeries, CompactShape, SeriesSummary } from "./compaction.js";
import { decodeKeyTable, makeKeyTable, compareKeys, MAX_KEYS } from "./key-table.js";
import type { KeyTable, SeriesKey } from "./key-table.js";
import { MAX_QUANTIZED } from "./quantize.js";

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
export const BATCH_VERSION = 1;
const FLAG_DEFLATED = 1;
const FLAG_TABLE = 2;
/** Decoded (inflated) size limit: 65,536 series fit with room to spare. */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Compacted values a decoded batch may expand to (each series is at most its raw count). */
export const MAX_BATCH_VALUES = 1 << 21;

const isMs = (t: number): boolean => Number.isSafeInteger(t) && t >= 0;

export interface EncodeOptions {
  /** Carry the key table in this batch (otherwise the receiver must know its id). */
  includeTable: boolean;
  /** Use a table already built for these keys (saves rebuilding it every interval). */
  table?: KeyTable;
}

/** Sort the batch's series canonically and build their key table. */
export function batchKeyTable(batch: StatsBatch<SeriesSummary>): KeyTable {
  return makeKeyTable(batch.series.map(({ domain, metric, kind }) => ({ domain, metric, kind })));
}

export function encodeStatsBatch(batch: StatsBatch<SeriesSummary>, opts: EncodeOptions): Buffer {
  const series = [...batch.series].sort(compareKeys);
  const table = opts.table ?? batchKeyTable(batch);
  if (table.keys.length !== series.length || series.some((s, i) => compareKeys(s, table.keys[i]) !== 0)) {
    throw new RangeError("encodeStatsBatch: the key table does not match the batch's series");
  }
  if (!isMs(batch.intervalStart) || !isMs(batch.intervalMs)) throw new RangeError("encodeStatsBatch: bad interval");
  const w = new ByteWriter();
  const id = Buffer.alloc(4);
  id.writeUInt32BE(table.id);
  w.bytes(id);
  if (opts.includeTable) {
    w.uint(table.bytes.length);
    w.bytes(table.bytes);
  }
  w.uint(batch.intervalStart);
  w.uint(batch.intervalMs);
  for (const s of series) {
    const d = s.data;
    const bad = (why: string): never => {
      throw new RangeError(`encodeStatsBatch: ${s.domain}/${s.metric}: ${why}`);
    };
    if (!Number.isInteger(d.count) || d.count < 1 || d.count > MAX_COMPACT_COUNT) bad(`count ${d.count}`);
    if (!isMs(d.firstTime) || !isMs(d.lastTime) || d.lastTime < d.firstTime) bad("times must be integer ms, first ≤ last");
    if (!Number.isInteger(d.min) || !Number.isInteger(d.max) || Math.abs(d.min) > MAX_QUANTIZED || Math.abs(d.max) > MAX_QUANTIZED || d.max < d.min) {
      bad("min/max must be quantized integers, min ≤ max");
    }
    const range = d.max - d.min;
    if (!Number.isSafeInteger(d.excess)) bad(`excess ${d.excess} is not a safe integer (Σ(x − min) must stay below 2^53)`);
    if ((range === 0 ? d.excess !== 0 : d.excess < range || d.excess > (d.count - 1) * range)) {
      bad(`excess ${d.excess} impossible for count ${d.count}, range ${range}`);
    }
    if (d.count === 1 && range !== 0) bad("one sample with min ≠ max");
  }
  type Coding = "delta" | "signed" | "unsigned";
  const column = (f: (d: SeriesSummary) => number, coding: Coding): void => {
    let prev = 0;
    for (const s of series) {
      const v = f(s.data);
      if (coding === "delta") w.sint(v - prev);
      else if (coding === "signed") w.sint(v);
      else w.uint(v);
      prev = v;
    }
  };
  column((d) => d.count, "delta");
  column((d) => d.firstTime - batch.intervalStart, "delta");
  column((d) => d.lastTime - d.firstTime, "delta");
  column((d) => d.min, "signed");
  column((d) => d.max - d.min, "unsigned");
  column((d) => d.excess - (d.max - d.min), "unsigned");
  const body = w.finish();
  const z = deflateRawSync(body, { level: constants.Z_BEST_COMPRESSION });
  const deflate = z.length < body.length;
  const head = Buffer.from([BATCH_MAGIC, (BATCH_VERSION << 4) | (deflate ? FLAG_DEFLATED : 0) | (opts.includeTable ? FLAG_TABLE : 0)]);
  return Buffer.concat([head, deflate ? z : body]);
}

/** The batch names a key table this receiver does not have: ask the sender for the full table. */
export class UnknownKeyTableError extends BatchCodecError {
  constructor(readonly tableId: number) {
    super(`stats batch: unknown key table ${tableId.toString(16).padStart(8, "0")} (the sender must resend it)`);
    this.name = "UnknownKeyTableError";
  }
}

/** What a batch names before its series can be read. */
export interface BatchHeader {
  tableId: number;
  /** The table the batch carries, or null when it only names it. */
  table: KeyTable | null;
}

/**
 * Decode and validate one batch. `knownTable(id)` supplies the table for batches that do not
 * carry one. Throws BatchCodecError (UnknownKeyTableError when the table is unknown).
 */
export function decodeStatsBatch(bytes: Uint8Array, knownTable: (id: number) => KeyTable | undefined = () => undefined): StatsBatch & BatchHeader {
  if (bytes.length > MAX_BATCH_BYTES) throw new BatchCodecError(`batch of ${bytes.length} bytes exceeds ${MAX_BATCH_BYTES}`);
  if (bytes.length < 2 || bytes[0] !== BATCH_MAGIC) throw new BatchCodecError("not a stats batch (bad magic)");
  if (bytes[1] >> 4 !== BATCH_VERSION) throw new BatchCodecError(`stats batch version ${bytes[1] >> 4} not supported`);
  const flags = bytes[1] & 0x0f;
  if (flags & ~(FLAG_DEFLATED | FLAG_TABLE)) throw new BatchCodecError("stats batch: unknown flags");
  let body: Uint8Array = bytes.subarray(2);
  if (flags & FLAG_DEFLATED) {
    try {
      body = inflateRawSync(body, { maxOutputLength: MAX_BATCH_BYTES });
    } catch (e) {
      throw new BatchCodecError(`stats batch: bad or oversized deflate data (${(e as Error).message})`);
    }
  }
  const r = new ByteReader(body);
  const tableId = Buffer.from(r.bytes(4)).readUInt32BE(0);
  let table: KeyTable | null = null;
  if (flags & FLAG_TABLE) {
    const len = r.count("key table length", MAX_BATCH_BYTES);
    table = decodeKeyTable(r.bytes(len));
    if (table.id !== tableId) throw new BatchCodecError("stats batch: key table id does not match its content");
  }
  const keys = table ?? knownTable(tableId);
  if (!keys) throw new UnknownKeyTableError(tableId);
  const intervalStart = r.uint();
  const intervalMs = r.uint();
  const n = keys.keys.length;
  if (n > MAX_KEYS || n * 6 > r.remaining) throw new BatchCodecError(`stats batch: ${n} series cannot fit in ${r.remaining} bytes`);
  const column = (coding: "delta" | "signed" | "unsigned"): number[] => {
    const out = new Array<number>(n);
    let prev = 0;
    for (let i = 0; i < n; i++) {
      prev = coding === "delta" ? prev + r.sint() : coding === "signed" ? r.sint() : r.uint();
      out[i] = prev;
    }
    return out;
  };
  const counts = column("delta");
  const firsts = column("delta");
  const spans = column("delta");
  const mins = column("signed");
  const ranges = column("unsigned");
  const excesses = column("unsigned");
  r.end("stats batch");
  const summaries: SeriesSummary[] = [];
  const shapes: CompactShape[] = [];
  let values = 0;
  keys.keys.forEach((k, i) => {
    const bad = (why: string): never => {
      throw new BatchCodecError(`stats batch: series ${k.domain}/${k.metric}: ${why}`);
    };
    const count = counts[i];
    const firstTime = intervalStart + firsts[i];
    const lastTime = firstTime + spans[i];
    const min = mins[i];
    const max = min + ranges[i];
    const excess = excesses[i] + ranges[i];
    if (count < 1 || count > MAX_COMPACT_COUNT) bad(`count ${count}`);
    if (!isMs(firstTime) || !isMs(lastTime) || lastTime < firstTime) bad("bad times");
    if (Math.abs(min) > MAX_QUANTIZED || Math.abs(max) > MAX_QUANTIZED) bad("value out of range");
    if (ranges[i] === 0 ? excess !== 0 : count === 1 || excess > (count - 1) * ranges[i] || !Number.isSafeInteger(excess)) {
      bad("impossible excess for its count and range");
    }
    const summary = { count, firstTime, lastTime, min, max, excess };
    try {
      shapes.push(compactShape(summary));
    } catch (e) {
      bad((e as Error).message);
    }
    summaries.push(summary);
    values += shapes[i].minCount + shapes[i].maxCount + (shapes[i].between === null ? 0 : 1);
  });
  // a few bytes can claim a huge count with one spike: bound what we materialise
  if (values > MAX_BATCH_VALUES) throw new BatchCodecError(`stats batch: ${values} compacted values exceed ${MAX_BATCH_VALUES}`);
  const series: StatsSeries[] = keys.keys.map((k, i) => ({ ...k, data: compactSummary(summaries[i], shapes[i]) }));
  return { intervalStart, intervalMs, series, tableId, table };
}

/**
 * The series key table of a stats batch: which (domain, metric) each column entry belongs to.
 * Keys change only when domains, disks or NICs come and go, so a batch names its table by a
 * 32-bit id (a hash of the table's bytes) and carries the table itself only when the receiver
 * may not have it (see batch-stream.ts).
 *
 * Layout: domains (a canonical lower-case UUID as a 0 byte + 16 raw bytes, anything else as
 * varint(len + 1) + UTF-8), metrics (name + kind code), then a presence bitmap, one row per
 * metric and one bit per domain (30 domains × 14 metrics: 53 bytes instead of 600 for index pairs).
 * Keys are in canonical order (kind, metric, domain) so that neighbouring column entries are the
 * same metric of different domains: that is what makes the value columns compress.
 */
import { createHash } from "node:crypto";
import { BatchCodecError, ByteReader, ByteWriter } from "./byte-io.js";
import { METRIC_KINDS } from "./quantize.js";
import type { MetricKind } from "./quantize.js";

export interface SeriesKey {
  /** Domain UUID (or any short name, e.g. "" for the host itself). */
  domain: string;
  /** e.g. `cpu`, `vcpu.0.time`, `vcpu.0.delay`, `block.vda.rd.bytes`, `net.tap0.tx.bytes`. */
  metric: string;
  kind: MetricKind;
}

export interface KeyTable {
  id: number;
  keys: readonly SeriesKey[];
  /** The encoded table (what the id hashes). */
  bytes: Buffer;
}

export const MAX_KEYS = 65_536;
export const MAX_NAME_BYTES = 255;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const kindOrder = (k: MetricKind): number => METRIC_KINDS.indexOf(k);
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Canonical key order: kind, then metric, then domain. */
export function compareKeys(a: SeriesKey, b: SeriesKey): number {
  return kindOrder(a.kind) - kindOrder(b.kind) || cmp(a.metric, b.metric) || cmp(a.domain, b.domain);
}

function writeDomain(w: ByteWriter, d: string): void {
  if (UUID.test(d)) {
    w.uint(0);
    w.bytes(Buffer.from(d.replace(/-/g, ""), "hex"));
    return;
  }
  const b = Buffer.from(d, "utf8");
  w.uint(b.length + 1);
  w.bytes(b);
}

function readDomain(r: ByteReader): string {
  const tag = r.uint();
  if (tag === 0) {
    const h = Buffer.from(r.bytes(16)).toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  if (tag - 1 > MAX_NAME_BYTES) throw new BatchCodecError(`key table: domain name of ${tag - 1} bytes`);
  const b = r.bytes(tag - 1);
  const s = Buffer.from(b).toString("utf8");
  if (!Buffer.from(s, "utf8").equals(b) || UUID.test(s)) throw new BatchCodecError("key table: bad domain name");
  return s;
}

function tableId(bytes: Buffer): number {
  return createHash("sha256").update(bytes).digest().readUInt32BE(0);
}

/** Build the table for a set of keys (any order; duplicates are an error). */
export function makeKeyTable(keys: readonly SeriesKey[]): KeyTable {
  if (keys.length > MAX_KEYS) throw new RangeError(`key table: ${keys.length} keys exceed ${MAX_KEYS}`);
  const sorted = [...keys].sort(compareKeys);
  const domains = [...new Set(sorted.map((k) => k.domain))].sort(cmp);
  const metrics = [...new Map(sorted.map((k) => [k.metric, k.kind])).entries()];
  const dIdx = new Map(domains.map((d, i) => [d, i]));
  const mIdx = new Map(metrics.map(([m], i) => [m, i]));
  const w = new ByteWriter();
  w.uint(domains.length);
  for (const d of domains) {
    if (Buffer.byteLength(d, "utf8") > MAX_NAME_BYTES) throw new RangeError(`key table: domain "${d}" too long`);
    writeDomain(w, d);
  }
  w.uint(metrics.length);
  for (const [m, kind] of metrics) {
    if (m.length === 0 || Buffer.byteLength(m, "utf8") > MAX_NAME_BYTES) throw new RangeError(`key table: bad metric name "${m}"`);
    w.string(m);
    w.byte(kindOrder(kind));
  }
  const bits = Buffer.alloc(Math.ceil((metrics.length * domains.length) / 8));
  for (let i = 0; i < sorted.length; i++) {
    const k = sorted[i];
    if (i > 0 && compareKeys(sorted[i - 1], k) === 0) throw new RangeError(`key table: duplicate key ${k.domain}/${k.metric}`);
    const mi = mIdx.get(k.metric) as number;
    if (metrics[mi][1] !== k.kind) throw new RangeError(`key table: metric ${k.metric} with two kinds`);
    const bit = mi * domains.length + (dIdx.get(k.domain) as number);
    bits[bit >> 3] |= 1 << (bit & 7);
  }
  w.bytes(bits);
  const bytes = w.finish();
  return { id: tableId(bytes), keys: sorted, bytes };
}

/** Parse and validate a table; throws BatchCodecError. */
export function decodeKeyTable(bytes: Uint8Array): KeyTable {
  const r = new ByteReader(bytes);
  const nd = r.count("key table domains", MAX_KEYS);
  const domains: string[] = [];
  for (let i = 0; i < nd; i++) domains.push(readDomain(r));
  const nm = r.count("key table metrics", MAX_KEYS, 3);
  const metrics: [string, MetricKind][] = [];
  for (let i = 0; i < nm; i++) {
    const m = r.string("metric name", MAX_NAME_BYTES);
    const kind = METRIC_KINDS[r.byte()];
    if (m.length === 0 || kind === undefined) throw new BatchCodecError("key table: bad metric entry");
    metrics.push([m, kind]);
  }
  const bits = r.bytes(Math.ceil((nm * nd) / 8)); // throws when the input cannot hold the bitmap
  const keys: SeriesKey[] = [];
  for (let mi = 0; mi < nm; mi++) {
    for (let di = 0; di < nd; di++) {
      const bit = mi * nd + di;
      if (!(bits[bit >> 3] & (1 << (bit & 7)))) continue;
      if (keys.length >= MAX_KEYS) throw new BatchCodecError(`key table: more than ${MAX_KEYS} keys`);
      keys.push({ domain: domains[di], metric: metrics[mi][0], kind: metrics[mi][1] });
    }
  }
  r.end("key table");
  let table: KeyTable;
  try {
    table = makeKeyTable(keys);
  } catch (e) {
    throw new BatchCodecError(`key table: ${(e as Error).message}`);
  }
  // one table, one encoding: anything else would give two ids for the same keys
  if (!table.bytes.equals(bytes)) throw new BatchCodecError("key table: not canonically encoded");
  return table;
}

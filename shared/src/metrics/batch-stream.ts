/**
 * Stats batches as a stream from one sender (a nanoprobe) to one receiver (the CMA): each batch a
 * delta against the one before it, every batch delivered once, none decoded against the wrong base.
 *
 * The transport (the reliable channel) delivers in order and exactly once within one pair of
 * sessions, so the sender codes each batch against the previous one it sent. What can go wrong is a
 * change of session (a restarted CMA, a give-up) or a receiver that lost its state. Then:
 * - a send that fails (`failed`) puts that batch back in the queue, and the next batch that goes
 *   out is self-contained (key table, no base);
 * - the receiver refuses what it cannot decode or what would leave a hole: a delta whose base it
 *   does not hold, an unknown key table, or a batch whose predecessor (`prevSeq`) it never saw. It
 *   answers "resend from N" (the first batch it lacks); the sender (`resend`) re-queues what it
 *   still holds from N on, self-contained. Batches it no longer holds are declared lost in the
 *   next batch's prevSeq (counted on both ends) so the stream goes on;
 * - a batch it already has (seq ≤ the last it accepted) is a duplicate and is dropped (the last one
 *   again, self-contained, still gives the receiver that chain's state, so the deltas after it decode).
 * The sender keeps the last `retain` batches (queued or sent) for that; the oldest queued ones go
 * first when the receiver stays away longer (counted). It keeps each as its series' summaries in one
 * typed array, with the key table shared while the keys stay the same: 30 batches of 660 series
 * held as objects (with their compacted values) were ~20 MiB of heap, as numbers ~1 MiB.
 */
import { decodeStatsBatch, encodeStatsBatch, MissingBaseError, readBatchHeader, UnknownKeyTableError, validateStatsBatch } from "./batch-codec.js";
import { compareKeys } from "./key-table.js";
import type { BatchState, StatsBatch } from "./batch-codec.js";
import type { SeriesSummary } from "./compaction.js";
import type { KeyTable } from "./key-table.js";
import { randomBytes } from "node:crypto";

export interface StatsBatchSenderOptions {
  /** Batches kept for (re)sending: queued while the receiver is away, or sent and maybe still asked for. Default 30. */
  retain?: number;
  /** Exact sums instead of averages to the quantized unit (see batch-codec.ts). */
  exact?: boolean;
  /** The stream id (default: random); tests use it to simulate a restart. */
  stream?: number;
}

export interface DrainedBatch {
  seq: number;
  /** Pass back to failed(): a failure of an older attempt is ignored. */
  attempt: number;
  bytes: Buffer;
  /** No base (and the key table included). */
  selfContained: boolean;
  series: number;
  intervalStart: number;
}

interface Entry {
  seq: number;
  prevSeq: number;
  intervalStart: number;
  intervalMs: number;
  /** Shared by consecutive entries with the same keys (they change only when guests come and go). */
  table: KeyTable;
  /** Per key of `table` in order, its summary's SUMMARY_FIELDS: up to `retain` batches wait, as numbers, not objects. */
  columns: Float64Array;
  sent: boolean;
  attempt: number;
}

/** What a retained batch keeps of each series: its summary (the compacted values are rebuilt from it). */
const SUMMARY_FIELDS = ["count", "firstTime", "lastTime", "min", "max", "excess"] as const satisfies readonly (keyof SeriesSummary)[];

/** A batch as a retained entry: summaries in key-table order, in one typed array. */
function toColumns(batch: StatsBatch<SeriesSummary>): Float64Array {
  const series = [...batch.series].sort(compareKeys); // the table's order (makeKeyTable sorts the same way)
  const columns = new Float64Array(series.length * SUMMARY_FIELDS.length);
  series.forEach((s, i) => SUMMARY_FIELDS.forEach((f, j) => (columns[i * SUMMARY_FIELDS.length + j] = s.data[f])));
  return columns;
}

/** The batch an entry holds, for the encoder. */
function fromColumns(e: Entry): StatsBatch<SeriesSummary> {
  const w = SUMMARY_FIELDS.length;
  const series = e.table.keys.map((k, i) => {
    const c = e.columns.subarray(i * w, (i + 1) * w);
    return { ...k, data: { count: c[0], firstTime: c[1], lastTime: c[2], min: c[3], max: c[4], excess: c[5] } };
  });
  return { intervalStart: e.intervalStart, intervalMs: e.intervalMs, series };
}

/** How much a sender holds: counts, bounded by `retain` (see retainedSizes()). */
export interface StatsSenderRetained {
  /** batches held (queued or sent), at most `retain` */
  batches: number;
  /** distinct key tables among them */
  tables: number;
  /** series summaries held over all batches */
  series: number;
}

export interface StatsSenderCounters {
  batches: number;
  sent: number;
  selfContained: number;
  bytesSent: number;
  failedSends: number;
  resendRequests: number;
  /** Queued batches dropped because the receiver stayed away longer than `retain` batches. */
  dropped: number;
  /** Batches the receiver asked for that were no longer held, or whose failed send came too late. */
  unavailable: number;
}

export class StatsBatchSender {
  readonly stream: number;
  readonly counters: StatsSenderCounters = { batches: 0, sent: 0, selfContained: 0, bytesSent: 0, failedSends: 0, resendRequests: 0, dropped: 0, unavailable: 0 };
  private readonly retain: number;
  private readonly exact: boolean;
  private lastSeq = 0;
  private entries: Entry[] = [];
  /** State after the last batch handed out, while the receiver can be trusted to hold it. */
  private chain: BatchState | undefined;
  /** The receiver holds nothing after this seq (a resend asked for more than we hold). */
  private floor: number | undefined;
  private chains = 0;

  constructor(opts: StatsBatchSenderOptions = {}) {
    this.retain = Math.max(1, opts.retain ?? 30);
    this.exact = opts.exact ?? false;
    this.stream = opts.stream ?? (randomBytes(4).readUInt32BE(0) || 1);
  }

  /** Queue one interval's batch; returns its seq. Throws RangeError for a batch that cannot be encoded. */
  add(batch: StatsBatch<SeriesSummary>): number {
    let table = validateStatsBatch(batch, this.exact);
    const seq = ++this.lastSeq;
    let prevSeq = seq - 1;
    if (this.floor !== undefined) {
      prevSeq = Math.min(prevSeq, this.floor);
      this.floor = undefined;
    }
    const last = this.entries[this.entries.length - 1];
    if (last && last.table.id === table.id) table = last.table;
    this.entries.push({ seq, prevSeq, intervalStart: batch.intervalStart, intervalMs: batch.intervalMs, table, columns: toColumns(batch), sent: false, attempt: 0 });
    this.counters.batches++;
    while (this.entries.length > this.retain) this.removeOldest();
    return seq;
  }

  private removeOldest(): void {
    const e = this.entries.shift()!;
    if (e.sent) return; // it went out; the receiver has it or will ask (and hear it is gone)
    this.counters.dropped++;
    const next = this.entries[0];
    if (next && next.prevSeq === e.seq) next.prevSeq = e.prevSeq; // the stream skips it on purpose
  }

  /** Everything queued, encoded in order: deltas while the chain holds, self-contained after a break. */
  drain(): DrainedBatch[] {
    const out: DrainedBatch[] = [];
    for (const e of this.entries) {
      if (e.sent) continue;
      const base = this.chain && this.chain.seq === e.prevSeq ? this.chain : undefined;
      const batch = fromColumns(e);
      const { bytes, state } = encodeStatsBatch(batch, {
        stream: this.stream, seq: e.seq, prevSeq: e.prevSeq, chain: base ? base.chain : ++this.chains, base, exact: this.exact, table: e.table,
        includeTable: !base || base.table.id !== e.table.id,
      });
      e.sent = true;
      e.attempt++;
      this.chain = state;
      this.counters.sent++;
      this.counters.bytesSent += bytes.length;
      if (!base) this.counters.selfContained++;
      out.push({ seq: e.seq, attempt: e.attempt, bytes, selfContained: !base, series: batch.series.length, intervalStart: e.intervalStart });
    }
    return out;
  }

  /** The transport gave up on a batch (the receiver may not have it): queue it again, self-contained. */
  failed(seq: number, attempt: number): void {
    this.counters.failedSends++;
    const e = this.entries.find((x) => x.seq === seq);
    if (!e) {
      this.counters.unavailable++;
      return;
    }
    if (!e.sent || e.attempt !== attempt) return; // already queued again
    e.sent = false;
    this.chain = undefined;
  }

  /** A new receiver session (e.g. the CMA restarted): the next batch goes self-contained. */
  restart(): void {
    this.chain = undefined;
  }

  /** The receiver asked for everything from fromSeq on. Returns false when it is about another stream. */
  resend(stream: number, fromSeq: number): boolean {
    if (stream !== this.stream || !Number.isSafeInteger(fromSeq) || fromSeq < 1) return false;
    this.counters.resendRequests++;
    this.chain = undefined;
    let first: Entry | undefined;
    for (const e of this.entries) {
      if (e.seq < fromSeq) continue;
      first ??= e;
      e.sent = false;
    }
    if (first && first.prevSeq >= fromSeq) {
      this.counters.unavailable += first.prevSeq - fromSeq + 1; // at most: some of them may have been dropped already
      first.prevSeq = fromSeq - 1;
    } else if (!first && this.lastSeq >= fromSeq) {
      this.counters.unavailable += this.lastSeq - fromSeq + 1;
      this.floor = fromSeq - 1;
    }
    return true;
  }

  /** Batches waiting to be sent. */
  get pending(): number {
    return this.entries.reduce((n, e) => n + (e.sent ? 0 : 1), 0);
  }

  /** What is held, for tests and the status: at most `retain` batches, however long the sender runs. */
  retainedSizes(): StatsSenderRetained {
    return {
      batches: this.entries.length,
      tables: new Set(this.entries.map((e) => e.table)).size,
      series: this.entries.reduce((n, e) => n + e.table.keys.length, 0),
    };
  }
}

export type ReceiveResult =
  | { status: "accepted"; batch: StatsBatch; stream: number; seq: number; selfContained: boolean; bytes: number; skipped: number }
  | { status: "duplicate"; stream: number; seq: number }
  | { status: "resend"; stream: number; seq: number; fromSeq: number; reason: string };

/** Where a host's stream stands at the receiver (what a restarted receiver must remember to refuse duplicates). */
export interface StreamPosition {
  stream: number;
  lastSeq: number;
}

export class StatsBatchReceiver {
  private readonly hosts = new Map<string, StreamPosition & { state?: BatchState }>();

  /**
   * Accept, refuse as a duplicate, or ask for a resend. Throws BatchCodecError for input that is
   * not a valid batch (nothing changes then).
   */
  receive(host: string, bytes: Uint8Array): ReceiveResult {
    const h = readBatchHeader(bytes);
    const cur = this.hosts.get(host);
    const known = cur !== undefined && cur.stream === h.stream;
    if (known) {
      if (h.seq <= cur.lastSeq) {
        // the last batch again, self-contained (its acknowledgement was lost, e.g. with a restarted
        // receiver): same data, new chain; holding its state lets the deltas after it decode
        if (h.seq === cur.lastSeq && !h.delta) {
          try {
            this.hosts.set(host, { ...cur, state: decodeStatsBatch(bytes).state });
          } catch {
            // not decodable: keep what we hold, the next delta will ask for a resend
          }
        }
        return { status: "duplicate", stream: h.stream, seq: h.seq };
      }
      if (h.prevSeq > cur.lastSeq) {
        return { status: "resend", stream: h.stream, seq: h.seq, fromSeq: cur.lastSeq + 1, reason: `batches ${cur.lastSeq + 1}..${h.prevSeq} missing` };
      }
    }
    let d: ReturnType<typeof decodeStatsBatch>;
    try {
      d = decodeStatsBatch(bytes, known ? cur.state : undefined);
    } catch (e) {
      if (e instanceof MissingBaseError || e instanceof UnknownKeyTableError) {
        return { status: "resend", stream: h.stream, seq: h.seq, fromSeq: known ? cur.lastSeq + 1 : h.seq, reason: e.message };
      }
      throw e;
    }
    const skipped = known ? h.seq - 1 - cur.lastSeq : 0;
    this.hosts.set(host, { stream: h.stream, lastSeq: h.seq, state: d.state });
    return {
      status: "accepted", stream: h.stream, seq: h.seq, selfContained: !h.delta, bytes: bytes.length, skipped,
      batch: { intervalStart: d.intervalStart, intervalMs: d.intervalMs, series: d.series },
    };
  }

  position(host: string): StreamPosition | undefined {
    const c = this.hosts.get(host);
    return c ? { stream: c.stream, lastSeq: c.lastSeq } : undefined;
  }

  /** After a restart: remember where the host's stream stood (its next batch must be self-contained). */
  restore(host: string, pos: StreamPosition): void {
    this.hosts.set(host, { stream: pos.stream, lastSeq: pos.lastSeq });
  }

  forget(host: string): void {
    this.hosts.delete(host);
  }

  /** Drop the decoding state but keep the position (duplicates stay refused). */
  forgetState(host: string): void {
    const c = this.hosts.get(host);
    if (c) this.hosts.set(host, { stream: c.stream, lastSeq: c.lastSeq });
  }
}

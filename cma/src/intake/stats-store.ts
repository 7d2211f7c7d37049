/**
 * Stats batches from the nanoprobes: decoded and validated (shared/src/metrics), the latest kept
 * per host, each accepted batch an event for the Zabbix bridge — exactly once per batch.
 *
 * Each host sends a stream of batches, mostly deltas against the previous one. What this store
 * cannot take (a delta whose base it lacks after a restart, an unknown key table, a batch after a
 * hole) it refuses and asks the host to send again from the first batch it lacks
 * (`requestResend`, a signed StatsResend command), at most once per RESEND_QUIET_MS for the same
 * point, since everything the host has in flight is refused the same way. A batch it already has
 * is dropped as a duplicate. With a dataDir the stream positions survive a restart
 * (stats-stream-positions.ts), so duplicates are refused across restarts too.
 */
import { EventEmitter } from "node:events";
import { BatchCodecError, StatsBatchReceiver } from "@ringwatch/shared";
import type { Logger, StatsBatch } from "@ringwatch/shared";
import { StreamPositionStore } from "./stats-stream-positions.js";
import { DeliveredPositions } from "./stats-delivered.js";

export interface StatsEvent {
  host: string;
  /** the host's stream (one per nanoprobe process) and the batch's number in it */
  stream: number;
  seq: number;
  batch: StatsBatch;
}

export interface StatsStoreOptions {
  /** keep stream positions here (the CMA's dataDir) */
  dataDir?: string;
  /** ask a host to resend its stream from fromSeq on */
  requestResend?: (host: string, stream: number, fromSeq: number) => void;
  /**
   * With Zabbix: when the oldest value not yet confirmed by Zabbix entered the pipeline (undefined:
   * none waits). Set (with dataDir), the positions Zabbix confirmed are kept too (stats-delivered.ts).
   */
  undeliveredSince?: () => number | undefined;
}

/**
 * How often the delivered positions are brought forward and written. The file is read only by the
 * state mirror, at most every 10 s (ha/state-mirror.ts THROTTLED_MS): writing it (~500 KB at 10,000
 * hosts) more often than that would be disk work nobody reads.
 */
export const DELIVERED_SAVE_MS = 5000;

/** A refused batch is asked for again at most this often (the ones behind it are refused the same way). */
export const RESEND_QUIET_MS = 10_000;

/** A batch this store could not decode (monitoring errors watch these). */
export interface StatsRefusal {
  host: string;
  error: string;
}

export class StatsStore extends EventEmitter<{ event: [StatsEvent]; refused: [StatsRefusal] }> {
  private readonly receiver = new StatsBatchReceiver();
  private readonly latestByHost = new Map<string, StatsBatch>();
  private readonly asked = new Map<string, { stream: number; fromSeq: number; at: number }>();
  private readonly positions: StreamPositionStore | undefined;
  /** what Zabbix confirmed (with undeliveredSince and a dataDir) */
  readonly delivered: DeliveredPositions | undefined;
  private deliveredTimer: NodeJS.Timeout | undefined;
  readonly counters = { batches: 0, series: 0, bytes: 0, selfContained: 0, refused: 0, duplicates: 0, resendRequests: 0, awaitingResend: 0, skipped: 0, positionWriteErrors: 0 };

  constructor(
    private readonly log: Logger,
    private readonly opts: StatsStoreOptions = {},
  ) {
    super();
    if (opts.dataDir) {
      this.positions = new StreamPositionStore(opts.dataDir);
      const { positions, error } = this.positions.load();
      if (error) log.warn({ err: error }, "stats stream positions not loaded: duplicates after this restart are possible");
      for (const [host, p] of positions) this.receiver.restore(host, p);
      if (positions.size > 0) log.info({ hosts: positions.size }, "stats stream positions loaded");
      if (opts.undeliveredSince) {
        this.delivered = new DeliveredPositions(opts.dataDir, positions);
        this.saveDelivered();
        this.deliveredTimer = setInterval(() => this.saveDelivered(), DELIVERED_SAVE_MS).unref();
      }
    }
  }

  private saveDelivered(): void {
    if (!this.delivered) return;
    this.delivered.advance(this.opts.undeliveredSince?.());
    try {
      this.delivered.save();
    } catch (e) {
      this.counters.positionWriteErrors++;
      this.log.warn({ err: (e as Error).message, path: this.delivered.path }, "cannot save the delivered stats positions");
    }
  }

  /** Stop bringing the delivered positions forward (after one last time). */
  close(): void {
    if (this.deliveredTimer) clearInterval(this.deliveredTimer);
    this.deliveredTimer = undefined;
    this.saveDelivered();
  }

  latest(host: string): StatsBatch | undefined {
    return this.latestByHost.get(host);
  }

  /**
   * A host left or died: drop what decoding its next delta would need (tens of KB per host) but
   * keep its position, so a batch it already sent is still a duplicate. If it comes back its first
   * delta is refused and asked for again, self-contained.
   */
  forget(host: string): void {
    this.receiver.forgetState(host);
    this.latestByHost.delete(host);
  }

  /** True when the batch was accepted (new data for the bridge). Never throws. */
  apply(host: string, bytes: Uint8Array, now = Date.now()): boolean {
    let r: ReturnType<StatsBatchReceiver["receive"]>;
    try {
      r = this.receiver.receive(host, bytes);
    } catch (e) {
      this.counters.refused++;
      this.log.warn({ host, err: (e as Error).message, codec: e instanceof BatchCodecError }, "stats batch refused");
      this.emit("refused", { host, error: (e as Error).message.slice(0, 500) });
      return false;
    }
    if (r.status === "duplicate") {
      this.counters.duplicates++;
      this.log.debug({ host, stream: r.stream, seq: r.seq }, "stats batch already accepted: dropped");
      return false;
    }
    if (r.status === "resend") {
      const last = this.asked.get(host);
      if (last && last.stream === r.stream && last.fromSeq === r.fromSeq && now - last.at < RESEND_QUIET_MS) {
        this.counters.awaitingResend++;
        return false;
      }
      this.asked.set(host, { stream: r.stream, fromSeq: r.fromSeq, at: now });
      this.counters.resendRequests++;
      this.log.info({ host, stream: r.stream, seq: r.seq, fromSeq: r.fromSeq, reason: r.reason }, "stats batch cannot be taken: asking for a resend");
      this.opts.requestResend?.(host, r.stream, r.fromSeq);
      return false;
    }
    // the bridge first, then the position on disk: a crash in between can make a duplicate, never a loss
    this.latestByHost.set(host, r.batch);
    this.emit("event", { host, stream: r.stream, seq: r.seq, batch: r.batch });
    this.delivered?.accepted(host, r.stream, r.seq, Date.now()); // after the bridge took its values
    if (this.positions) {
      try {
        this.positions.set(host, { stream: r.stream, lastSeq: r.seq });
      } catch (e) {
        this.counters.positionWriteErrors++;
        this.log.warn({ err: (e as Error).message, path: this.positions.path }, "cannot save the stats stream position");
      }
    }
    this.asked.delete(host);
    this.counters.batches++;
    this.counters.series += r.batch.series.length;
    this.counters.bytes += r.bytes;
    if (r.selfContained) this.counters.selfContained++;
    this.counters.skipped += r.skipped;
    if (r.skipped > 0) this.log.warn({ host, stream: r.stream, seq: r.seq, skipped: r.skipped }, "the host dropped stats batches it could not keep");
    this.log.debug({ host, stream: r.stream, seq: r.seq, intervalStart: r.batch.intervalStart, series: r.batch.series.length, bytes: r.bytes, selfContained: r.selfContained }, "stats batch accepted");
    return true;
  }
}

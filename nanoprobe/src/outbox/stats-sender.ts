/**
 * Stats: one batch per report interval into a StatsBatchSender (shared/src/metrics/batch-stream.ts),
 * encoded only when it can go out: a delta against the previous batch while the CMA session holds,
 * self-contained after a send failed or a CMA (re)registered us. Batches whose send failed are
 * queued again (a restarted CMA gets them, none lost); a CMA that cannot decode one asks for a
 * resend (StatsResend command); the CMA drops the duplicates this can make.
 *
 * Not a keyed outbox: batches are an ordered, numbered stream, and every one of them counts.
 */
import { StatsBatchSender } from "@ringwatch/shared";
import type { Logger, SeriesSummary, StatsBatch } from "@ringwatch/shared";
import type { CmaRegistration } from "./cma-registration.js";

export interface StatsSenderCounters {
  statsBatchesSent: number;
  statsBatchesUnacknowledged: number;
  /** batches the codec refused (a value out of its range); never expected */
  statsBatchesInvalid: number;
}

export class StatsSender {
  /** this host's stats batch stream to the CMA */
  readonly stream: StatsBatchSender;
  private flushScheduled = false;

  constructor(
    private readonly cma: CmaRegistration,
    private readonly counters: StatsSenderCounters,
    private readonly log: Logger,
    opts: { exact: boolean; retain: number },
  ) {
    this.stream = new StatsBatchSender(opts);
  }

  /** One interval's batch into the stream; it goes out when the CMA can take it. */
  add(batch: StatsBatch<SeriesSummary>): void {
    try {
      const seq = this.stream.add(batch);
      this.log.debug({ seq, stream: this.stream.stream, intervalStart: batch.intervalStart, series: batch.series.length }, "stats batch made");
    } catch (e) {
      this.counters.statsBatchesInvalid++;
      this.log.warn({ err: (e as Error).message }, "stats batch refused by the codec");
      return;
    }
    this.scheduleFlush();
  }

  /** It may be a new CMA: the next stats batch goes self-contained. */
  restart(): void {
    this.stream.restart();
  }

  /** The CMA asked for the batches of a stream again from fromSeq; false when the stream is not ours. */
  resend(stream: number, fromSeq: number): boolean {
    const ours = this.stream.resend(stream, fromSeq);
    this.log.info({ stream, fromSeq, ours }, "CMA asked for stats batches again");
    this.scheduleFlush();
    return ours;
  }

  /**
   * Flush on the next turn of the event loop: when a restarted CMA registers us, the sends still
   * pending to its previous incarnation are failed in the same turn, and must be queued again
   * before anything newer goes out (the stream stays in order).
   */
  scheduleFlush(): void {
    if (this.flushScheduled || this.cma.stopped) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /**
   * Send what waits now, not on the next turn: the last batch goes ahead of the goodbye that
   * follows it on the same channel. Resolves once the CMA acknowledged every batch sent (false:
   * one was not, or the CMA cannot take them now).
   */
  flushNow(): Promise<boolean> {
    if (!this.cma.ready || this.cma.stopped) return Promise.resolve(false);
    return Promise.all(this.flush()).then((acks) => acks.every(Boolean));
  }

  /** Each send settles true when acknowledged, false when not (then queued again). */
  private flush(): Promise<boolean>[] {
    if (!this.cma.ready || this.cma.stopped) return [];
    return this.stream.drain().map((d) => {
      this.counters.statsBatchesSent++;
      this.log.debug({ seq: d.seq, selfContained: d.selfContained, bytes: d.bytes.length, series: d.series, intervalStart: d.intervalStart }, "stats batch sent");
      return this.cma.send({ stats: { batch: d.bytes } }).then(() => true, (e: Error) => {
        if (this.cma.stopped) return false;
        this.counters.statsBatchesUnacknowledged++;
        this.stream.failed(d.seq, d.attempt); // queued again, self-contained
        this.log.debug({ seq: d.seq, err: e.message }, "stats batch not acknowledged: queued again");
        this.cma.lost();
        this.scheduleFlush();
        return false;
      });
    });
  }
}

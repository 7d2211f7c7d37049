/**
 * The history's retention job: full-resolution intervals older than fullDays and hourly rollups
 * older than hourlyDays are deleted, series by series (each a short index range; never a scan of
 * the whole table), SLICE series per event-loop turn so the CMA keeps serving in between. Runs at
 * start and every `everyMs`. The rollups need no job: the store keeps them as it writes.
 */
import type { Logger } from "@ringwatch/shared";
import { HOUR_MS } from "./history-store.js";
import type { HistoryStore } from "./history-store.js";

export const DAY_MS = 86_400_000;
/** Series per event-loop turn (each a delete of about an hour of its rows: well under a ms). */
const SLICE = 200;

export interface RetentionOptions {
  fullDays: number;
  hourlyDays: number;
  everyMs: number;
}

/** What is kept at `now`: intervals from pointsSince on, hourly rollups from hoursSince on. */
export function retentionCutoffs(o: Pick<RetentionOptions, "fullDays" | "hourlyDays">, now: number): { pointsSince: number; hoursSince: number } {
  return { pointsSince: now - o.fullDays * DAY_MS, hoursSince: Math.floor((now - o.hourlyDays * DAY_MS) / HOUR_MS) * HOUR_MS };
}

export class HistoryRetention {
  readonly counters = { runs: 0, rowsDeleted: 0, errors: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: HistoryStore,
    private readonly o: RetentionOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    void this.run();
    this.timer = setInterval(() => void this.run(), this.o.everyMs);
    this.timer.unref();
  }

  /** One pass at `now` (a pass already under way is waited for instead). Never rejects. */
  run(now = Date.now()): Promise<void> {
    this.running ??= this.pass(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(now: number): Promise<void> {
    const { pointsSince, hoursSince } = retentionCutoffs(this.o, now);
    let after = 0, deleted = 0;
    try {
      for (;;) {
        if (this.stopped) return;
        const ids = this.store.seriesIds(after, SLICE);
        for (const id of ids) deleted += this.store.expire(id, pointsSince, hoursSince);
        if (ids.length < SLICE) break;
        after = ids[ids.length - 1];
        await new Promise((r) => setImmediate(r));
      }
      this.counters.runs++;
      this.log.debug({ deleted, pointsSince: new Date(pointsSince).toISOString(), hoursSince: new Date(hoursSince).toISOString() }, "history retention pass done");
    } catch (e) {
      this.counters.errors++;
      this.log.warn({ err: (e as Error).message }, "history retention pass failed; the next one tries again");
    } finally {
      this.counters.rowsDeleted += deleted;
    }
  }

  /** Stops the timer and waits for a pass under way to give up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}

/**
 * The history's periodic job, at start and every `everyMs`: first the hourly rollups of every
 * host-hour a write marked pending (recomputed from its points, so a late batch is counted once;
 * an hour stays pending until it is over), then retention: each host's points older than fullDays
 * (one range of its rows) and each series' rollups older than hourlyDays, and a series once
 * nothing of it is left. Work is split over event-loop turns (one host-hour, one host, or SLICE
 * series per turn, each a few ms to ~20 ms) so the CMA keeps serving in between.
 */
import type { Logger } from "@ringwatch/shared";
import { HOUR_MS } from "./history-store.js";
import type { HistoryStore } from "./history-store.js";
import type { AlertEventLog } from "./alert-events.js";

export const DAY_MS = 86_400_000;
/** Series per event-loop turn (each an index range delete of an hour or so of rollups). */
const SLICE = 200;

export interface RollupRetentionOptions {
  fullDays: number;
  hourlyDays: number;
  everyMs: number;
}

/** What is kept at `now`: intervals from pointsSince on, hourly rollups from hoursSince on. */
export function retentionCutoffs(o: { fullDays: number; hourlyDays: number }, now: number): { pointsSince: number; hoursSince: number } {
  return { pointsSince: now - o.fullDays * DAY_MS, hoursSince: Math.floor((now - o.hourlyDays * DAY_MS) / HOUR_MS) * HOUR_MS };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

export class HistoryRollupRetention {
  readonly counters = { runs: 0, hoursRolledUp: 0, pointsDeleted: 0, rollupsDeleted: 0, alertEventsDeleted: 0, errors: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: HistoryStore,
    private readonly o: RollupRetentionOptions,
    private readonly log: Logger,
    /** the alerts' history (chart markers): kept as long as the hourly rollups */
    private readonly alertEvents?: AlertEventLog,
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
    try {
      for (const r of this.store.pendingRollups()) {
        if (this.stopped) return;
        this.store.rollup(r, r.hour + HOUR_MS <= now);
        this.counters.hoursRolledUp++;
        await nextTurn();
      }
      for (const host of this.store.hosts()) {
        if (this.stopped) return;
        this.counters.pointsDeleted += this.store.expireHost(host, pointsSince);
        await nextTurn();
      }
      for (let after = 0; ;) {
        if (this.stopped) return;
        const ids = this.store.seriesIds(after, SLICE);
        for (const id of ids) this.counters.rollupsDeleted += this.store.expireSeries(id, hoursSince);
        if (ids.length < SLICE) break;
        after = ids[ids.length - 1];
        await nextTurn();
      }
      if (this.alertEvents) this.counters.alertEventsDeleted += this.alertEvents.expire(hoursSince);
      this.counters.runs++;
      this.log.debug({ pointsSince: new Date(pointsSince).toISOString(), hoursSince: new Date(hoursSince).toISOString(), ...this.counters }, "history rollup and retention pass done");
    } catch (e) {
      this.counters.errors++;
      this.log.warn({ err: (e as Error).message }, "history rollup/retention pass failed; the next one tries again");
    }
  }

  /** Stops the timer and waits for a pass under way to give up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}

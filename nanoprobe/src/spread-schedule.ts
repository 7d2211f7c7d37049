/**
 * When one of a host's periodic jobs runs (a discovery script, the stats report). Seed 000 spreads
 * all periodic work of a host randomly in its interval, so that a rack booting at once does not
 * reach the CMA in step: each job draws a phase, a random point in the first `spread` share of
 * its interval, and runs at phase + k × interval after start. A phase later than the start window
 * gets one extra, early run at a random point of the window, so that a new host's first inventory
 * does not wait up to a whole interval (the first run is then uniform over the window).
 */
import { performance } from "node:perf_hooks";

export interface SpreadOptions {
  /** share of the interval the phase is drawn from: 0 runs at start and in step (no jitter), 1 anywhere in the interval */
  spread: number;
  /** the first run comes at most this long after start */
  startWindowMs: number;
  /** [0, 1); Math.random unless a test seeds it */
  random?: () => number;
}

/** No jitter: first run at start, then every interval (what direct users of a runner get by default). */
export const IN_STEP: SpreadOptions = { spread: 0, startWindowMs: 0 };

export class SpreadSchedule {
  /** where in its interval this job runs, after start */
  readonly phaseMs: number;
  /** when its first run comes, after start: ≤ the start window */
  readonly firstRunMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly intervalMs: number,
    o: SpreadOptions,
  ) {
    const random = o.random ?? Math.random;
    this.phaseMs = Math.floor(random() * Math.min(1, Math.max(0, o.spread)) * intervalMs);
    this.firstRunMs = this.phaseMs <= o.startWindowMs ? this.phaseMs : Math.floor(random() * o.startWindowMs);
  }

  /**
   * The next regular run (ms after start) for a run that started `sinceStartMs` after start: the
   * first point of the job's grid at least half an interval later, so an early first run close to
   * the phase is not followed by another at once, and a late timer does not run twice.
   */
  nextRunAfter(sinceStartMs: number): number {
    const from = sinceStartMs + this.intervalMs / 2;
    return this.phaseMs + Math.max(0, Math.ceil((from - this.phaseMs) / this.intervalMs)) * this.intervalMs;
  }

  /** Run `work` on this schedule from now on, until stop(). */
  start(work: () => void): void {
    this.stop();
    const t0 = performance.now();
    const arm = (delayMs: number): void => {
      this.timer = setTimeout(() => {
        const ranAt = performance.now() - t0;
        arm(Math.max(0, t0 + this.nextRunAfter(ranAt) - performance.now()));
        work();
      }, delayMs);
    };
    arm(this.firstRunMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Knowing when this process was the one asleep (memberlist's awareness, Lifeguard's local health):
 * a timer due every `periodMs` that fires much later than due means this process did not run in
 * between (SIGSTOP, CPU starvation, a long GC, a paused VM). Neighbours' heartbeats sent in that
 * time were not read, so their silence inside the stall is not held against them (neighbour-watch.ts
 * excuses it), and the stall is told to the CMA as a one-shot `localStall` alert.
 *
 * Time is a monotonic clock passed in (performance.now()), so a wall clock stepped by NTP or by hand
 * is neither a stall nor silence; tests inject it.
 */
import type { Alert } from "@ringwatch/shared";

/** The span in which this process did not run: from the last on-time tick to the late one. */
export interface Stall {
  fromMs: number;
  toMs: number;
  stallMs: number;
}

export interface LocalStallCounters {
  /** stalls seen since start */
  stalls: number;
  /** their total length */
  stalledMs: number;
  /** the longest one */
  longestStallMs: number;
}

export class LocalStallDetector {
  readonly counters: LocalStallCounters = { stalls: 0, stalledMs: 0, longestStallMs: 0 };
  private lastTick: number | undefined;

  constructor(readonly periodMs: number) {
    if (!(periodMs > 0)) throw new RangeError(`periodMs must be > 0, not ${periodMs}`);
  }

  /**
   * Called by the timer due every periodMs, at `now`. A call later than due by `thresholdMs` or more
   * ends a stall, returned; the first call only starts the clock.
   */
  tick(now: number, thresholdMs: number): Stall | undefined {
    const last = this.lastTick;
    this.lastTick = now;
    if (last === undefined || now - last - this.periodMs < thresholdMs) return undefined;
    const stall = { fromMs: last, toMs: now, stallMs: now - last };
    this.counters.stalls++;
    this.counters.stalledMs += stall.stallMs;
    this.counters.longestStallMs = Math.max(this.counters.longestStallMs, stall.stallMs);
    return stall;
  }
}

/** The alert telling the CMA about one stall; one-shot (raised, never cleared), like a micro-burst. */
export function localStallAlert(s: Stall, counters: LocalStallCounters, neighboursExcused: number, wallNowMs: number): Alert {
  const evidence = {
    stallMs: Math.round(s.stallMs),
    since: new Date(wallNowMs - s.stallMs).toISOString(),
    neighboursExcused,
    stallsSinceStart: counters.stalls,
    stalledMsSinceStart: Math.round(counters.stalledMs),
  };
  return { kind: "localStall", subject: "host", subjectName: "", active: true, evidenceJson: JSON.stringify(evidence), atMs: wallNowMs };
}

/**
 * Failure detection for the neighbours the CMA assigned: a neighbour silent for warntime is LATE,
 * for deadtime DEAD (each reported once), and ALIVE again when its heartbeats resume. A newly
 * assigned neighbour starts with a full deadtime of grace. Time is passed in (a monotonic clock), so
 * it is testable.
 *
 * Silence while this process itself was stalled (local-stall.ts) is excused: it is taken off the
 * neighbour's counted silence, and no verdict is given within a heartbeat period after the stall, so
 * heartbeats waiting in the socket buffer and the next one can arrive first. A neighbour that died
 * during the stall is still reported, once deadtime of silence outside the stall has passed. Taking
 * the stall off (rather than restarting the count) keeps the silence seen before it, and bounds the
 * delay by the time actually stalled: stalls that come often cannot postpone a verdict forever.
 */
import type { Neighbour, ReportKind } from "@ringwatch/shared";

export interface WatchTiming {
  heartbeatMs: number;
  warntimeMs: number;
  deadtimeMs: number;
}

export interface Verdict {
  kind: Exclude<ReportKind, "UNEXPECTED">;
  neighbour: Neighbour;
  silentMs: number;
}

type State = "ok" | "late" | "dead";

interface Watched {
  neighbour: Neighbour;
  lastHeard: number;
  heartbeats: number;
  state: State;
  /** silence since lastHeard that fell inside our own stalls */
  excusedMs: number;
  /** no verdict before this (a heartbeat period after our last stall) */
  judgeFrom: number;
}

export class NeighbourWatch {
  private watched = new Map<string, Watched>();

  constructor(public timing: WatchTiming) {}

  /** Replace the watched set; neighbours kept keep their history, new ones start now. */
  assign(list: Neighbour[], now: number): void {
    const next = new Map<string, Watched>();
    for (const n of list) {
      const old = this.watched.get(n.name);
      next.set(n.name, old ? { ...old, neighbour: n } : { neighbour: n, lastHeard: now, heartbeats: 0, state: "ok", excusedMs: 0, judgeFrom: now });
    }
    this.watched = next;
  }

  get neighbours(): Neighbour[] {
    return [...this.watched.values()].map((w) => w.neighbour);
  }

  isWatched(name: string): boolean {
    return this.watched.has(name);
  }

  /** A heartbeat arrived. Returns ALIVE if the neighbour had been reported late or dead. */
  heard(name: string, now: number): Verdict | undefined {
    const w = this.watched.get(name);
    if (!w) return undefined;
    const silentMs = now - w.lastHeard;
    w.lastHeard = now;
    w.excusedMs = 0;
    w.heartbeats++;
    if (w.state === "ok") return undefined;
    w.state = "ok";
    return { kind: "ALIVE", neighbour: w.neighbour, silentMs };
  }

  /**
   * This process did not run from `fromMs` to `toMs`: the part of each neighbour's silence inside
   * that span is not counted. Returns how many neighbours' silence it touched.
   */
  excuse(fromMs: number, toMs: number): number {
    let touched = 0;
    for (const w of this.watched.values()) {
      const overlap = toMs - Math.max(fromMs, w.lastHeard);
      if (overlap <= 0) continue;
      w.excusedMs += overlap;
      w.judgeFrom = Math.max(w.judgeFrom, toMs + this.timing.heartbeatMs);
      touched++;
    }
    return touched;
  }

  /** Transitions due by now: ok → LATE at warntime, → DEAD at deadtime of counted silence. */
  check(now: number): Verdict[] {
    const out: Verdict[] = [];
    for (const w of this.watched.values()) {
      if (now < w.judgeFrom) continue;
      const silentMs = now - w.lastHeard; // as reported: all of it
      const counted = silentMs - w.excusedMs;
      if (w.state !== "dead" && counted >= this.timing.deadtimeMs) {
        w.state = "dead";
        out.push({ kind: "DEAD", neighbour: w.neighbour, silentMs });
      } else if (w.state === "ok" && counted >= this.timing.warntimeMs) {
        w.state = "late";
        out.push({ kind: "LATE", neighbour: w.neighbour, silentMs });
      }
    }
    return out;
  }

  status(now: number): { name: string; state: State; heartbeats: number; silentMs: number; excusedMs: number }[] {
    return [...this.watched.values()].map((w) => ({ name: w.neighbour.name, state: w.state, heartbeats: w.heartbeats, silentMs: now - w.lastHeard, excusedMs: w.excusedMs }));
  }
}

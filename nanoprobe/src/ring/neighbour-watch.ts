/**
 * Failure detection for the neighbours the CMA assigned: a neighbour silent for warntime is LATE,
 * for deadtime DEAD (each reported once), and ALIVE again when its heartbeats resume. A newly
 * assigned neighbour starts with a full deadtime of grace. Time is passed in, so it is testable.
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
}

export class NeighbourWatch {
  private watched = new Map<string, Watched>();

  constructor(public timing: WatchTiming) {}

  /** Replace the watched set; neighbours kept keep their history, new ones start now. */
  assign(list: Neighbour[], now: number): void {
    const next = new Map<string, Watched>();
    for (const n of list) {
      const old = this.watched.get(n.name);
      next.set(n.name, old ? { ...old, neighbour: n } : { neighbour: n, lastHeard: now, heartbeats: 0, state: "ok" });
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
    w.heartbeats++;
    if (w.state === "ok") return undefined;
    w.state = "ok";
    return { kind: "ALIVE", neighbour: w.neighbour, silentMs };
  }

  /** Transitions due by now: ok → LATE at warntime, → DEAD at deadtime. */
  check(now: number): Verdict[] {
    const out: Verdict[] = [];
    for (const w of this.watched.values()) {
      const silentMs = now - w.lastHeard;
      if (w.state !== "dead" && silentMs >= this.timing.deadtimeMs) {
        w.state = "dead";
        out.push({ kind: "DEAD", neighbour: w.neighbour, silentMs });
      } else if (w.state === "ok" && silentMs >= this.timing.warntimeMs) {
        w.state = "late";
        out.push({ kind: "LATE", neighbour: w.neighbour, silentMs });
      }
    }
    return out;
  }

  status(now: number): { name: string; state: State; heartbeats: number; silentMs: number }[] {
    return [...this.watched.values()].map((w) => ({ name: w.neighbour.name, state: w.state, heartbeats: w.heartbeats, silentMs: now - w.lastHeard }));
  }
}

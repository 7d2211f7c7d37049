/**
 * Membership: every host the CMA knows, its state, the rings, and the events that changed them.
 * This is the in-process interface the graph, Zabbix and web UI subscribe to (`on("event")`,
 * `hosts()`, `rings()`, `events()`). No I/O here: RingService does the talking.
 */
import { EventEmitter } from "node:events";
import type { Neighbour } from "@ringwatch/shared";
import { neighboursKey, planRings } from "./ring-plan.js";
import type { RingPlan } from "./ring-plan.js";

/** alive: in the rings; suspect: a death is being confirmed (still in the rings); dead: confirmed;
 * left: said goodbye; unreachable: its whole segment went silent (switch or link suspected). */
export type HostState = "alive" | "suspect" | "dead" | "left" | "unreachable";

export interface HostRecord {
  name: string;
  machineId: string;
  address: string;
  port: number;
  segment: string;
  state: HostState;
  /** when the state last changed (ms) */
  since: number;
  joinedAt: number;
  version: string;
  /** neighbour list last sent to it (neighboursKey), to send only changes */
  assignedKey: string;
  /** known from the snapshot of a previous CMA run but not re-announced yet */
  unconfirmed: boolean;
  /** an assignment to it is on its way (not acknowledged yet): that answers its announcements too */
  assignmentInFlight?: boolean;
}

export type MembershipEvent = { at: number } & (
  | { type: "hostJoined"; host: string; segment: string; address: string }
  | { type: "hostReturned"; host: string; segment: string; was: HostState }
  | { type: "hostLeft"; host: string }
  | { type: "hostLate"; host: string; reportedBy: string; silentMs: number }
  | { type: "hostDead"; host: string; segment: string; reportedBy: string[]; confirmedBy: "probe" | "restart-probe" | "segment-recheck" }
  | { type: "deathNotConfirmed"; host: string; reportedBy: string[] }
  | { type: "segmentSuspected"; segment: string; hosts: string[]; reportedBy: string[] }
  | { type: "segmentRecovered"; segment: string; hosts: string[] }
  | { type: "unexpectedHeartbeat"; reporter: string; from: string; address: string }
  | { type: "ringsChanged"; assignmentsSent: number; representatives: number }
);

export type MembershipEventType = MembershipEvent["type"];

/** A membership event before it is stamped (Omit distributed over the union). */
export type MembershipEventInput = MembershipEvent extends infer E ? (E extends MembershipEvent ? Omit<E, "at"> : never) : never;

/** The snapshot a restarted CMA starts from. */
export interface MembershipSnapshot {
  version: 1;
  savedAt: number;
  hosts: Omit<HostRecord, "unconfirmed">[];
}

const MAX_EVENTS = 10_000;
const IN_RINGS: ReadonlySet<HostState> = new Set(["alive", "suspect"]);

export class Membership extends EventEmitter<{ event: [MembershipEvent]; change: [] }> {
  private readonly byName = new Map<string, HostRecord>();
  private readonly log: MembershipEvent[] = [];
  private plan: RingPlan = planRings([], 1);

  constructor(readonly ringsPerSegment: 1 | 2) {
    super();
  }

  // ---- reading (the interface other parts of the CMA use)

  get(name: string): HostRecord | undefined {
    return this.byName.get(name);
  }

  hosts(): HostRecord[] {
    return [...this.byName.values()];
  }

  inSegment(segment: string): HostRecord[] {
    return this.hosts().filter((h) => h.segment === segment);
  }

  rings(): { segments: { segment: string; representative: string; members: string[] }[]; representativeRing: string[] } {
    return {
      segments: [...this.plan.segmentRings].map(([segment, members]) => ({ segment, representative: this.plan.representatives.get(segment)!, members })),
      representativeRing: this.plan.representativeRing,
    };
  }

  events(sinceAt = 0): MembershipEvent[] {
    return this.log.filter((e) => e.at >= sinceAt);
  }

  countByState(): Record<HostState, number> {
    const c: Record<HostState, number> = { alive: 0, suspect: 0, dead: 0, left: 0, unreachable: 0 };
    for (const h of this.byName.values()) c[h.state]++;
    return c;
  }

  // ---- changing

  upsert(h: HostRecord): void {
    this.byName.set(h.name, h);
    this.emit("change");
  }

  setState(h: HostRecord, state: HostState, now = Date.now()): void {
    if (h.state === state) return;
    h.state = state;
    h.since = now;
    this.emit("change");
  }

  record(e: MembershipEvent): void {
    this.log.push(e);
    if (this.log.length > MAX_EVENTS) this.log.splice(0, this.log.length - MAX_EVENTS);
    this.emit("event", e);
  }

  /** Recompute the rings from hosts in them; returns the hosts whose neighbour list changed. */
  replan(): { host: HostRecord; neighbours: Neighbour[] }[] {
    const live = this.hosts().filter((h) => IN_RINGS.has(h.state));
    this.plan = planRings(live.map((h) => ({ name: h.name, address: h.address, port: h.port, segment: h.segment })), this.ringsPerSegment);
    const changed: { host: HostRecord; neighbours: Neighbour[] }[] = [];
    for (const h of live) {
      const n = this.plan.neighbours.get(h.name) ?? [];
      if (neighboursKey(n) !== h.assignedKey) changed.push({ host: h, neighbours: n });
    }
    return changed;
  }

  // ---- persistence

  toSnapshot(now = Date.now()): MembershipSnapshot {
    return { version: 1, savedAt: now, hosts: this.hosts().map(({ unconfirmed: _u, assignmentInFlight: _a, ...h }) => h) };
  }

  /** Load a previous run's hosts: those that were in the rings await re-announcement. */
  restore(s: MembershipSnapshot): void {
    for (const h of s.hosts) {
      const inRings = IN_RINGS.has(h.state);
      this.byName.set(h.name, { ...h, state: inRings ? "alive" : h.state, unconfirmed: inRings });
    }
    this.replan();
    this.emit("change");
  }
}

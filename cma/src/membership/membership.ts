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
 * left: said goodbye; unreachable: its whole segment went silent (switch or link suspected);
 * maintenance: planned downtime, its silence is no death (in the rings while it answers);
 * removed: taken out of service (only in the tombstones: it left membership). */
export type HostState = "alive" | "suspect" | "dead" | "left" | "unreachable" | "maintenance" | "removed";

export const HOST_STATES: readonly HostState[] = ["alive", "suspect", "dead", "left", "unreachable", "maintenance", "removed"];

/** A planned downtime window: set by an operator, ended by its time or by the operator. */
export interface MaintenanceWindow {
  reason: string;
  /** when it ends by itself (ms) */
  until: number;
  /** when it was started (ms) */
  startedAt: number;
  /** the host fell silent (or said goodbye) during it: out of the rings until it speaks again */
  down: boolean;
}

/** What is kept of a removed host: enough for the graph, the API and the Zabbix sync (disable or purge). */
export interface RemovedHost {
  name: string;
  segment: string;
  address: string;
  removedAt: number;
  /** its Zabbix host is deleted, not only disabled */
  purge: boolean;
}

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
  /** set while the host is in maintenance (state "maintenance") */
  maintenance?: MaintenanceWindow;
  /** it announced and has acknowledged no assignment since: it watches nobody and heartbeats nobody yet */
  joining?: boolean;
  /** its host key was revoked by an admin: out of the rings and not heard until it is admitted again (identity/) */
  revoked?: boolean;
}

export type MembershipEvent = { at: number } & (
  | { type: "hostJoined"; host: string; segment: string; address: string }
  | { type: "hostReturned"; host: string; segment: string; was: HostState }
  | { type: "hostLeft"; host: string }
  | { type: "hostLate"; host: string; reportedBy: string; silentMs: number }
  | { type: "hostDead"; host: string; segment: string; reportedBy: string[]; confirmedBy: "probe" | "restart-probe" | "segment-recheck" | "lone-probe" | "maintenance-end" }
  | { type: "deathNotConfirmed"; host: string; reportedBy: string[] }
  | { type: "segmentSuspected"; segment: string; hosts: string[]; reportedBy: string[] }
  | { type: "segmentRecovered"; segment: string; hosts: string[] }
  | { type: "unexpectedHeartbeat"; reporter: string; from: string; address: string }
  | { type: "ringsChanged"; assignmentsSent: number; representatives: number }
  | { type: "maintenanceStarted"; host: string; until: number; reason: string; was: HostState }
  | { type: "maintenanceEnded"; host: string; how: "expired" | "ended"; down: boolean; answered: boolean }
  | { type: "hostDownInMaintenance"; host: string; segment: string; reportedBy: string[] }
  | { type: "hostRemoved"; host: string; segment: string; was: HostState; purge: boolean }
  | { type: "hostKeyMismatch"; host: string; address: string; presented: string; pinned: string }
  | { type: "hostRevoked"; host: string; by: string }
);

export type MembershipEventType = MembershipEvent["type"];

/** A membership event before it is stamped (Omit distributed over the union). */
export type MembershipEventInput = MembershipEvent extends infer E ? (E extends MembershipEvent ? Omit<E, "at"> : never) : never;

/** The snapshot a restarted CMA starts from. */
export interface MembershipSnapshot {
  version: 1;
  savedAt: number;
  hosts: Omit<HostRecord, "unconfirmed">[];
  /** tombstones of removed hosts (absent in snapshots written before removal existed) */
  removed?: RemovedHost[];
}

const MAX_EVENTS = 10_000;
/** Tombstones kept (oldest dropped first): decommissioned hosts are few, but the list must stay bounded. */
const MAX_REMOVED = 10_000;
const IN_RINGS: ReadonlySet<HostState> = new Set(["alive", "suspect"]);

/** In the rings: alive or suspect, or in maintenance and still answering; never with its key revoked. */
export function inRings(h: Pick<HostRecord, "state" | "maintenance" | "revoked">): boolean {
  if (h.revoked) return false;
  return IN_RINGS.has(h.state) || (h.state === "maintenance" && !h.maintenance?.down);
}

export class Membership extends EventEmitter<{ event: [MembershipEvent]; change: [] }> {
  private readonly byName = new Map<string, HostRecord>();
  private readonly tombstones = new Map<string, RemovedHost>();
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

  /** The neighbours the current plan gives a host; undefined when it is not in the rings. */
  neighboursOf(name: string): Neighbour[] | undefined {
    return this.plan.neighbours.get(name);
  }

  isRemoved(name: string): boolean {
    return this.tombstones.has(name);
  }

  /** Hosts taken out of service, oldest first (not in hosts(): they left membership). */
  removedHosts(): RemovedHost[] {
    return [...this.tombstones.values()];
  }

  events(sinceAt = 0): MembershipEvent[] {
    return this.log.filter((e) => e.at >= sinceAt);
  }

  countByState(): Record<HostState, number> {
    const c: Record<HostState, number> = { alive: 0, suspect: 0, dead: 0, left: 0, unreachable: 0, maintenance: 0, removed: 0 };
    for (const h of this.byName.values()) c[h.state]++;
    c.removed = this.tombstones.size;
    return c;
  }

  // ---- changing

  upsert(h: HostRecord): void {
    this.byName.set(h.name, h);
    this.tombstones.delete(h.name); // a removed host that comes back is a new host
    this.emit("change");
  }

  /** Take a host out of membership, keeping a tombstone; undefined if there is no such host. */
  remove(name: string, purge: boolean, now = Date.now()): RemovedHost | undefined {
    const h = this.byName.get(name);
    if (!h) return undefined;
    this.byName.delete(name);
    h.state = "removed"; // verdicts still in flight about this record see it is gone
    h.since = now;
    const t: RemovedHost = { name, segment: h.segment, address: h.address, removedAt: now, purge };
    this.tombstones.delete(name);
    this.tombstones.set(name, t);
    while (this.tombstones.size > MAX_REMOVED) this.tombstones.delete(this.tombstones.keys().next().value!);
    this.emit("change");
    return t;
  }

  /** A record was changed in place (its maintenance window): persist and re-read it. */
  changed(): void {
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

  /** a short tag of each host's current keys (RingService sets it): a new key is a changed assignment for its neighbours */
  keyTagOf: ((name: string) => string) | undefined;

  /** Recompute the rings from hosts in them; returns the hosts whose neighbour list (or a neighbour's key) changed. */
  replan(): { host: HostRecord; neighbours: Neighbour[] }[] {
    const live = this.hosts().filter(inRings);
    this.plan = planRings(live.map((h) => ({ name: h.name, address: h.address, port: h.port, segment: h.segment })), this.ringsPerSegment);
    const changed: { host: HostRecord; neighbours: Neighbour[] }[] = [];
    for (const h of live) {
      const n = this.plan.neighbours.get(h.name) ?? [];
      if (neighboursKey(n, this.keyTagOf) !== h.assignedKey) changed.push({ host: h, neighbours: n });
    }
    return changed;
  }

  // ---- persistence

  toSnapshot(now = Date.now()): MembershipSnapshot {
    return { version: 1, savedAt: now, hosts: this.hosts().map(({ unconfirmed: _u, assignmentInFlight: _a, joining: _j, ...h }) => h), removed: this.removedHosts() };
  }

  /** Load a previous run's hosts: those that were in the rings await re-announcement (a host in maintenance stays in it). */
  restore(s: MembershipSnapshot): void {
    for (const h of s.hosts) {
      const wasInRings = inRings(h);
      const state = h.state === "maintenance" ? "maintenance" : wasInRings ? "alive" : h.state;
      this.byName.set(h.name, { ...h, state, unconfirmed: wasInRings });
    }
    for (const t of s.removed ?? []) if (!this.byName.has(t.name)) this.tombstones.set(t.name, t);
    this.replan();
    this.emit("change");
  }
}

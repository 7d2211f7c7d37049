/**
 * The CMA's ring work: admit announced hosts, assign neighbours (signed), act on reports.
 *
 * A DEAD report goes to the suspicion unit (suspicion.ts), which confirms it by the CMA's own probe
 * and places the silence: one host's death, or its whole segment. After a death the ring is
 * repaired: only hosts whose neighbours changed are told.
 * The CMA sends nothing in steady state: all work is driven by announcements and reports (the one
 * exception: probes to a host that has no ring neighbour, below).
 *
 * A host with no ring neighbour (alone, or left alone by deaths) has nobody to report it: the CMA
 * probes it itself (lone-host-watch.ts).
 *
 * After a CMA restart, the snapshot says who was there: each is asked to re-announce (and the
 * multicast group is told too). Nobody is declared dead for not answering quickly; after a grace
 * period, the silent ones are probed (suspicion.ts), and only those that do not answer are declared dead.
 */
import type { KeyObject } from "node:crypto";
import { decodeInbound, encodeEnvelope, parseHostPort, signCommand } from "@ringwatch/shared";
import type { Announce, CommandDraft, Endpoint, Envelope, InboundMessage, Logger, Neighbour, PeerAddress, Report, SignedCommand } from "@ringwatch/shared";
import { Membership } from "./membership.js";
import type { HostRecord, MembershipEvent, MembershipEventInput } from "./membership.js";
import { LoneHostWatch } from "./lone-host-watch.js";
import { HostControl } from "./host-control.js";
import { Prober } from "./prober.js";
import { NOT_ASSIGNED, neighboursKey } from "./ring-plan.js";
import { segmentOf } from "./segments.js";
import { SnapshotStore } from "./snapshot-store.js";
import { Suspicion } from "./suspicion.js";

export interface RingServiceOptions {
  heartbeatMs: number;
  warntimeMs: number;
  deadtimeMs: number;
  ringsPerSegment: 1 | 2;
  segmentPrefixLength: number;
  probeAttempts: number;
  probeIntervalMs: number;
  reannounceGraceMs: number;
  segmentRecheckMs: number;
  /** where the membership snapshot lives; undefined: no persistence */
  dataDir?: string;
  /** the multicast group to tell after a restart (undefined: unicast only) */
  multicast?: PeerAddress;
  /** assignments signed and sent per event-loop turn (default ASSIGNMENTS_PER_TURN; tests lower it) */
  assignmentsPerTurn?: number;
  /** admission by host key (identity/host-admission.ts), asked before anything about the host changes;
   * undefined: every well-formed announcement is admitted (simulations) */
  admit?: (m: InboundMessage, a: Announce) => boolean;
  /** with CMAs in high availability (ha/): the epoch every command carries, and whether this CMA
   * still leads (asked before each command is signed); undefined: a CMA alone, epoch 0, always */
  leadership?: Leadership;
}

/** what a leading CMA knows of its leadership (ha/leader-election.ts) */
export interface Leadership {
  epoch: number;
  holds(): boolean;
  /** resolves true once the state files written so far are in etcd (ha/state-mirror.ts flush) */
  persist?(): Promise<boolean>;
  /** every CMA of the cluster as etcd lists them ("host:port"), told to each host with its assignment (ha/cma-members.ts) */
  cmaAddresses?: string[];
}

export interface RingServiceCounters {
  announcements: number;
  refusedAnnouncements: number;
  reports: number;
  reportsFromUnknownHosts: number;
  badMessages: number;
  assignmentsSent: number;
  assignmentsUnacknowledged: number;
  commandsRefusedByHosts: number;
  goodbyes: number;
  /** DEAD reports about a host still joining (no assignment acknowledged yet), held until its assignment is given up */
  deadReportsHeld: number;
  /** commands not signed because this CMA no longer leads (high availability) */
  commandsFenced: number;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Replanning 10,000 hosts takes ~10–30 ms: during a join storm, batch events instead of replanning per event. */
const REPLAN_MIN_INTERVAL_MS = 100;
/** ...and replans take at most ~1/REPLAN_COST_SHARE of the CMA's time, however large the cluster. */
const REPLAN_COST_SHARE = 10;

/**
 * Signing and sending one assignment costs ~0.1–0.2 ms: a replan that changes thousands of hosts
 * (a join storm) goes out in slices of at most this many, and at most ASSIGNMENT_SLICE_MS of work,
 * per event-loop turn. The socket is read between slices, and libuv reads at most 32 datagrams
 * per turn: a 30 ms turn caps what the CMA takes in at ~1,000 datagrams/s, and the rest (acks of
 * these very assignments among them) overflow the socket buffer and are lost.
 */
export const ASSIGNMENTS_PER_TURN = 200;
export const ASSIGNMENT_SLICE_MS = 3;

export function validateAnnounce(a: Announce | undefined): string | undefined {
  if (!a || !a.host) return "no host identity";
  if (!NAME_RE.test(a.host.name)) return `bad host name ${JSON.stringify(a.host.name)}`;
  if (a.host.machineId.length > 128) return "machine id too long";
  if (a.host.addresses.length > 64 || a.host.addresses.some((x) => x.length > 128)) return "too many or too long addresses";
  if (a.neighbours.length > 64) return "too many neighbours";
  return undefined;
}

export class RingService {
  readonly membership: Membership;
  readonly prober: Prober;
  /** the operator's actions on hosts: maintenance, removal (the control socket calls it) */
  readonly control: HostControl;
  readonly counters: RingServiceCounters = {
    announcements: 0, refusedAnnouncements: 0, reports: 0, reportsFromUnknownHosts: 0, badMessages: 0, assignmentsSent: 0,
    assignmentsUnacknowledged: 0, commandsRefusedByHosts: 0, goodbyes: 0, deadReportsHeld: 0, commandsFenced: 0,
  };
  private readonly store: SnapshotStore | undefined;
  private readonly suspicion: Suspicion;
  private readonly loneHosts: LoneHostWatch;
  private replanScheduled = false;
  private lastReplanAt = 0;
  /** how long the last replan took (ms) */
  private lastReplanMs = 0;
  /** assignments decided but not yet signed and sent, newest per host (sent ASSIGNMENTS_PER_TURN a turn) */
  private readonly outgoing = new Map<string, { host: HostRecord; neighbours: Neighbour[]; key: string }>();
  private draining = false;
  /** joining host -> who reported it dead while its assignment was on its way */
  private readonly heldDeadReports = new Map<string, string>();
  /** the most assignments sent in one event-loop turn so far (bounded by ASSIGNMENTS_PER_TURN) */
  largestAssignmentSlice = 0;
  /** the most re-announce requests sent in one turn after a restart (bounded the same way) */
  largestReannounceSlice = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** every CMA of the cluster (high availability), sent with each assignment; empty: a CMA alone sends none */
  private cmaAddresses: string[];

  constructor(
    private readonly endpoint: Endpoint,
    private readonly commandKey: KeyObject,
    private readonly opts: RingServiceOptions,
    private readonly log: Logger,
    /** false when a dispatcher decodes messages and calls handle() */
    listen = true,
  ) {
    this.membership = new Membership(opts.ringsPerSegment);
    this.cmaAddresses = opts.leadership?.cmaAddresses ?? [];
    // a tag of each host's exchange key: a rotated key is a changed assignment for its neighbours
    const pairKeys = endpoint.pairKeys;
    if (pairKeys) this.membership.keyTagOf = (name) => pairKeys.keyTag(name);
    this.prober = new Prober(endpoint, { attempts: opts.probeAttempts, intervalMs: opts.probeIntervalMs });
    this.store = opts.dataDir ? new SnapshotStore(opts.dataDir) : undefined;
    this.suspicion = new Suspicion(
      {
        membership: this.membership,
        probe: (to) => this.prober.probe(to),
        event: (e) => this.event(e),
        replan: () => this.scheduleReplan(),
        askToReannounce: (h) => void this.sendCommand(h, { reannounce: { maxDelayMs: 1000 } }),
        log,
      },
      { reannounceGraceMs: opts.reannounceGraceMs, segmentRecheckMs: opts.segmentRecheckMs },
    );
    // a host with no ring neighbour is watched by the CMA itself, at the ring's own timing
    this.loneHosts = new LoneHostWatch(
      { membership: this.membership, probe: (to) => this.prober.probe(to), silent: (h) => this.suspicion.onDeadReport(h, "cma-probe", "lone-probe"), log },
      { probeEveryMs: opts.heartbeatMs, deadtimeMs: opts.deadtimeMs },
    );
    this.control = new HostControl({
      membership: this.membership,
      suspicion: this.suspicion,
      event: (e) => this.event(e),
      replan: () => this.scheduleReplan(),
      quiet: (h) => void this.sendCommand(h, { setNeighbours: { neighbours: [], heartbeatMs: opts.heartbeatMs, warntimeMs: opts.warntimeMs, deadtimeMs: opts.deadtimeMs } }),
      log,
    });
    this.membership.on("event", (e) => this.log.info({ ...e }, "membership event"));
    this.membership.on("change", () => this.scheduleSave());
    if (listen) endpoint.on("message", (m) => this.onMessage(m));
  }

  /** Start: restore the previous run's membership, if any, and ask those hosts to re-announce. */
  start(): void {
    const loaded = this.store?.load();
    if (loaded?.error) this.log.error({ err: loaded.error }, "membership snapshot ignored");
    const snap = loaded?.snapshot;
    if (!snap || (snap.hosts.length === 0 && !snap.removed?.length)) return;
    this.membership.restore(snap);
    this.loneHosts.refresh();
    this.control.arm(); // maintenance windows go on across restarts
    const waiting = this.membership.hosts().filter((h) => h.unconfirmed);
    this.log.info({ hosts: snap.hosts.length, awaiting: waiting.length }, "restored membership from the snapshot: asking hosts to re-announce");
    const maxDelayMs = Math.min(10_000, Math.max(1000, waiting.length)); // ~1 answer per ms at most
    this.askInSlices(waiting, maxDelayMs);
    const command = this.opts.multicast ? this.sign({ target: "*", reannounce: { maxDelayMs } }) : undefined;
    // fire-and-forget to the group: hosts we never heard of (snapshot lost) announce too
    if (command) this.endpoint.sendDatagram(this.opts.multicast!, encodeEnvelope({ command }));
    this.suspicion.scheduleUnconfirmedCheck();
  }

  /**
   * The restored hosts are asked to re-announce in slices, as assignments are sent: each command is
   * sealed under that host's pair key (a key agreement the first time), ~0.2 ms apiece, and 10,000
   * of them in one turn blocked the loop for seconds: a new leader in high availability then missed
   * its lease renewal and was deposed at every election.
   */
  private askInSlices(hosts: HostRecord[], maxDelayMs: number): void {
    let next = 0;
    const slice = (): void => {
      if (this.stopped) return;
      const until = performance.now() + ASSIGNMENT_SLICE_MS;
      let n = 0;
      for (; next < hosts.length && n < (this.opts.assignmentsPerTurn ?? ASSIGNMENTS_PER_TURN) && (n === 0 || performance.now() < until); n++) {
        const h = hosts[next++];
        if (h.unconfirmed && this.membership.get(h.name) === h) void this.sendCommand(h, { reannounce: { maxDelayMs } });
      }
      this.largestReannounceSlice = Math.max(this.largestReannounceSlice, n);
      if (next < hosts.length) setImmediate(slice);
    };
    slice();
  }

  /**
   * A host we have no record of, named by another host (its announced neighbours, or a report):
   * remember it as unconfirmed. It is not a join — it was in the rings before this CMA knew it —
   * and if it never announces itself it is probed after the grace period like any other.
   */
  private learnOf(name: string, hostPort: string): HostRecord | undefined {
    // a removed host named by a neighbour not yet told: it comes back only by announcing itself
    if (!NAME_RE.test(name) || this.membership.isRemoved(name)) return undefined;
    let at: PeerAddress;
    try {
      at = parseHostPort(hostPort, "neighbour address");
    } catch {
      return undefined;
    }
    const now = Date.now();
    const h: HostRecord = {
      name, machineId: "", address: at.address, port: at.port, segment: segmentOf(at.address, this.opts.segmentPrefixLength), state: "alive",
      since: now, joinedAt: now, version: "", assignedKey: NOT_ASSIGNED, unconfirmed: true,
    };
    this.membership.upsert(h);
    this.log.debug({ host: name, address: hostPort }, "learnt of a host from its neighbours: awaiting its announcement");
    this.suspicion.scheduleUnconfirmedCheck();
    return h;
  }

  stop(): void {
    this.stopped = true;
    this.suspicion.stop();
    this.loneHosts.stop();
    this.control.stop();
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.save();
    }
  }

  // ------------------------------------------------------------------ messages

  private onMessage(m: InboundMessage): void {
    const env = decodeInbound(m, this.log);
    if (!env) {
      this.counters.badMessages++;
      return;
    }
    if (!this.handle(m, env)) {
      this.counters.badMessages++;
      this.log.debug({ from: m.from.id, body: env.body, reliable: m.reliable }, "unexpected message dropped");
    }
  }

  /** Handle a decoded message if it is about rings; false if it is not ours. */
  handle(m: InboundMessage, env: Envelope): boolean {
    if (env.announce && !m.reliable) {
      this.onAnnounce(m, env.announce);
      return true;
    }
    if (env.probeReply && !m.reliable) {
      this.prober.answer(env.probeReply.nonce, m.from);
      return true;
    }
    if (env.report && m.reliable) {
      this.onReport(m, env.report);
      return true;
    }
    if (env.goodbye && m.reliable) {
      this.onGoodbye(m);
      return true;
    }
    if (env.commandResult && m.reliable) {
      if (!env.commandResult.ok) {
        this.counters.commandsRefusedByHosts++;
        this.log.warn({ host: m.from.id, error: env.commandResult.error }, "host refused a command");
      }
      return true;
    }
    return env.command !== undefined; // our own multicast Reannounce, looped back
  }

  private onAnnounce(m: InboundMessage, a: Announce): void {
    const err = validateAnnounce(a) ?? (a.host.name !== m.from.id ? `announces ${a.host.name} but its frames say ${m.from.id}` : undefined);
    if (err) {
      this.counters.refusedAnnouncements++;
      this.log.warn({ from: `${m.from.address}:${m.from.port}`, err }, "announcement refused");
      return;
    }
    if (this.opts.admit && !this.opts.admit(m, a)) return; // counted and logged by admission; nothing changed
    this.counters.announcements++;
    const now = Date.now();
    const name = a.host.name;
    // the address is where the authenticated frames came from, not what the host claims
    const address = m.from.address;
    const port = m.from.port;
    const segment = segmentOf(address, this.opts.segmentPrefixLength);
    let h = this.membership.get(name);
    if (!h) {
      h = { name, machineId: a.host.machineId, address, port, segment, state: "alive", since: now, joinedAt: now, version: a.version, assignedKey: NOT_ASSIGNED, unconfirmed: false };
      this.membership.upsert(h);
      this.event({ type: "hostJoined", host: name, segment, address: `${address}:${port}` });
    } else {
      const was = h.state;
      const moved = h.address !== address || h.port !== port;
      Object.assign(h, { address, port, segment, version: a.version, machineId: a.host.machineId });
      if (h.unconfirmed) {
        h.unconfirmed = false;
        this.log.debug({ host: name }, "re-announced after CMA restart");
      }
      if (h.revoked) {
        // admitted again (its pin was forgotten, then it was admitted as new): back in the rings
        h.revoked = false;
        this.membership.changed();
        this.log.info({ host: name }, "host with a revoked key admitted again under a new pin");
      }
      if (was === "dead" || was === "left" || was === "unreachable") {
        this.membership.setState(h, "alive", now);
        this.event({ type: "hostReturned", host: name, segment, was });
        if (was === "unreachable") this.suspicion.recheckSegment(segment);
      } else if (was === "suspect") {
        this.suspicion.clearSuspicion(h, "alive");
      } else if (was === "maintenance") {
        this.backInMaintenance(h);
      }
      if (moved) this.membership.emit("change");
    }
    h.joining = true; // it announces only while it has no assignment
    // hosts it watches that we do not know (a CMA restarted without a snapshot, or a stale one)
    for (const n of a.neighbours) if (!this.membership.get(n.name)) this.learnOf(n.name, `${n.address}:${n.port}`);
    // it keeps announcing until a signed assignment reaches it: answer, unless one is on its way
    // (answering every repeat would feed a storm when the CMA is slow: each answer is a signature)
    if (!h.assignmentInFlight) h.assignedKey = NOT_ASSIGNED;
    this.scheduleReplan();
  }

  /** Its host key was revoked: out of the rings at once (its neighbours are told), told to watch nobody, shown revoked. */
  revoke(name: string, by: string): void {
    const h = this.membership.get(name);
    if (!h || h.revoked) return;
    h.revoked = true;
    this.suspicion.forget(h.name);
    this.heldDeadReports.delete(h.name);
    this.outgoing.delete(h.name);
    this.membership.changed();
    this.event({ type: "hostRevoked", host: h.name, by });
    this.scheduleReplan();
    void this.sendCommand(h, { setNeighbours: { neighbours: [], heartbeatMs: this.opts.heartbeatMs, warntimeMs: this.opts.warntimeMs, deadtimeMs: this.opts.deadtimeMs } });
  }

  /** A security event about a host (a key mismatch), with the membership events. */
  record(e: MembershipEventInput): void {
    this.event(e);
  }

  private onReport(m: InboundMessage, r: Report): void {
    this.counters.reports++;
    this.log.debug({ kind: r.kind, host: r.subject, reportedBy: m.from.id, silentMs: r.silentMs }, "report received");
    const reporter = this.membership.get(m.from.id);
    if (!reporter || reporter.address !== m.from.address || reporter.port !== m.from.port) {
      // a host this CMA does not know (restarted without snapshot?): ask it to announce
      this.counters.reportsFromUnknownHosts++;
      this.sendCommand({ name: m.from.id, address: m.from.address, port: m.from.port }, { reannounce: { maxDelayMs: 1000 } });
      return;
    }
    this.touch(reporter);
    const subject = this.membership.get(r.subject) ?? (r.kind === "DEAD" ? this.learnOf(r.subject, r.subjectAddress) : undefined);
    switch (r.kind) {
      case "DEAD":
        if (subject?.joining && subject.state === "alive") {
          // its neighbours were told to watch it before it was told to heartbeat them: its silence
          // says nothing yet (in a join storm these reports would turn into a probe storm). Judged
          // if its assignment is never acknowledged; forgotten once it is.
          this.counters.deadReportsHeld++;
          this.heldDeadReports.set(subject.name, reporter.name);
          return;
        }
        if (subject) this.suspicion.onDeadReport(subject, reporter.name);
        return;
      case "LATE":
        if (subject?.state === "alive") this.event({ type: "hostLate", host: subject.name, reportedBy: reporter.name, silentMs: r.silentMs });
        return;
      case "ALIVE":
        this.log.debug({ host: r.subject, reportedBy: reporter.name }, "heartbeats resumed");
        return;
      case "UNEXPECTED":
        this.event({ type: "unexpectedHeartbeat", reporter: reporter.name, from: r.subject, address: r.subjectAddress });
        return;
    }
  }

  private onGoodbye(m: InboundMessage): void {
    const h = this.membership.get(m.from.id);
    if (!h || h.address !== m.from.address || h.port !== m.from.port) return;
    this.counters.goodbyes++;
    if (h.state === "maintenance" && h.maintenance) {
      // shut down for its maintenance: out of the rings, still in maintenance
      this.suspicion.forget(h.name);
      if (!h.maintenance.down) {
        h.maintenance.down = true;
        this.membership.changed();
      }
      this.event({ type: "hostLeft", host: h.name });
      this.scheduleReplan();
      return;
    }
    this.suspicion.clearSuspicion(h, "left");
    this.event({ type: "hostLeft", host: h.name });
    this.scheduleReplan();
  }

  /** A host in maintenance speaks: if it was out of the rings, it is back in them (still in maintenance). */
  private backInMaintenance(h: HostRecord): void {
    this.suspicion.forget(h.name); // a silence being probed is answered
    if (!h.maintenance?.down) return;
    h.maintenance.down = false;
    this.membership.changed();
    this.event({ type: "hostReturned", host: h.name, segment: h.segment, was: "maintenance" });
    h.assignedKey = NOT_ASSIGNED;
    this.scheduleReplan();
  }

  /** A host we had given up on speaks: it is back. */
  private touch(h: HostRecord): void {
    if (h.state === "maintenance") return this.backInMaintenance(h);
    if (h.state === "dead" || h.state === "left" || h.state === "unreachable") {
      const was = h.state;
      this.membership.setState(h, "alive");
      this.event({ type: "hostReturned", host: h.name, segment: h.segment, was });
      if (was === "unreachable") this.suspicion.recheckSegment(h.segment);
      h.assignedKey = NOT_ASSIGNED;
      this.scheduleReplan();
    }
  }

  // ------------------------------------------------------------------ assignments

  /** Coalesce: at most one replan per REPLAN_MIN_INTERVAL_MS (or REPLAN_COST_SHARE × its cost), however many events arrive. */
  private scheduleReplan(): void {
    if (this.replanScheduled || this.stopped) return;
    this.replanScheduled = true;
    const wait = Math.max(0, this.lastReplanAt + Math.max(REPLAN_MIN_INTERVAL_MS, REPLAN_COST_SHARE * this.lastReplanMs) - Date.now());
    setTimeout(() => {
      this.replanScheduled = false;
      this.lastReplanAt = Date.now();
      const t0 = performance.now();
      const changed = this.membership.replan();
      this.lastReplanMs = performance.now() - t0;
      this.loneHosts.refresh();
      for (const { host, neighbours } of changed) this.assign(host, neighbours);
      if (changed.length > 0) this.event({ type: "ringsChanged", assignmentsSent: changed.length, representatives: this.membership.rings().representativeRing.length });
    }, wait);
  }

  /** assignments waiting for their turn to be signed and sent */
  get assignmentsPending(): number {
    return this.outgoing.size;
  }

  /** Decided now (so the next replan does not decide it again), signed and sent in a later slice. */
  private assign(h: HostRecord, neighbours: Neighbour[]): void {
    const key = neighboursKey(neighbours, this.membership.keyTagOf);
    h.assignedKey = key;
    h.assignmentInFlight = true;
    this.outgoing.set(h.name, { host: h, neighbours, key });
    if (!this.draining && !this.stopped) {
      this.draining = true;
      setImmediate(() => this.drainAssignments());
    }
  }

  private drainAssignments(): void {
    this.draining = false;
    if (this.stopped) return;
    let sent = 0;
    const until = performance.now() + ASSIGNMENT_SLICE_MS;
    for (const [name, a] of this.outgoing) {
      if (sent >= (this.opts.assignmentsPerTurn ?? ASSIGNMENTS_PER_TURN) || (sent > 0 && performance.now() > until)) break;
      this.outgoing.delete(name);
      if (a.host.assignedKey !== a.key || this.membership.get(name) !== a.host) continue; // superseded while waiting
      this.sendAssignment(a.host, a.neighbours, a.key);
      sent++;
    }
    this.largestAssignmentSlice = Math.max(this.largestAssignmentSlice, sent);
    if (this.outgoing.size > 0) {
      this.draining = true;
      setImmediate(() => this.drainAssignments());
    }
  }

  private sendAssignment(h: HostRecord, neighbours: Neighbour[], key: string): void {
    this.counters.assignmentsSent++;
    // each neighbour with its keys, so the two seal their heartbeats pairwise
    const withKeys = neighbours.map((n) => ({ ...n, keys: this.endpoint.pairKeys?.wireKeysOf(n.name) }));
    const setNeighbours = { neighbours: withKeys, heartbeatMs: this.opts.heartbeatMs, warntimeMs: this.opts.warntimeMs, deadtimeMs: this.opts.deadtimeMs, cmas: this.cmaAddresses };
    this.sendCommand(h, { setNeighbours }).then(
      () => {
        if (h.assignedKey === key) h.assignmentInFlight = false;
        h.joining = false;
        // acknowledged over its sealed channel: alive at this address, holding its key. A host a new
        // leader assigned before it re-announced (it then has no reason to) is not probed after the grace
        if (h.unconfirmed) h.unconfirmed = false;
        this.heldDeadReports.delete(h.name);
      },
      () => {
        this.counters.assignmentsUnacknowledged++;
        h.assignmentInFlight = false;
        if (h.assignedKey === key) {
          h.assignedKey = NOT_ASSIGNED; // resend at the next replan (if it is still in the rings)
          this.scheduleReplan();
        }
        const reporter = this.heldDeadReports.get(h.name);
        if (reporter !== undefined) {
          this.heldDeadReports.delete(h.name);
          this.suspicion.onDeadReport(h, reporter); // it never answered: now its silence counts
        }
      },
    );
    this.log.debug({ host: h.name, neighbours: neighbours.map((n) => n.name) }, "neighbours assigned");
  }

  /**
   * The CMAs of the cluster changed (a standby came or went): every host in the rings is sent its
   * assignment again with the new list, in slices like a replan's. Rare: CMAs come and go by hand.
   */
  setCmaAddresses(list: readonly string[]): void {
    const next = [...new Set(list)].sort();
    if (next.join(",") === this.cmaAddresses.join(",")) return;
    this.log.info({ cmas: next, was: this.cmaAddresses }, "the cluster's CMAs changed: every host is told the new list with its assignment");
    this.cmaAddresses = next;
    for (const h of this.membership.hosts()) {
      const neighbours = this.membership.neighboursOf(h.name);
      // the same neighbours (same key: nothing else changes, the graph's edges included), the new list
      if (neighbours && h.assignedKey !== NOT_ASSIGNED) this.assign(h, neighbours);
    }
  }

  /** the CMAs sent with each assignment */
  get cmaList(): readonly string[] {
    return this.cmaAddresses;
  }

  /** Signs a command for `to` with the CMA's key and sends it reliably; resolves when the host acknowledged it (also used by actions/). */
  sendCommand(to: { name: string; address: string; port: number }, action: Parameters<typeof signCommand>[1] extends infer D ? Omit<D & object, "target"> : never): Promise<void> {
    const command = this.sign({ ...(action as object), target: to.name } as CommandDraft);
    if (!command) {
      const fenced = Promise.reject(new Error("not sent: this CMA no longer leads"));
      fenced.catch(() => undefined); // callers that fire and forget must not crash the process
      return fenced;
    }
    this.endpoint.expect(to, to.name); // sealed for it even before it spoke at this address (a restarted CMA)
    const p = this.endpoint.send({ address: to.address, port: to.port }, encodeEnvelope({ command }));
    p.catch((e: Error) => this.log.debug({ host: to.name, err: e.message }, "command not acknowledged"));
    return p;
  }

  /**
   * A command signed with the command key and this CMA's epoch; undefined (counted) once it no
   * longer leads: a deposed leader signs nothing, whatever timer of its own asks.
   */
  sign(draft: CommandDraft): SignedCommand | undefined {
    const l = this.opts.leadership;
    if (l && !l.holds()) {
      this.counters.commandsFenced++;
      return undefined;
    }
    return signCommand(this.commandKey, l ? { ...draft, epoch: l.epoch } : draft);
  }

  private event(e: MembershipEventInput): void {
    this.membership.record({ ...e, at: Date.now() } as MembershipEvent);
  }

  // ------------------------------------------------------------------ persistence

  private scheduleSave(): void {
    if (!this.store || this.saveTimer || this.stopped) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 500);
  }

  private save(): void {
    try {
      this.store?.save(this.membership.toSnapshot());
    } catch (e) {
      this.log.error({ err: (e as Error).message }, "could not save the membership snapshot");
    }
  }
}

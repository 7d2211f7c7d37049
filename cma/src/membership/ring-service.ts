/**
 * The CMA's ring work: admit announced hosts, assign neighbours (signed), act on reports.
 *
 * A DEAD report is confirmed by the CMA's own direct probe before anyone is declared dead (reports
 * alone can be stale or come from inside a partition). A confirmed silence is then placed: if other hosts of the same segment answer, it
 * is that host's death (declared once, ring repaired: only hosts whose neighbours changed are told);
 * if none of them answer, it is one segment event ("switch or link suspected"), not N deaths.
 * The CMA sends nothing in steady state: all work is driven by announcements and reports.
 *
 * After a CMA restart, the snapshot says who was there: each is asked to re-announce (and the
 * multicast group is told too). Nobody is declared dead for not answering quickly; after a grace
 * period, the silent ones are probed, and only those that do not answer are declared dead.
 */
import type { KeyObject } from "node:crypto";
import { decodeInbound, encodeEnvelope, parseHostPort, signCommand } from "@ringwatch/shared";
import type { Announce, Endpoint, Envelope, InboundMessage, Logger, Neighbour, PeerAddress, Report } from "@ringwatch/shared";
import { Membership } from "./membership.js";
import type { HostRecord, HostState, MembershipEvent } from "./membership.js";
import { Prober } from "./prober.js";
import { NOT_ASSIGNED, neighboursKey } from "./ring-plan.js";
import { segmentOf } from "./segments.js";
import { SnapshotStore } from "./snapshot-store.js";

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
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Replanning 10,000 hosts takes ~10 ms: during a join storm, batch events instead of replanning per event. */
const REPLAN_MIN_INTERVAL_MS = 100;

/** A membership event before it is stamped (Omit distributed over the union). */
type EventInput = MembershipEvent extends infer E ? (E extends MembershipEvent ? Omit<E, "at"> : never) : never;

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
  readonly counters: RingServiceCounters = {
    announcements: 0, refusedAnnouncements: 0, reports: 0, reportsFromUnknownHosts: 0, badMessages: 0, assignmentsSent: 0,
    assignmentsUnacknowledged: 0, commandsRefusedByHosts: 0, goodbyes: 0,
  };
  private readonly store: SnapshotStore | undefined;
  private readonly suspicion = new Map<string, { reporters: Set<string> }>();
  private readonly segmentChecks = new Map<string, Promise<void>>();
  private readonly recheckTimers = new Map<string, NodeJS.Timeout>();
  private replanScheduled = false;
  private lastReplanAt = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly commandKey: KeyObject,
    private readonly opts: RingServiceOptions,
    private readonly log: Logger,
    /** false when a dispatcher decodes messages and calls handle() */
    listen = true,
  ) {
    this.membership = new Membership(opts.ringsPerSegment);
    this.prober = new Prober(endpoint, { attempts: opts.probeAttempts, intervalMs: opts.probeIntervalMs });
    this.store = opts.dataDir ? new SnapshotStore(opts.dataDir) : undefined;
    this.membership.on("event", (e) => this.log.info({ ...e }, "membership event"));
    this.membership.on("change", () => this.scheduleSave());
    if (listen) endpoint.on("message", (m) => this.onMessage(m));
  }

  /** Start: restore the previous run's membership, if any, and ask those hosts to re-announce. */
  start(): void {
    const loaded = this.store?.load();
    if (loaded?.error) this.log.error({ err: loaded.error }, "membership snapshot ignored");
    const snap = loaded?.snapshot;
    if (!snap || snap.hosts.length === 0) return;
    this.membership.restore(snap);
    const waiting = this.membership.hosts().filter((h) => h.unconfirmed);
    this.log.info({ hosts: snap.hosts.length, awaiting: waiting.length }, "restored membership from the snapshot: asking hosts to re-announce");
    const maxDelayMs = Math.min(10_000, Math.max(1000, waiting.length)); // ~1 answer per ms at most
    for (const h of waiting) this.sendCommand(h, { reannounce: { maxDelayMs } });
    if (this.opts.multicast) {
      const command = signCommand(this.commandKey, { target: "*", reannounce: { maxDelayMs } });
      // fire-and-forget to the group: hosts we never heard of (snapshot lost) announce too
      this.endpoint.sendDatagram(this.opts.multicast, encodeEnvelope({ command }));
    }
    this.scheduleUnconfirmedCheck();
  }

  private scheduleUnconfirmedCheck(): void {
    if (this.graceTimer || this.stopped) return;
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      void this.probeUnconfirmed();
    }, this.opts.reannounceGraceMs);
  }

  /**
   * A host we have no record of, named by another host (its announced neighbours, or a report):
   * remember it as unconfirmed. It is not a join — it was in the rings before this CMA knew it —
   * and if it never announces itself it is probed after the grace period like any other.
   */
  private learnOf(name: string, hostPort: string): HostRecord | undefined {
    if (!NAME_RE.test(name)) return undefined;
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
    this.scheduleUnconfirmedCheck();
    return h;
  }

  stop(): void {
    this.stopped = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    for (const t of this.recheckTimers.values()) clearInterval(t);
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
      if (was === "dead" || was === "left" || was === "unreachable") {
        this.membership.setState(h, "alive", now);
        this.event({ type: "hostReturned", host: name, segment, was });
        if (was === "unreachable") this.recheckSegment(segment);
      } else if (was === "suspect") {
        this.clearSuspicion(h, "alive");
      }
      if (moved) this.membership.emit("change");
    }
    // hosts it watches that we do not know (a CMA restarted without a snapshot, or a stale one)
    for (const n of a.neighbours) if (!this.membership.get(n.name)) this.learnOf(n.name, `${n.address}:${n.port}`);
    // it keeps announcing until a signed assignment reaches it: answer, unless one is on its way
    // (answering every repeat would feed a storm when the CMA is slow: each answer is a signature)
    if (!h.assignmentInFlight) h.assignedKey = NOT_ASSIGNED;
    this.scheduleReplan();
  }

  private onReport(m: InboundMessage, r: Report): void {
    this.counters.reports++;
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
        if (subject) this.onDeadReport(subject, reporter.name);
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
    this.clearSuspicion(h, "left");
    this.event({ type: "hostLeft", host: h.name });
    this.scheduleReplan();
  }

  /** A host we had given up on speaks: it is back. */
  private touch(h: HostRecord): void {
    if (h.state === "dead" || h.state === "left" || h.state === "unreachable") {
      const was = h.state;
      this.membership.setState(h, "alive");
      this.event({ type: "hostReturned", host: h.name, segment: h.segment, was });
      if (was === "unreachable") this.recheckSegment(h.segment);
      h.assignedKey = NOT_ASSIGNED;
      this.scheduleReplan();
    }
  }

  // ------------------------------------------------------------------ death: confirm, place, declare

  private onDeadReport(s: HostRecord, reporter: string): void {
    if (s.state !== "alive" && s.state !== "suspect") return; // already handled: declared once
    const sus = this.suspicion.get(s.name);
    if (sus) {
      sus.reporters.add(reporter); // more evidence, recorded with the verdict
      return;
    }
    // Reports can be stale (queued in a partition, delivered after it healed) or come from inside
    // a partition, so even two of them prove nothing: the CMA's own probe decides.
    this.membership.setState(s, "suspect");
    const entry = { reporters: new Set([reporter]) };
    this.suspicion.set(s.name, entry);
    this.log.debug({ host: s.name, reportedBy: reporter }, "death reported: probing");
    void this.prober.probe(s).then(async (answered) => {
      if (this.suspicion.get(s.name) !== entry || s.state !== "suspect") return; // overtaken (returned, left)
      this.suspicion.delete(s.name);
      if (answered) {
        this.membership.setState(s, "alive");
        this.event({ type: "deathNotConfirmed", host: s.name, reportedBy: [...entry.reporters] });
        return;
      }
      await this.placeSilence(s, [...entry.reporters]);
    });
  }

  private clearSuspicion(h: HostRecord, state: HostState): void {
    this.suspicion.delete(h.name);
    this.membership.setState(h, state);
  }

  /** One check per segment at a time: concurrent silences in a segment are judged together. */
  private placeSilence(s: HostRecord, reporters: string[]): Promise<void> {
    const prev = this.segmentChecks.get(s.segment) ?? Promise.resolve();
    const next = prev.then(() => this.judgeSegment(s, reporters)).catch((e: Error) => this.log.error({ err: e.message }, "segment check failed"));
    this.segmentChecks.set(s.segment, next);
    void next.then(() => {
      if (this.segmentChecks.get(s.segment) === next) this.segmentChecks.delete(s.segment);
    });
    return next;
  }

  private async judgeSegment(s: HostRecord, reporters: string[]): Promise<void> {
    const how = "probe";
    if (s.state !== "suspect") return;
    const others = this.membership.inSegment(s.segment).filter((h) => h.name !== s.name && h.state === "alive");
    if (others.length === 0) return this.declareDead(s, reporters, how);
    // a handful first: its ring neighbours in the segment and the representative
    const ring = this.membership.rings().segments.find((g) => g.segment === s.segment);
    const sampleNames = new Set<string>();
    if (ring) {
      const i = ring.members.indexOf(s.name);
      if (i >= 0) {
        sampleNames.add(ring.members[(i + 1) % ring.members.length]);
        sampleNames.add(ring.members[(i - 1 + ring.members.length) % ring.members.length]);
      }
      sampleNames.add(ring.representative);
    }
    const sample = others.filter((h) => sampleNames.has(h.name)).slice(0, 3);
    const firstLook = sample.length > 0 ? sample : others.slice(0, 3);
    if (await this.anyAnswers(firstLook)) return this.declareDead(s, reporters, how);
    // the sample is silent too: probe the whole segment
    const rest = others.filter((h) => !firstLook.includes(h));
    const answers = await Promise.all(rest.map((h) => this.prober.probe(h)));
    if (answers.some(Boolean)) {
      await this.declareDead(s, reporters, how);
      // the silent ones of the first look and the rest: each confirmed on its own
      for (const h of [...firstLook, ...rest.filter((_, i) => !answers[i])]) this.onDeadReport(h, "cma-probe");
      return;
    }
    const silent = [s, ...others];
    for (const h of silent) this.clearSuspicion(h, "unreachable");
    this.event({ type: "segmentSuspected", segment: s.segment, hosts: silent.map((h) => h.name), reportedBy: reporters });
    this.scheduleReplan();
    this.startSegmentRecheck(s.segment);
  }

  /** True as soon as one of the hosts answers a probe; false when none does. */
  private anyAnswers(hosts: HostRecord[]): Promise<boolean> {
    return new Promise((resolve) => {
      let left = hosts.length;
      if (left === 0) resolve(false);
      for (const h of hosts) {
        void this.prober.probe(h).then((ok) => {
          if (ok) resolve(true);
          else if (--left === 0) resolve(false);
        });
      }
    });
  }

  private async declareDead(s: HostRecord, reporters: string[], how: "probe" | "restart-probe" | "segment-recheck"): Promise<void> {
    if (s.state === "dead" || s.state === "left") return;
    this.clearSuspicion(s, "dead");
    this.event({ type: "hostDead", host: s.name, segment: s.segment, reportedBy: reporters, confirmedBy: how });
    this.scheduleReplan();
  }

  // ------------------------------------------------------------------ silent segments

  private startSegmentRecheck(segment: string): void {
    if (this.recheckTimers.has(segment) || this.stopped) return;
    let turn = 0;
    const t = setInterval(() => {
      const silent = this.membership.inSegment(segment).filter((h) => h.state === "unreachable");
      if (silent.length === 0) {
        clearInterval(t);
        this.recheckTimers.delete(segment);
        return;
      }
      const h = silent[turn++ % silent.length]; // one probe per interval while the segment is out
      void this.prober.probe(h).then((ok) => ok && this.recheckSegment(segment));
    }, this.opts.segmentRecheckMs);
    this.recheckTimers.set(segment, t);
  }

  /** Part of a silent segment is heard again: probe all of it, bring back who answers. */
  private recheckSegment(segment: string): void {
    const silent = this.membership.inSegment(segment).filter((h) => h.state === "unreachable");
    if (silent.length === 0) return;
    void Promise.all(silent.map((h) => this.prober.probe(h))).then((answers) => {
      const back = silent.filter((h, i) => answers[i] && h.state === "unreachable");
      for (const h of back) {
        this.membership.setState(h, "alive");
        h.assignedKey = NOT_ASSIGNED;
      }
      if (back.length > 0) this.event({ type: "segmentRecovered", segment, hosts: back.map((h) => h.name) });
      const stillSilent = silent.filter((h, i) => !answers[i] && h.state === "unreachable");
      if (back.length > 0) for (const h of stillSilent) void this.declareDead(h, ["cma-probe"], "segment-recheck");
      this.scheduleReplan();
    });
  }

  // ------------------------------------------------------------------ after a CMA restart

  private async probeUnconfirmed(): Promise<void> {
    const waiting = this.membership.hosts().filter((h) => h.unconfirmed && h.state === "alive");
    if (waiting.length === 0) return;
    this.log.info({ hosts: waiting.length }, "hosts did not re-announce after the CMA restart: probing them");
    const answers = await Promise.all(waiting.map((h) => this.prober.probe(h)));
    waiting.forEach((h, i) => {
      if (!h.unconfirmed || h.state !== "alive") return; // re-announced, or its death handled meanwhile
      if (answers[i]) this.sendCommand(h, { reannounce: { maxDelayMs: 1000 } });
      else {
        h.unconfirmed = false;
        this.membership.setState(h, "suspect");
        void this.declareDead(h, ["cma-probe"], "restart-probe");
      }
    });
  }

  // ------------------------------------------------------------------ assignments

  /** Coalesce: at most one replan per REPLAN_MIN_INTERVAL_MS, however many events arrive. */
  private scheduleReplan(): void {
    if (this.replanScheduled || this.stopped) return;
    this.replanScheduled = true;
    const wait = Math.max(0, this.lastReplanAt + REPLAN_MIN_INTERVAL_MS - Date.now());
    setTimeout(() => {
      this.replanScheduled = false;
      this.lastReplanAt = Date.now();
      const changed = this.membership.replan();
      for (const { host, neighbours } of changed) this.assign(host, neighbours);
      if (changed.length > 0) this.event({ type: "ringsChanged", assignmentsSent: changed.length, representatives: this.membership.rings().representativeRing.length });
    }, wait);
  }

  private assign(h: HostRecord, neighbours: Neighbour[]): void {
    const key = neighboursKey(neighbours);
    h.assignedKey = key;
    h.assignmentInFlight = true;
    this.counters.assignmentsSent++;
    this.sendCommand(h, { setNeighbours: { neighbours, heartbeatMs: this.opts.heartbeatMs, warntimeMs: this.opts.warntimeMs, deadtimeMs: this.opts.deadtimeMs } }).then(
      () => {
        if (h.assignedKey === key) h.assignmentInFlight = false;
      },
      () => {
        this.counters.assignmentsUnacknowledged++;
        h.assignmentInFlight = false;
        if (h.assignedKey === key) {
          h.assignedKey = NOT_ASSIGNED; // resend at the next replan (if it is still in the rings)
          this.scheduleReplan();
        }
      },
    );
    this.log.debug({ host: h.name, neighbours: neighbours.map((n) => n.name) }, "neighbours assigned");
  }

  private sendCommand(to: { name: string; address: string; port: number }, action: Parameters<typeof signCommand>[1] extends infer D ? Omit<D & object, "target"> : never): Promise<void> {
    const command = signCommand(this.commandKey, { ...(action as object), target: to.name });
    const p = this.endpoint.send({ address: to.address, port: to.port }, encodeEnvelope({ command }));
    p.catch((e: Error) => this.log.debug({ host: to.name, err: e.message }, "command not acknowledged"));
    return p;
  }

  private event(e: EventInput): void {
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

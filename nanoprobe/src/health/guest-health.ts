/**
 * Guest health, agentless (issue 14, item 2): per guest of this hypervisor, the causes that make it
 * unhealthy — a lifecycle event (lifecycle-verdict.ts: crash, panic, watchdog, I/O-error pause) or
 * a service check failing its configured number of times in a row (guest-checks-file.ts,
 * service-probe.ts) — raised as one `guestUnhealthy` alert with every cause as evidence, cleared
 * when none holds. Checks run only while the guest runs: a guest shut off, paused or gone is not
 * checked, and its check causes are dropped (a guest stopped on purpose is never unhealthy).
 *
 * An agent check (`"agent": true`) pings the QEMU guest agent through libvirt (agent-ping.ts): no
 * answer within the timeout is a failure like a refused connection; a guest without an agent
 * channel is not pinged (logged once per check, counted), and libvirt's own failures count as the
 * monitor's (checksOwnErrors), never against the guest.
 *
 * A check by tag runs once per guest carrying the tag (libvirt metadata): made when a guest gets
 * the tag or appears with it, dropped (its cause too) when it loses it or goes; at most
 * MAX_TAG_CHECKS of them at once (counted beyond). `{name}` and `{uuid}` in a target are the guest's.
 *
 * A discovered-services entry (`"discovered": "tcp"`, for a guest or a tag) makes one TCP check per
 * service guest-flows saw the guest answer on (setDiscovered; at most MAX_DISCOVERED_CHECKS). Such
 * a check outlives the service's entry in the document while it is failing: a service that died
 * answers no SYN, so discovery forgets it within the hour, and that must not end its check (or
 * the guest would look healthy again). It goes once it has answered after being forgotten, or
 * when its guest stops, goes or no longer matches the entry.
 */
import { EventEmitter } from "node:events";
import type { Alert, Logger } from "@ringwatch/shared";
import type { LibvirtConnection, LifecycleEvent } from "@ringwatch/libvirt";
import { GuestAgentPinger } from "./agent-ping.js";
import { targetFor } from "./guest-checks-file.js";
import type { GuestCheckSpec } from "./guest-checks-file.js";
import { lifecycleVerdict } from "./lifecycle-verdict.js";
import { probeService } from "./service-probe.js";
import type { DiscoveredServices, ServiceEndpoint } from "./discovered-services.js";
import type { ProbeAnswer } from "./service-probe.js";

/** errors of this host's own resources (descriptors, buffers, memory, local addresses), not of the guest's service */
const OWN_ERRORS = /^(EMFILE|ENFILE|ENOBUFS|ENOMEM|EADDRNOTAVAIL|EAI_AGAIN)$/;

export interface GuestView {
  uuid: string;
  name: string;
  state: string;
  /** ringwatch tags from libvirt metadata: checks by tag follow them */
  tags?: readonly string[];
}

/** Checks by tag alive at once at most: each holds a timer and, when it runs, a socket. */
export const MAX_TAG_CHECKS = 10_000;
/** Checks of discovered services alive at once at most (the same reason). */
export const MAX_DISCOVERED_CHECKS = 10_000;

interface CheckState {
  spec: GuestCheckSpec;
  /** the guest it checks: the spec's, or (a check by tag) the guest's UUID */
  guest: string;
  /** a check made per guest (by tag, or per discovered service): the map holding it and its key
   *  there (gone from there: the guest lost the tag, or the check was dropped) */
  pool?: Map<string, CheckState>;
  poolId?: string;
  /** a discovered service's check whose service the document no longer lists: goes once it answers */
  forgotten?: boolean;
  timer: NodeJS.Timeout;
  /** consecutive failures while the guest runs */
  failures: number;
  last?: ProbeAnswer & { at: number };
  running: boolean;
  /** agent checks: the guest's lack of an agent channel was logged */
  noChannelLogged?: boolean;
}

interface Cause {
  cause: string;
  since: number;
  detail: Record<string, unknown>;
}

export interface GuestHealthCounters {
  checksRun: number;
  checksFailed: number;
  /** checks whose guest is not on this hypervisor (or not running) when their turn came */
  checksSkipped: number;
  /** failures that are this host's own (out of sockets or memory), not the guest's: not counted against it */
  checksOwnErrors: number;
  /** agent checks not run: the guest has no agent channel (never unhealthy for it) */
  agentNoChannel: number;
  /** agent checks left to their next interval: enough pings were under way */
  agentDeferred: number;
  /** checks by tag not made: MAX_TAG_CHECKS were running */
  tagChecksOverLimit: number;
  /** checks of discovered services not made: MAX_DISCOVERED_CHECKS were running */
  discoveredChecksOverLimit: number;
  /** entries of guest-flows documents left out as malformed */
  discoveredMalformed: number;
  unhealthyRaised: number;
  unhealthyCleared: number;
}

export class GuestHealth extends EventEmitter<{ alert: [Alert] }> {
  readonly counters: GuestHealthCounters = { checksRun: 0, checksFailed: 0, checksSkipped: 0, checksOwnErrors: 0, agentNoChannel: 0, agentDeferred: 0, tagChecksOverLimit: 0, discoveredChecksOverLimit: 0, discoveredMalformed: 0, unhealthyRaised: 0, unhealthyCleared: 0 };
  private guests = new Map<string, GuestView>();
  /** uuid → cause key → cause */
  private readonly causes = new Map<string, Map<string, Cause>>();
  private readonly checks: CheckState[] = [];
  private readonly tagSpecs: GuestCheckSpec[];
  /** checks by tag now: `<spec index>:<uuid>` → its state */
  private readonly tagChecks = new Map<string, CheckState>();
  private readonly discoveredSpecs: GuestCheckSpec[];
  /** guest uuid → the services guest-flows last listed for it */
  private discovered = new Map<string, ServiceEndpoint[]>();
  /** checks of discovered services now: `<spec index>:<uuid>:<endpoint>` → its state */
  private readonly discoveredChecks = new Map<string, CheckState>();
  private stopped = false;
  private readonly agent: GuestAgentPinger;
  /** guest-pings sent to libvirt by agent checks */
  get agentPings(): number {
    return this.agent.sent;
  }

  /** uuid → whether its agent answered the last ping (the agent reboot asks only such a guest) */
  private readonly agentAnswers = new Map<string, boolean>();

  /** conn: the hypervisor's connection now (undefined while libvirt is away), for agent checks */
  constructor(specs: readonly GuestCheckSpec[], private readonly log: Logger, conn: () => LibvirtConnection | undefined = () => undefined) {
    super();
    this.agent = new GuestAgentPinger(conn);
    for (const spec of specs) if (spec.guest !== undefined && !spec.discovered) this.checks.push(this.startCheck(spec, spec.guest));
    this.tagSpecs = specs.filter((s) => s.tag !== undefined && !s.discovered);
    this.discoveredSpecs = specs.filter((s) => s.discovered);
  }

  private startCheck(spec: GuestCheckSpec, guest: string, pool?: Map<string, CheckState>, poolId?: string): CheckState {
    const c: CheckState = { spec, guest, pool, poolId, failures: 0, running: false, timer: setInterval(() => void this.run(c), spec.intervalMs) };
    c.timer.unref();
    return c;
  }

  /** Checks by tag follow the guests' tags: one per guest carrying a spec's tag, no more. */
  private followTags(): void {
    if (this.tagSpecs.length === 0 || this.stopped) return;
    const want = new Set<string>();
    for (const [i, spec] of this.tagSpecs.entries()) {
      for (const g of this.guests.values()) {
        if (!g.tags?.includes(spec.tag!)) continue;
        const id = `${i}:${g.uuid.toLowerCase()}`;
        want.add(id);
        if (this.tagChecks.has(id)) continue;
        if (this.tagChecks.size >= MAX_TAG_CHECKS) {
          this.counters.tagChecksOverLimit++;
          continue;
        }
        this.tagChecks.set(id, this.startCheck(spec, g.uuid.toLowerCase(), this.tagChecks, id));
      }
    }
    for (const [id, c] of this.tagChecks) {
      if (want.has(id)) continue;
      clearInterval(c.timer);
      this.tagChecks.delete(id);
      const g = this.guests.get(c.guest);
      // the tag is gone (or the guest): what this check found holds no longer
      if (g) this.drop(c.guest, this.causeKey(c.spec, g));
    }
  }

  /** The services guest-flows saw each guest answer on (its latest document). */
  setDiscovered(d: DiscoveredServices): void {
    this.discovered = d.byGuest;
    this.counters.discoveredMalformed += d.malformed;
    this.followDiscovered();
  }

  /** One check per (discovered-services entry, matching running guest, service discovered on it). */
  private followDiscovered(): void {
    if (this.discoveredSpecs.length === 0 || this.stopped) return;
    const want = new Set<string>();
    for (const [i, spec] of this.discoveredSpecs.entries()) {
      for (const g of this.guests.values()) {
        const uuid = g.uuid.toLowerCase();
        if (spec.guest !== undefined ? spec.guest.toLowerCase() !== uuid && spec.guest !== g.name : !g.tags?.includes(spec.tag!)) continue;
        for (const endpoint of this.discovered.get(uuid) ?? []) {
          const id = `${i}:${uuid}:${endpoint}`;
          want.add(id);
          const known = this.discoveredChecks.get(id);
          if (known) { known.forgotten = false; continue; }
          if (this.discoveredChecks.size >= MAX_DISCOVERED_CHECKS) { this.counters.discoveredChecksOverLimit++; continue; }
          this.discoveredChecks.set(id, this.startCheck({ ...spec, target: endpoint }, uuid, this.discoveredChecks, id));
        }
      }
    }
    for (const [id, c] of this.discoveredChecks) {
      if (want.has(id)) continue;
      const g = this.guests.get(c.guest);
      const stillMatches = g !== undefined && (c.spec.guest !== undefined ? c.spec.guest.toLowerCase() === c.guest || c.spec.guest === g.name : g.tags?.includes(c.spec.tag!) === true);
      // a failing check of a service discovery forgot stays: a dead service answers no SYN
      if (stillMatches && (c.failures > 0 || this.causes.get(c.guest)?.has(this.causeKey(c.spec, g)))) { c.forgotten = true; continue; }
      this.retire(c);
    }
  }

  /** A check made per guest leaves its pool, and what it found with it. */
  private retire(c: CheckState): void {
    clearInterval(c.timer);
    if (c.pool && c.poolId !== undefined && c.pool.get(c.poolId) === c) c.pool.delete(c.poolId);
    const g = this.guests.get(c.guest);
    if (g) this.drop(c.guest, this.causeKey(c.spec, g));
  }

  private causeKey(spec: GuestCheckSpec, g: GuestView): string {
    return `check:${spec.kind}:${targetFor(spec, g)}`;
  }

  /** The hypervisor's guests now (the domain tracker's view). */
  setGuests(guests: Iterable<GuestView>): void {
    this.guests = new Map([...guests].map((g) => [g.uuid.toLowerCase(), g]));
    for (const uuid of [...this.agentAnswers.keys()]) if (this.guests.get(uuid)?.state !== "running") this.agentAnswers.delete(uuid);
    for (const [uuid] of this.causes) {
      const g = this.guests.get(uuid);
      if (!g) this.clearAll(uuid, "the guest is gone from this hypervisor");
      else if (g.state !== "running") this.dropChecks(uuid, `the guest is ${g.state}`);
    }
    this.followTags();
    this.followDiscovered();
  }

  lifecycle(e: LifecycleEvent): void {
    const v = lifecycleVerdict(e);
    const uuid = e.uuid.toLowerCase();
    if (!v) return;
    if ("unhealthy" in v) {
      this.raise(uuid, e.name, `lifecycle:${v.unhealthy}`, { cause: v.unhealthy, evidence: v.evidence, ...(v.watchdogAction ? { action: v.watchdogAction } : {}) });
      // the hypervisor reset the hung guest itself: recorded (raised and cleared), nothing left to do
      if (v.watchdogAction === "reset") this.dropLifecycle(uuid, "the watchdog reset the guest");
      return;
    }
    // a stop the watchdog made is nobody's purpose: its cause holds until the guest runs again
    if ("stoppedOnPurpose" in v && this.stoppedByWatchdog(uuid)) return;
    // stopped on purpose: a fault seen before is someone's business now. Failing checks stay until
    // the guest's state says it is not running (setGuests): an ACPI reboot also says "shutdown",
    // and the guest runs on through it, its service down
    this.dropLifecycle(uuid, "runs" in v ? "the guest runs again" : "the guest was stopped on purpose");
  }

  /** A reset carried out on the guest (by a ladder or a person): a hung guest whose watchdog fired runs again (a reset emits no lifecycle event). */
  wasReset(uuid: string): void {
    const key = uuid.toLowerCase();
    const m = this.causes.get(key);
    if (!m?.delete("lifecycle:watchdog")) return;
    if (m.size === 0) this.cleared(key, "the guest was reset");
    else this.emitAlert(key, this.guests.get(key)?.name ?? key, true);
  }

  private stoppedByWatchdog(uuid: string): boolean {
    const action = this.causes.get(uuid)?.get("lifecycle:watchdog")?.detail.action;
    return action === "poweroff" || action === "shutdown";
  }

  /** Unhealthy guests now: uuid → their causes. */
  unhealthy(): Map<string, string[]> {
    return new Map([...this.causes].map(([u, m]) => [u, [...m.keys()]]));
  }

  /** Whether the guest's agent answered its last ping (false without an agent check). */
  agentAnswered(uuid: string): boolean {
    return this.agentAnswers.get(uuid.toLowerCase()) === true;
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.checks) clearInterval(c.timer);
    for (const c of this.tagChecks.values()) clearInterval(c.timer);
    this.tagChecks.clear();
    for (const c of this.discoveredChecks.values()) clearInterval(c.timer);
    this.discoveredChecks.clear();
  }

  /** Checks running now: by guest, by tag (one per tagged guest) and of discovered services (one per guest and service). */
  checkCount(): { byGuest: number; byTag: number; byDiscovery: number } {
    return { byGuest: this.checks.length, byTag: this.tagChecks.size, byDiscovery: this.discoveredChecks.size };
  }

  private guestOf(ref: string): GuestView | undefined {
    const byUuid = this.guests.get(ref.toLowerCase());
    if (byUuid) return byUuid;
    for (const g of this.guests.values()) if (g.name === ref) return g;
    return undefined;
  }

  private async run(c: CheckState): Promise<void> {
    if (c.running || this.stopped) return; // a slow check does not overlap itself
    const g = this.guestOf(c.guest);
    if (!g || g.state !== "running") {
      this.counters.checksSkipped++;
      c.failures = 0;
      return;
    }
    c.running = true;
    try {
      const target = targetFor(c.spec, g);
      const a = c.spec.kind === "agent" ? await this.pingAgent(c, g) : await probeService({ ...c.spec, target });
      if (!a || this.stopped) return;
      this.counters.checksRun++;
      c.last = { ...a, at: Date.now() };
      const now = this.guestOf(c.guest);
      if (!now || now.uuid !== g.uuid || now.state !== "running") return; // it stopped meanwhile: the answer says nothing
      if (c.pool && c.pool.get(c.poolId!) !== c) return; // its tag or service went meanwhile
      const key = this.causeKey(c.spec, g);
      if (a.ok) {
        c.failures = 0;
        this.drop(g.uuid.toLowerCase(), key);
        if (c.forgotten) this.retire(c); // answered again, and discovery no longer lists it
        return;
      }
      if (OWN_ERRORS.test(a.error ?? "")) {
        // the monitor's own trouble must not become an alarm about the guest
        this.counters.checksOwnErrors++;
        this.log.warn({ uuid: g.uuid, target, err: a.error }, "guest check could not run here; not counted against the guest");
        return;
      }
      this.counters.checksFailed++;
      c.failures++;
      if (c.failures >= c.spec.failures) this.raise(g.uuid.toLowerCase(), g.name, key, { cause: "check", check: c.spec.kind, target, ...(c.spec.tag !== undefined ? { tag: c.spec.tag } : {}), ...(c.spec.discovered ? { discovered: true } : {}), failures: c.failures, lastError: a.error, ms: a.ms });
    } finally {
      c.running = false;
    }
  }

  /** An agent check's ping as a probe answer; undefined when it says nothing about the guest. */
  private async pingAgent(c: CheckState, g: GuestView): Promise<ProbeAnswer | undefined> {
    const uuid = g.uuid.toLowerCase();
    const p = await this.agent.ping(g.uuid, c.spec.timeoutMs);
    if (p.outcome !== "answered" && p.outcome !== "noAnswer") this.agentAnswers.delete(uuid);
    switch (p.outcome) {
      case "answered":
        this.agentAnswers.set(uuid, true);
        return { ok: true, ms: p.ms };
      case "noAnswer":
        this.agentAnswers.set(uuid, false);
        return { ok: false, error: p.error, ms: p.ms };
      case "noChannel":
        this.counters.agentNoChannel++;
        c.failures = 0;
        if (!c.noChannelLogged) this.log.info({ uuid: g.uuid, guest: g.name, why: p.why }, "guest has no guest-agent channel: its agent check does not run");
        c.noChannelLogged = true;
        this.drop(uuid, this.causeKey(c.spec, g));
        return undefined;
      case "notRunning":
        this.counters.checksSkipped++;
        return undefined;
      case "deferred":
        this.counters.agentDeferred++;
        return undefined;
      case "ownError":
        // libvirt's trouble (or ours), not the guest's: never an alarm about it
        this.counters.checksOwnErrors++;
        this.log.warn({ uuid: g.uuid, err: p.error }, "guest agent check could not run here; not counted against the guest");
        return undefined;
    }
  }

  private raise(uuid: string, name: string, key: string, detail: Record<string, unknown>): void {
    let m = this.causes.get(uuid);
    const first = !m || m.size === 0;
    if (!m) this.causes.set(uuid, (m = new Map()));
    const known = m.get(key);
    m.set(key, { cause: key, since: known?.since ?? Date.now(), detail });
    if (known) return; // raised for this cause already: no new event per failing interval
    if (first) this.counters.unhealthyRaised++;
    this.log.warn({ uuid, guest: name, cause: key, ...detail }, "guest unhealthy");
    this.emitAlert(uuid, name, true);
  }

  private drop(uuid: string, key: string): void {
    const m = this.causes.get(uuid);
    if (!m?.delete(key)) return;
    if (m.size === 0) this.cleared(uuid, `${key} holds no longer`);
    else this.emitAlert(uuid, this.guests.get(uuid)?.name ?? uuid, true); // fewer causes: the evidence changes
  }

  private dropChecks(uuid: string, why: string): void {
    const m = this.causes.get(uuid);
    if (!m) return;
    for (const k of [...m.keys()]) if (k.startsWith("check:")) m.delete(k);
    if (m.size === 0) this.cleared(uuid, why);
  }

  private dropLifecycle(uuid: string, why: string): void {
    const m = this.causes.get(uuid);
    if (!m) return;
    let dropped = 0;
    for (const k of [...m.keys()]) if (k.startsWith("lifecycle:")) { m.delete(k); dropped++; }
    if (m.size === 0) this.cleared(uuid, why);
    else if (dropped) this.emitAlert(uuid, this.guests.get(uuid)?.name ?? uuid, true); // check causes remain: the evidence changes
  }

  private clearAll(uuid: string, why: string): void {
    const m = this.causes.get(uuid);
    if (!m || m.size === 0) return;
    m.clear();
    this.cleared(uuid, why);
  }

  private cleared(uuid: string, why: string): void {
    this.causes.delete(uuid);
    this.counters.unhealthyCleared++;
    this.log.info({ uuid, why }, "guest healthy again");
    this.emitAlert(uuid, this.guests.get(uuid)?.name ?? uuid, false, why);
  }

  private emitAlert(uuid: string, name: string, active: boolean, why?: string): void {
    const causes = [...(this.causes.get(uuid)?.values() ?? [])].map((c) => ({ ...c.detail, key: c.cause, since: c.since }));
    this.emit("alert", { kind: "guestUnhealthy", subject: uuid, subjectName: name, active, evidenceJson: JSON.stringify(active ? { causes } : { cleared: why }), atMs: Date.now() });
  }
}

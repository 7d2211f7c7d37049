/**
 * The bridge from what the CMA learns to Zabbix values:
 * - ring membership → ringwatch.host.state (1 up, 0 dead, 2 left, 3 segment unreachable) at once,
 *   and refreshed every stateRefreshMs (the host-down trigger's nodata backstop), plus the event as JSON;
 * - guest inventory → the low-level discovery values of the four trapper rules, guest counts and states;
 * - stats batches → one value per compacted value: the compacted multiset keeps each interval's
 *   min/max/avg exact, and its values are placed inside the span of the raw samples
 *   (placeInTime), so Zabbix's min/avg/max over the report interval equal the raw samples';
 * - analytics alerts → per-guest problem items (1 raised, 0 cleared) with the evidence as text;
 *   discovery-script errors → a per-host count and detail.
 * It also drives the configuration sync: at start, when hosts or guests appear (debounced), when
 * the sender reports values Zabbix did not know, and every templateRecheckMs. Without a sync (no API
 * credentials: Zabbix configured from the template file by hand) values go out as they come.
 */
import { placeInTime } from "@ringwatch/shared";
import type { GuestDomain, Logger } from "@ringwatch/shared";
import type { AlertEvent, AlertStore } from "../intake/alert-store.js";
import type { InventoryEvent, InventoryStore } from "../intake/inventory-store.js";
import type { Membership, MembershipEvent } from "../membership/membership.js";
import type { StatsEvent, StatsStore } from "../intake/stats-store.js";
import type { ConfigSync, DesiredHosts } from "./config-sync.js";
import { GUEST_ALERTS, HOST_STATE_VALUE, KEYS, alertItemKeys, guestHostName, guestStateKey, lldRows, seriesItem, zabbixHostName } from "./definitions.js";
import type { GuestAlertKind } from "./definitions.js";
import { Holdback } from "./holdback.js";
import type { ZabbixValue, ZabbixValueSink } from "./zabbix-value.js";

export interface BridgeOptions {
  hostPerDomain: boolean;
  syncDebounceMs: number;
  syncRetryMs: number;
  stateRefreshMs: number;
  templateRecheckMs: number;
  /** how long after the sync or LLD created something Zabbix can take its values (server CacheUpdateFrequency + LLD time) */
  configCacheDelayMs: number;
  maxHeldValues: number;
  maxHoldMs: number;
}

export interface BridgeSources {
  membership: Membership;
  inventory: InventoryStore;
  stats: StatsStore;
  alerts: AlertStore;
}

/** Host and key of values Zabbix refused as unknown (from the sender). */
export interface UnknownPair {
  host: string;
  key: string;
}

const MEMBERSHIP_HOSTS: Partial<Record<MembershipEvent["type"], (e: MembershipEvent) => string[]>> = {
  hostJoined: (e) => [(e as { host: string }).host],
  hostReturned: (e) => [(e as { host: string }).host],
  hostLeft: (e) => [(e as { host: string }).host],
  hostDead: (e) => [(e as { host: string }).host],
  deathNotConfirmed: (e) => [(e as { host: string }).host],
  segmentSuspected: (e) => (e as { hosts: string[] }).hosts,
  segmentRecovered: (e) => (e as { hosts: string[] }).hosts,
};

/** ms since the epoch (may be fractional) → Zabbix clock + ns. */
export function clockOf(ms: number): { clock: number; ns: number } {
  const clock = Math.floor(ms / 1000);
  const ns = Math.min(999_999_999, Math.max(0, Math.round((ms - clock * 1000) * 1e6)));
  return { clock, ns };
}

/** Zabbix keeps one value per item and (clock, ns): nudge equal stamps apart by a nanosecond. */
function strictlyIncreasing(values: ZabbixValue[]): void {
  for (let i = 1; i < values.length; i++) {
    const p = values[i - 1];
    const v = values[i];
    if (v.clock < p.clock || (v.clock === p.clock && v.ns <= p.ns)) {
      v.clock = p.clock + (p.ns === 999_999_999 ? 1 : 0);
      v.ns = p.ns === 999_999_999 ? 0 : p.ns + 1;
    }
  }
}

/** An alert's clock when plausible (the nanoprobe's clock may be off), else now. */
function alertClock(atMs: number, now: number): number {
  return Number.isFinite(atMs) && atMs > 0 && Math.abs(atMs - now) < 86_400_000 ? atMs : now;
}

export class ZabbixBridge {
  readonly counters = {
    values: 0, stateValues: 0, lldValues: 0, statValues: 0, alertValues: 0,
    unmappedSeries: 0, skippedDevices: 0, badAlerts: 0, syncs: 0, syncFailures: 0, unknownReports: 0,
  };
  readonly holdback: Holdback;
  lastSyncError: string | undefined;
  private readonly sync: ConfigSync | undefined;
  private readonly sources: BridgeSources;
  private readonly off: (() => void)[] = [];
  private syncTimer: NodeJS.Timeout | undefined;
  private syncRunning: Promise<void> | undefined;
  private syncAgain: { templates: boolean } | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly lldTimers = new Map<string, NodeJS.Timeout>();
  /** per Zabbix host: the LLD rows last pushed, per guest uuid (to see which guests are new or changed) */
  private readonly lastLld = new Map<string, Map<string, string>>();
  private readonly warnedNames = new Set<string>();
  private stopped = false;
  private firstSyncDone = false;

  constructor(
    sources: BridgeSources,
    sync: ConfigSync | undefined,
    private readonly sink: ZabbixValueSink,
    private readonly o: BridgeOptions,
    private readonly log: Logger,
  ) {
    this.sources = sources;
    this.sync = sync;
    this.holdback = new Holdback(sink, { maxHeld: o.maxHeldValues, maxHoldMs: o.maxHoldMs });
  }

  start(): void {
    const { membership, inventory, stats, alerts } = this.sources;
    const onMembership = (e: MembershipEvent): void => this.onMembership(e);
    const onInventory = (e: InventoryEvent): void => this.onInventory(e);
    const onStats = (e: StatsEvent): void => this.onStats(e);
    const onAlert = (e: AlertEvent): void => this.onAlert(e);
    membership.on("event", onMembership);
    inventory.on("event", onInventory);
    stats.on("event", onStats);
    alerts.on("event", onAlert);
    this.off.push(() => membership.off("event", onMembership), () => inventory.off("event", onInventory), () => stats.off("event", onStats), () => alerts.off("event", onAlert));
    this.refreshTimer = setInterval(() => this.pushAllStates(), this.o.stateRefreshMs).unref();
    if (this.sync) {
      this.scheduleSync({ templates: true }, 0);
      this.recheckTimer = setInterval(() => this.scheduleSync({ templates: true }), this.o.templateRecheckMs).unref();
    } else {
      this.holdback.readyForAll();
      this.pushAllStates();
      for (const host of this.sources.inventory.hosts()) this.pushInventory(host);
    }
    this.flushTimer = setInterval(() => this.holdback.flush(), Math.max(100, Math.min(1000, this.o.configCacheDelayMs / 4))).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const f of this.off.splice(0)) f();
    for (const t of [this.syncTimer, this.refreshTimer, this.recheckTimer, this.flushTimer]) if (t) clearTimeout(t);
    for (const t of this.lldTimers.values()) clearTimeout(t);
    this.lldTimers.clear();
    await this.syncRunning?.catch(() => undefined);
    this.holdback.drain();
  }

  /** The sender's report of values Zabbix refused for an unknown host or key: sync, then rediscover. */
  handleUnknown(pairs: readonly UnknownPair[]): void {
    if (this.stopped || pairs.length === 0) return;
    this.counters.unknownReports++;
    this.log.info({ pairs: pairs.length, first: pairs.slice(0, 5) }, "Zabbix did not know some hosts/items: syncing the configuration again");
    const hosts = new Set(pairs.map((p) => p.host));
    for (const host of hosts) this.lastLld.delete(host); // all its guests count as new again
    if (this.sync) this.scheduleSync({ templates: true }); // it pushes the discovery again afterwards
    else for (const h of this.sources.inventory.hosts()) if (hosts.has(zabbixHostName(h))) this.pushInventory(h);
  }

  // ---------------------------------------------------------------- sync

  private desired(): DesiredHosts {
    const hypervisors = new Map<string, string>();
    for (const h of this.sources.membership.hosts()) {
      const z = zabbixHostName(h.name);
      const clash = hypervisors.has(z) && hypervisors.get(z) !== h.name;
      if (clash && !this.warnedNames.has(z)) {
        this.warnedNames.add(z);
        this.log.warn({ host: h.name, zabbixHost: z }, "two ringwatch hosts map to one Zabbix host name; their values mix");
      }
      hypervisors.set(z, z === h.name ? "" : h.name);
    }
    const guests = new Map<string, string>();
    if (this.o.hostPerDomain) {
      for (const host of this.sources.inventory.hosts()) {
        for (const d of this.sources.inventory.domains(host)) guests.set(guestHostName(d.uuid), `${d.name} (${d.uuid.toLowerCase()})`);
      }
    }
    return { hypervisors, guests };
  }

  /** Coalesce sync requests; one sync at a time; a failed one is retried. */
  scheduleSync(what: { templates: boolean }, delayMs = this.o.syncDebounceMs): void {
    if (this.stopped || !this.sync) return;
    if (this.syncRunning) {
      this.syncAgain = { templates: what.templates || (this.syncAgain?.templates ?? false) };
      return;
    }
    const templates = what.templates || (this.syncAgain?.templates ?? false);
    this.syncAgain = { templates };
    if (this.syncTimer && delayMs > 0) return; // one is coming
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      const w = this.syncAgain ?? { templates: false };
      this.syncAgain = undefined;
      this.syncRunning = this.runSync(w).finally(() => {
        this.syncRunning = undefined;
        if (this.syncAgain && !this.stopped) this.scheduleSync(this.syncAgain);
      });
    }, delayMs);
    this.syncTimer.unref();
  }

  private async runSync(what: { templates: boolean }): Promise<void> {
    const t0 = Date.now();
    if (!this.sync) return;
    try {
      const desired = this.desired();
      const report = await this.sync.sync(desired, what);
      const created = new Set(report.changes.filter((c) => c.startsWith("host.create ")).map((c) => c.slice("host.create ".length)));
      const readyAt = Date.now() + this.o.configCacheDelayMs;
      for (const host of report.hostIds.keys()) {
        if (created.has(host)) this.holdback.hostReady(host, readyAt);
        else if (!this.holdback.isReady(host)) this.holdback.hostReady(host);
      }
      if (!this.firstSyncDone) {
        this.firstSyncDone = true;
        // guests Zabbix already discovered (a CMA restart) take values at once
        const known = await this.sync.discoveredGuests([...report.hostIds.values()]);
        for (const [host, uuids] of known) for (const u of uuids) this.holdback.guestReady(host, u);
        this.pushAllStates();
        for (const host of this.sources.inventory.hosts()) this.pushInventory(host);
        for (const { host } of this.sources.alerts.active()) this.pushDiscoveryErrors(host);
      } else {
        // hosts made just now: their first state and guests
        for (const host of created) {
          const h = this.sources.membership.hosts().find((x) => zabbixHostName(x.name) === host);
          if (h) {
            this.pushState(h.name, Date.now());
            this.pushInventory(h.name);
          }
        }
        for (const host of this.sources.inventory.hosts()) if (!this.lastLld.has(this.lldHost(host, undefined))) this.pushInventory(host);
      }
      this.holdback.flush();
      this.counters.syncs++;
      this.lastSyncError = undefined;
      this.log.debug({ ms: Date.now() - t0, changes: report.changes.length, hosts: report.hostIds.size, templates: what.templates }, "Zabbix configuration synced");
    } catch (e) {
      this.counters.syncFailures++;
      this.lastSyncError = (e as Error).message;
      this.log.warn({ err: (e as Error).message, retryInMs: this.o.syncRetryMs }, "Zabbix configuration sync failed");
      if (!this.stopped) setTimeout(() => this.scheduleSync({ templates: true }, 0), this.o.syncRetryMs).unref();
    }
  }

  // ---------------------------------------------------------------- membership

  private onMembership(e: MembershipEvent): void {
    const hosts = MEMBERSHIP_HOSTS[e.type]?.(e);
    if (!hosts) return;
    for (const host of hosts) {
      if (!this.holdback.isReady(zabbixHostName(host))) this.scheduleSync({ templates: false });
      this.pushState(host, e.at, JSON.stringify(e));
    }
  }

  private pushState(host: string, atMs: number, eventJson?: string): void {
    const h = this.sources.membership.get(host);
    if (!h) return;
    const z = zabbixHostName(host);
    const { clock, ns } = clockOf(atMs);
    const values: ZabbixValue[] = [];
    if (eventJson !== undefined) values.push({ host: z, key: KEYS.hostEvent, value: eventJson, clock, ns });
    values.push({ host: z, key: KEYS.hostState, value: HOST_STATE_VALUE[h.state], clock, ns });
    this.counters.stateValues++;
    this.emit(z, undefined, values);
  }

  private pushAllStates(): void {
    const now = Date.now();
    for (const h of this.sources.membership.hosts()) this.pushState(h.name, now);
  }

  // ---------------------------------------------------------------- inventory → LLD

  private onInventory(e: InventoryEvent): void {
    // one full inventory is many events: push the host's discovery once, a moment later
    if (this.lldTimers.has(e.host)) return;
    const t = setTimeout(() => {
      this.lldTimers.delete(e.host);
      if (this.o.hostPerDomain && e.type === "domainAppeared") this.scheduleSync({ templates: false });
      this.pushInventory(e.host);
    }, 200);
    t.unref();
    this.lldTimers.set(e.host, t);
  }

  /** The Zabbix host a guest's items live on. */
  private lldHost(host: string, uuid: string | undefined): string {
    return this.o.hostPerDomain && uuid ? guestHostName(uuid) : zabbixHostName(host);
  }

  private pushInventory(host: string): void {
    if (this.stopped) return;
    const domains = this.sources.inventory.domains(host);
    const now = Date.now();
    const { clock, ns } = clockOf(now);
    const z = zabbixHostName(host);
    const running = domains.filter((d) => d.state === "running").length;
    this.emit(z, undefined, [
      { host: z, key: KEYS.domainsTotal, value: domains.length, clock, ns },
      { host: z, key: KEYS.domainsRunning, value: running, clock, ns },
    ]);
    const groups: [string, GuestDomain[]][] = this.o.hostPerDomain ? domains.map((d) => [guestHostName(d.uuid), [d]]) : [[z, domains]];
    for (const [target, ds] of groups) this.pushLld(target, ds, clock, ns);
  }

  private pushLld(target: string, domains: GuestDomain[], clock: number, ns: number): void {
    const { rows, skippedDevices } = lldRows(domains);
    this.counters.skippedDevices += skippedDevices;
    const before = this.lastLld.get(target) ?? new Map<string, string>();
    const now = new Map(domains.map((d) => [d.uuid.toLowerCase(), JSON.stringify([d.name, d.vcpus, d.disks, d.nics])]));
    const values: ZabbixValue[] = Object.entries(rows).map(([key, r]) => ({ host: target, key, value: JSON.stringify(r), clock, ns }));
    this.counters.lldValues += values.length;
    this.emit(target, undefined, values);
    // guests new or with new devices: their items exist after the LLD worker and the next cache update
    for (const [uuid, shape] of now) {
      if (before.get(uuid) !== shape && !(before.size === 0 && this.holdback.isReady(target, uuid))) this.holdback.guestDiscovered(target, uuid, this.o.configCacheDelayMs);
    }
    for (const uuid of before.keys()) if (!now.has(uuid)) this.holdback.forgetGuest(target, uuid);
    this.lastLld.set(target, now);
    const states = domains.map((d) => ({ host: target, key: guestStateKey(d.uuid.toLowerCase()), value: d.state, clock, ns }));
    for (const v of states) this.emit(target, v.key.slice(v.key.indexOf("[") + 1, -1), [v]);
  }

  // ---------------------------------------------------------------- stats

  private onStats(e: StatsEvent): void {
    const hv = zabbixHostName(e.host);
    const byTarget = new Map<string, { host: string; guest: string; values: ZabbixValue[] }>();
    for (const s of e.batch.series) {
      const item = seriesItem(s.domain, s.metric);
      if (!item) {
        this.counters.unmappedSeries++;
        continue;
      }
      const host = this.o.hostPerDomain ? guestHostName(s.domain) : hv;
      const values: ZabbixValue[] = placeInTime(s.data).map((p) => ({ host, key: item.key, value: item.value(p.value), ...clockOf(p.time) }));
      strictlyIncreasing(values);
      const t = `${host}\u0000${s.domain}`;
      const g = byTarget.get(t) ?? { host, guest: s.domain, values: [] };
      g.values.push(...values);
      byTarget.set(t, g);
      this.counters.statValues += values.length;
    }
    for (const g of byTarget.values()) this.emit(g.host, g.guest, g.values);
  }

  // ---------------------------------------------------------------- alerts

  private onAlert(e: AlertEvent): void {
    const a = e.alert;
    if (a.kind === "discoveryError") {
      this.pushDiscoveryErrors(e.host);
      return;
    }
    if (a.kind === "hostMemoryLeak") {
      const z = zabbixHostName(e.host);
      this.pushAlert(z, undefined, { flag: KEYS.hostMemoryLeak, evidence: KEYS.hostMemoryLeakEvidence }, e);
      return;
    }
    if (!(a.kind in GUEST_ALERTS)) {
      this.counters.badAlerts++;
      return;
    }
    const uuid = a.subject.toLowerCase();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)) {
      this.counters.badAlerts++;
      this.log.warn({ host: e.host, kind: a.kind, subject: a.subject.slice(0, 80) }, "alert about something that is not a guest UUID: not sent to Zabbix");
      return;
    }
    this.pushAlert(this.lldHost(e.host, uuid), uuid, alertItemKeys(a.kind as GuestAlertKind, uuid), e);
  }

  /** 1 raised / 0 cleared, with the evidence (as JSON text) at the same clock. */
  private pushAlert(host: string, guest: string | undefined, keys: { flag: string; evidence: string }, e: AlertEvent): void {
    const a = e.alert;
    const { clock, ns } = clockOf(alertClock(a.atMs, Date.now()));
    const raised = e.change === "raised";
    const evidence = raised ? JSON.stringify({ subject: a.subjectName, ...(JSON.parse(a.evidenceJson) as object) }) : JSON.stringify({ subject: a.subjectName, cleared: true });
    this.counters.alertValues += 2;
    this.emit(host, guest, [
      { host, key: keys.evidence, value: evidence, clock, ns },
      { host, key: keys.flag, value: raised ? 1 : 0, clock, ns },
    ]);
  }

  private pushDiscoveryErrors(host: string): void {
    const failing = this.sources.alerts.active(host).filter((x) => x.alert.kind === "discoveryError").map((x) => x.alert);
    const z = zabbixHostName(host);
    const { clock, ns } = clockOf(Date.now());
    const detail = failing.map((a) => ({ script: a.subjectName, at: new Date(alertClock(a.atMs, Date.now())).toISOString(), ...(JSON.parse(a.evidenceJson) as object) }));
    this.counters.alertValues += 2;
    this.emit(z, undefined, [
      { host: z, key: KEYS.discoveryErrorsDetail, value: JSON.stringify(detail), clock, ns },
      { host: z, key: KEYS.discoveryErrors, value: failing.length, clock, ns },
    ]);
  }

  // ---------------------------------------------------------------- out

  private emit(host: string, guest: string | undefined, values: ZabbixValue[]): void {
    if (this.stopped || values.length === 0) return;
    this.counters.values += values.length;
    this.holdback.push(host, guest, values);
  }
}

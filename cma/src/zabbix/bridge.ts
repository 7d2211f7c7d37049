/**
 * The bridge from what the CMA learns to Zabbix values, one translator per source (translators/):
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
import type { EventEmitter } from "node:events";
import type { Logger } from "@ringwatch/shared";
import type { LadderLevelEvent } from "../actions/ladder.js";
import type { AuditEntry } from "../audit/audit-entry.js";
import type { AlertEvent, AlertStore } from "../intake/alert-store.js";
import type { InventoryEvent, InventoryStore } from "../intake/inventory-store.js";
import type { Membership, MembershipEvent } from "../membership/membership.js";
import type { StatsEvent, StatsStore } from "../intake/stats-store.js";
import type { ConfigSync, DesiredHosts } from "./config/config-sync.js";
import { guestHostName, zabbixHostName } from "./config/definitions.js";
import { Holdback } from "./holdback.js";
import type { ZabbixValue, ZabbixValueSink } from "./sender/zabbix-value.js";
import { AlertsTranslator } from "./translators/alerts.js";
import { InventoryTranslator } from "./translators/inventory.js";
import { MembershipTranslator } from "./translators/membership.js";
import { StatsTranslator } from "./translators/stats.js";
import { CmaHealthTranslator } from "./translators/cma-health.js";
import { RecoveryTranslator } from "./translators/recovery.js";
import type { MonitoringErrorEvent, MonitoringErrors } from "../monitoring-errors/monitoring-errors.js";
import type { BridgeCounters, TranslatorContext } from "./translators/translator-context.js";

export { clockOf } from "./translators/clock.js";
export type { BridgeCounters } from "./translators/translator-context.js";

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
  /** the CMA's own Zabbix host (heartbeat, CMA-side monitoring errors) */
  cmaHost: string;
}

export interface BridgeSources {
  membership: Membership;
  inventory: InventoryStore;
  stats: StatsStore;
  alerts: AlertStore;
  /** CMA-side monitoring errors go to the CMA's own host (absent: only the heartbeat) */
  monitoringErrors?: MonitoringErrors;
  /** the escalation ladders' levels (absent: no policy) */
  ladderLevels?: EventEmitter<{ level: [LadderLevelEvent] }>;
  /** the audit log's durable entries: actions on guests */
  auditEntries?: EventEmitter<{ entry: [AuditEntry] }>;
}

/**
 * A removed host's Zabbix host is disabled this long after the removal, so that its last state value
 * (removed, 5: no trigger fires on it) reaches Zabbix first (the sender sends within senderBatchMs, 1 s).
 */
export const RETIRE_AFTER_MS = 5000;

/** Host and key of values Zabbix refused as unknown (from the sender). */
export interface UnknownPair {
  host: string;
  key: string;
}

export class ZabbixBridge {
  readonly counters: BridgeCounters = {
    values: 0, stateValues: 0, lldValues: 0, statValues: 0, alertValues: 0, recoveryValues: 0,
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
  private readonly membership: MembershipTranslator;
  private readonly inventory: InventoryTranslator;
  private readonly stats: StatsTranslator;
  private readonly alerts: AlertsTranslator;
  private readonly cmaHealth: CmaHealthTranslator;
  private readonly recovery: RecoveryTranslator;
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
    const ctx: TranslatorContext = {
      counters: this.counters,
      holdback: this.holdback,
      log,
      hostPerDomain: o.hostPerDomain,
      stopped: () => this.stopped,
      emit: (host, guest, values) => this.emit(host, guest, values),
      scheduleSync: (what) => this.scheduleSync(what),
    };
    this.membership = new MembershipTranslator(sources.membership, ctx);
    this.inventory = new InventoryTranslator(sources.inventory, ctx, o.configCacheDelayMs);
    this.stats = new StatsTranslator(ctx);
    this.alerts = new AlertsTranslator(sources.alerts, ctx);
    this.cmaHealth = new CmaHealthTranslator(ctx, zabbixHostName(o.cmaHost), sources.monitoringErrors);
    this.recovery = new RecoveryTranslator(ctx);
  }

  start(): void {
    const { membership, inventory, stats, alerts } = this.sources;
    const onMembership = (e: MembershipEvent): void => {
      this.membership.onEvent(e);
      if (e.type === "hostRemoved" && this.sync) setTimeout(() => this.scheduleSync({ templates: false }, 0), RETIRE_AFTER_MS + 100).unref();
    };
    const onInventory = (e: InventoryEvent): void => this.inventory.onEvent(e);
    const onStats = (e: StatsEvent): void => this.stats.onEvent(e);
    const onAlert = (e: AlertEvent): void => this.alerts.onEvent(e);
    membership.on("event", onMembership);
    inventory.on("event", onInventory);
    stats.on("event", onStats);
    alerts.on("event", onAlert);
    this.off.push(() => membership.off("event", onMembership), () => inventory.off("event", onInventory), () => stats.off("event", onStats), () => alerts.off("event", onAlert));
    const errors = this.sources.monitoringErrors;
    if (errors) {
      const onError = (e: MonitoringErrorEvent): void => this.cmaHealth.onEvent(e);
      errors.on("event", onError);
      this.off.push(() => errors.off("event", onError));
    }
    const { ladderLevels, auditEntries } = this.sources;
    if (ladderLevels) {
      const onLevel = (e: LadderLevelEvent): void => this.recovery.onLevel(e);
      ladderLevels.on("level", onLevel);
      this.off.push(() => ladderLevels.off("level", onLevel));
    }
    if (auditEntries) {
      const onEntry = (e: AuditEntry): void => this.recovery.onAudit(e);
      auditEntries.on("entry", onEntry);
      this.off.push(() => auditEntries.off("entry", onEntry));
    }
    // the states first, then the heartbeat: the hosts' backstop depends on the CMA's trigger
    this.refreshTimer = setInterval(() => this.refreshStates(), this.o.stateRefreshMs).unref();
    if (this.sync) {
      this.scheduleSync({ templates: true }, 0);
      this.recheckTimer = setInterval(() => this.scheduleSync({ templates: true }), this.o.templateRecheckMs).unref();
    } else {
      this.holdback.readyForAll();
      this.refreshStates();
      for (const host of this.sources.inventory.hosts()) this.inventory.pushInventory(host);
    }
    this.flushTimer = setInterval(() => this.holdback.flush(), Math.max(100, Math.min(1000, this.o.configCacheDelayMs / 4))).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const f of this.off.splice(0)) f();
    for (const t of [this.syncTimer, this.refreshTimer, this.recheckTimer, this.flushTimer]) if (t) clearTimeout(t);
    this.inventory.stop();
    await this.syncRunning?.catch(() => undefined);
    this.holdback.drain();
  }

  /** The sender's report of values Zabbix refused for an unknown host or key: sync, then rediscover. */
  handleUnknown(pairs: readonly UnknownPair[]): void {
    if (this.stopped || pairs.length === 0) return;
    this.counters.unknownReports++;
    this.log.info({ pairs: pairs.length, first: pairs.slice(0, 5) }, "Zabbix did not know some hosts/items: syncing the configuration again");
    const hosts = new Set(pairs.map((p) => p.host));
    for (const host of hosts) this.inventory.forget(host); // all its guests count as new again
    if (this.sync) this.scheduleSync({ templates: true }); // it pushes the discovery again afterwards
    else for (const h of this.sources.inventory.hosts()) if (hosts.has(zabbixHostName(h))) this.inventory.pushInventory(h);
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
    const retired = new Map<string, boolean>();
    const now = Date.now();
    for (const t of this.sources.membership.removedHosts()) {
      const z = zabbixHostName(t.name);
      if (!hypervisors.has(z) && t.removedAt <= now - RETIRE_AFTER_MS) retired.set(z, t.purge);
    }
    const guests = new Map<string, string>();
    if (this.o.hostPerDomain) {
      for (const host of this.sources.inventory.hosts()) {
        for (const d of this.sources.inventory.domains(host)) guests.set(guestHostName(d.uuid), `${d.name} (${d.uuid.toLowerCase()})`);
      }
    }
    return { hypervisors, guests, retired };
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
        this.refreshStates();
        for (const host of this.sources.inventory.hosts()) this.inventory.pushInventory(host);
        for (const { host } of this.sources.alerts.active()) this.alerts.pushDiscoveryErrors(host);
      } else {
        // hosts made just now: their first state and guests
        for (const host of created) {
          const h = this.sources.membership.hosts().find((x) => zabbixHostName(x.name) === host);
          if (h) {
            this.membership.pushState(h.name, Date.now());
            this.inventory.pushInventory(h.name);
          }
        }
        for (const host of this.sources.inventory.hosts()) if (!this.inventory.pushed(host)) this.inventory.pushInventory(host);
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

  /** Every host's state, then the CMA's heartbeat (in that order: see CmaHealthTranslator). */
  private refreshStates(): void {
    this.membership.pushAllStates();
    this.cmaHealth.pushHeartbeat();
  }

  // ---------------------------------------------------------------- out

  private emit(host: string, guest: string | undefined, values: ZabbixValue[]): void {
    if (this.stopped || values.length === 0) return;
    this.counters.values += values.length;
    this.holdback.push(host, guest, values);
  }
}

/**
 * What this host tells the CMA besides announcing itself and answering commands, and how each kind
 * waits while no CMA can take it:
 * - reports (late, dead, alive again, unexpected heartbeats) per subject, and alerts per (kind,
 *   subject): keyed outboxes, the newest observation per key (keyed-outbox.ts);
 * - discovery documents per script: the same (discovery-sender.ts);
 * - guest inventory: changes, and the full set after any gap (inventory-sender.ts);
 * - stats: an ordered, numbered stream with resends (stats-sender.ts).
 * All of it goes when a CMA (re)registers us.
 *
 * Observations are handed over as they are made (watch verdicts, analytics, one script's runs one
 * after another), so the time of handing over, on a clock that only moves forward, orders them as
 * made; a wall clock stepped back cannot make a newer one look older.
 */
import { performance } from "node:perf_hooks";
import type { Alert, Logger, Report, SeriesSummary, StatsBatch } from "@ringwatch/shared";
import type { DiscoveryRunner } from "../discovery/runner.js";
import type { HypervisorMonitor } from "../hypervisor/hypervisor-monitor.js";
import type { CmaRegistration } from "./cma-registration.js";
import { DiscoverySender } from "./discovery-sender.js";
import { InventorySender } from "./inventory-sender.js";
import { KeyedOutbox } from "./keyed-outbox.js";
import type { KeyedOutboxCounters } from "./keyed-outbox.js";
import { StatsSender } from "./stats-sender.js";
import type { StatsSenderCounters } from "./stats-sender.js";

export interface CmaOutboxCounters extends StatsSenderCounters {
  reportsSent: number;
  reportsUnacknowledged: number;
  inventoriesSent: number;
  alertsSent: number;
}

/** Reports about one subject still to deliver: only the latest matters. */
const MAX_PENDING_REPORTS = 64;
/**
 * Alerts still to deliver (and standing, to tell a new CMA), per (kind, subject): every guest of a
 * hypervisor can be unhealthy at once (a storage outage pauses them all) — a few kinds for each of
 * hundreds of guests; ~1 KB each at most.
 */
const MAX_PENDING_ALERTS = 2048;
/** findings raised once and never cleared (a burst, the nanoprobe's own stall): nothing stands to tell again */
const ONE_SHOT_KINDS: ReadonlySet<string> = new Set(["microBurst", "localStall"]);

const now = (): number => performance.now();

export class CmaOutbox {
  readonly reports: KeyedOutbox<Report>;
  readonly alerts: KeyedOutbox<Alert>;
  /** the alerts raised and not cleared (one-shot findings aside): told again to a CMA that registers us */
  private readonly activeAlerts = new Map<string, Alert>();
  readonly stats: StatsSender;
  private hypervisor: { monitor: HypervisorMonitor; inventory: InventorySender } | undefined;
  private discovery: { runner: DiscoveryRunner; sender: DiscoverySender } | undefined;

  constructor(
    private readonly cma: CmaRegistration,
    private readonly counters: CmaOutboxCounters,
    private readonly log: Logger,
    stats: { exact: boolean; retain: number },
  ) {
    this.reports = new KeyedOutbox<Report>({
      maxKeys: MAX_PENDING_REPORTS,
      ready: () => cma.ready,
      send: (r) => cma.send({ report: r }),
      onSend: () => this.counters.reportsSent++,
      onFailure: (e, r) => {
        if (cma.stopped) return;
        this.counters.reportsUnacknowledged++;
        // the CMA is gone: the report waits (unless a newer one replaced it) while we find a CMA again
        this.log.warn({ err: e.message, subject: r.subject }, "CMA did not acknowledge a report: announcing again");
        cma.lost();
      },
    });
    this.alerts = new KeyedOutbox<Alert>({
      maxKeys: MAX_PENDING_ALERTS,
      ready: () => cma.ready,
      send: (a) => cma.send({ alert: a }),
      onSend: () => this.counters.alertsSent++,
    });
    this.stats = new StatsSender(cma, counters, log, stats);
  }

  /** A change in the ring to tell the CMA. */
  report(r: Report): void {
    this.reports.add(r.subject, r, now());
  }

  /** Alerts to the CMA; while it cannot be reached the latest state per (kind, subject) waits (bounded). */
  alert(a: Alert): void {
    const key = `${a.kind}|${a.subject}`;
    if (a.active && !ONE_SHOT_KINDS.has(a.kind)) {
      this.activeAlerts.delete(key); // re-inserted last: the oldest is dropped first past the bound
      this.activeAlerts.set(key, a);
      if (this.activeAlerts.size > MAX_PENDING_ALERTS) this.activeAlerts.delete(this.activeAlerts.keys().next().value!);
    } else this.activeAlerts.delete(key);
    this.alerts.add(key, a, now());
  }

  /** Send what this hypervisor's monitor finds: stats, inventory, alerts. */
  watchHypervisor(monitor: HypervisorMonitor): void {
    const inventory = new InventorySender(this.cma, this.counters, () => monitor.full());
    this.hypervisor = { monitor, inventory };
    monitor.on("stats", (s) => this.stats.add(s.batch));
    monitor.on("inventory", (inv) => inventory.send(inv));
    monitor.on("alert", (a) => this.alert(a));
  }

  /** Send the discovery scripts' documents, and their failures as alerts. */
  watchDiscovery(runner: DiscoveryRunner): void {
    const sender = new DiscoverySender(this.cma, this.log, (a) => this.alert(a), now);
    this.discovery = { runner, sender };
    runner.on("document", (e) => sender.document(e));
    runner.on("error", (e) => sender.error(e));
  }

  /** A CMA registered us; it may be a new one, which needs everything once. */
  welcome(): void {
    this.hypervisor?.inventory.sendFull(); // a (re)started CMA needs all of it
    // so do the alerts that stand: a restarted CMA knows none (a guest's ladder waits for its alert)
    for (const [key, a] of this.activeAlerts) this.alerts.add(key, a, now());
    this.discovery?.runner.resend(); // documents go only when changed: a new CMA must get them once
    this.stats.restart(); // it may be a new CMA: the next stats batch goes self-contained
  }

  /**
   * Leaving: the samples since the last report go as a final, partial batch, sent now so that it
   * reaches the CMA ahead of the goodbye. Resolves true once the CMA acknowledged it.
   */
  lastStats(): Promise<boolean> {
    const monitor = this.hypervisor?.monitor;
    if (!monitor || !this.cma.ready) return Promise.resolve(false);
    let last: StatsBatch<SeriesSummary> | undefined;
    const made = (s: { batch: StatsBatch<SeriesSummary> }): void => { last = s.batch; };
    monitor.on("stats", made); // emitted at once, after the outbox's own listener queued the batch
    monitor.report();
    monitor.off("stats", made);
    if (last) {
      const samples = last.series.reduce((n, s) => n + s.data.count, 0);
      this.log.info({ intervalStart: last.intervalStart, intervalMs: last.intervalMs, series: last.series.length, samples }, "last stats batch before the goodbye");
    }
    return this.stats.flushNow();
  }

  /** Send everything waiting (the CMA (re)registered us). */
  flush(): void {
    this.reports.flush();
    this.alerts.flush();
    this.discovery?.sender.outbox.flush();
    this.stats.scheduleFlush();
  }

  status(): Record<string, KeyedOutboxCounters> {
    const out: Record<string, KeyedOutboxCounters> = { reports: this.reports.counters, alerts: this.alerts.counters };
    if (this.discovery) out.discovery = this.discovery.sender.outbox.counters;
    return out;
  }
}

/**
 * The nanoprobe's view of its own hypervisor: a libvirt connection, the domain tracker, the sampler,
 * the host's own memory and the local analytics. Emits inventory messages for the CMA (the full set
 * on demand and every `inventoryResendMs`, changes at once), one stats batch per report interval,
 * and alerts. No guest is ever touched: everything comes from libvirt (and /proc/meminfo for the host).
 *
 * libvirt may be away (libvirtd not started yet, restarting for an upgrade, crashed): that is never
 * fatal. The monitor reconnects with bounded backoff (on a failed call and on libvirt's close
 * callback), raises one `libvirtUnreachable` alert while it cannot connect and clears it once libvirt
 * answers. Meanwhile no inventory is "full" (so no guest is reported gone) and there are no samples
 * (absent, not zeros). On reconnecting: lifecycle events registered again, counters re-based, the
 * full inventory sent again.
 */
import { EventEmitter } from "node:events";
import type { Alert, DomainInventory, GuestDomain, Logger, SeriesSummary, StatsBatch } from "@ringwatch/shared";
import { buildStatsBatch } from "./stats-report.js";
import { Analytics } from "../analytics/analytics.js";
import { DEFAULT_THRESHOLDS } from "../analytics/thresholds.js";
import type { AnalyticsThresholds } from "../analytics/thresholds.js";
import { LibvirtConnection } from "@ringwatch/libvirt";
import { DomainTracker } from "./domain-tracker.js";
import type { DomainChange, TrackedDomain } from "./domain-tracker.js";
import { Sampler } from "./sampler.js";
import { readHostMemory } from "./host-memory.js";
import { IN_STEP, SpreadSchedule } from "../spread-schedule.js";
import { GuestHealth } from "../health/guest-health.js";
import type { GuestCheckSpec } from "../health/guest-checks-file.js";
import type { SpreadOptions } from "../spread-schedule.js";

export interface HypervisorOptions {
  uri: string;
  sampleMs: number;
  /** one compact stats batch per this interval (default 60 s) */
  reportIntervalMs?: number;
  inventoryResendMs: number;
  /** reconnect attempts back off from `reconnectMinMs`, doubling, up to this */
  reconnectMs: number;
  /** the first retry after a failure (default 500 ms, at most reconnectMs) */
  reconnectMinMs?: number;
  /** an attempt to connect not answered within this counts as libvirt unreachable (default 15 s) */
  answerTimeoutMs?: number;
  /** where the host's memory is read (tests point it at a file they write) */
  meminfoPath?: string;
  /** where in its interval the stats report runs (spread-schedule.ts); default: in step from start */
  reportSpread?: SpreadOptions;
  /** service checks of guests (guestChecksFile), run while each guest runs */
  guestChecks?: readonly GuestCheckSpec[];
}

export interface HypervisorEvents {
  inventory: [DomainInventory];
  alert: [Alert];
  /** one report interval's compacted series; `skipped`: series left out (a value out of the codec's range) */
  stats: [{ batch: StatsBatch<SeriesSummary>; skipped: number }];
  /** libvirt answered (again) on a new connection */
  connected: [];
  /** the connection failed or could not be made; the monitor retries by itself after `retryInMs` */
  disconnected: [{ error: Error; retryInMs: number }];
}

/** Detectors run this often; their windows are minutes long, so 10 s loses nothing. */
const EVALUATE_MS = 10_000;
/** First retry after libvirt failed: a dropped connection to a running libvirtd comes back at once. */
const DEFAULT_RECONNECT_MIN_MS = 500;
/**
 * A hung libvirtd accepts the connection and never answers: an attempt unanswered this long is an
 * outage (alerted); the attempt itself is left to finish, since another open would block another
 * pool thread. libvirtd answers a start within a few seconds.
 */
const DEFAULT_ANSWER_TIMEOUT_MS = 15_000;
/** The alert's subject: there is one libvirt per nanoprobe. */
export const LIBVIRT_SUBJECT = "libvirt";

export interface HypervisorCounters {
  hostMemoryReadErrors: number;
  /** connections opened and answered (the first and every reconnection) */
  libvirtConnects: number;
  /** attempts to connect that failed (libvirtd away) */
  libvirtConnectFailures: number;
  /** working connections that broke (a call failed, or libvirt closed it) */
  libvirtConnectionsLost: number;
}

/** An outage of libvirt, from the first failure to the next connection that answers. */
interface Outage {
  since: number;
  failedAttempts: number;
  lastError: string;
  alerted: boolean;
}

function guest(d: TrackedDomain): GuestDomain {
  return { uuid: d.uuid, name: d.name, state: d.state, vcpus: d.vcpus, memoryKib: d.memoryKiB, disks: d.disks, nics: d.nics, tags: d.tags };
}

export class HypervisorMonitor extends EventEmitter<HypervisorEvents> {
  /** the current connection (undefined while libvirt is away) */
  conn: LibvirtConnection | undefined;
  /** the domains of the current (or last) connection */
  tracker: DomainTracker | undefined;
  readonly sampler: Sampler;
  private evaluateTimer: NodeJS.Timeout | undefined;
  /** when the stats reports run: spread so that hosts booting together do not report in step */
  readonly reportSchedule: SpreadSchedule;
  /** when the full inventory is sent again: spread the same way (a connection sends one at once, so no early run) */
  readonly resendSchedule: SpreadSchedule;
  private intervalStart = Date.now();
  readonly analytics: Analytics;
  /** guests unhealthy from the hypervisor's side: lifecycle faults and failing service checks */
  readonly health: GuestHealth;
  readonly counters: HypervisorCounters = { hostMemoryReadErrors: 0, libvirtConnects: 0, libvirtConnectFailures: 0, libvirtConnectionsLost: 0 };
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** failures since libvirt last answered: the backoff's exponent */
  private failuresInRow = 0;
  private outage: Outage | undefined;
  /** libvirt answered on the current connection: only then is an inventory full */
  private answered = false;
  private started = false;
  private stopped = false;

  constructor(
    private readonly opts: HypervisorOptions,
    private readonly log: Logger,
    thresholds: AnalyticsThresholds = DEFAULT_THRESHOLDS,
  ) {
    super();
    this.reportSchedule = new SpreadSchedule(opts.reportIntervalMs ?? 60_000, opts.reportSpread ?? IN_STEP);
    this.resendSchedule = new SpreadSchedule(opts.inventoryResendMs, { ...(opts.reportSpread ?? IN_STEP), startWindowMs: opts.inventoryResendMs });
    this.analytics = new Analytics(thresholds);
    this.health = new GuestHealth(opts.guestChecks ?? [], log, () => (this.answered ? this.conn : undefined));
    this.health.on("alert", (a) => this.emit("alert", a));
    this.analytics.on("alert", (a) => {
      this.log.info({ kind: a.kind, domain: a.subjectName, active: a.active, evidence: a.evidenceJson }, "local analytics alert");
      this.emit("alert", a);
    });
    this.sampler = new Sampler(undefined, opts.sampleMs, (records) => {
      this.analytics.endPass(Date.now());
      this.tracker?.observe(records.map((r) => r.uuid));
    }, (e, conn) => this.lost(conn, e));
    this.sampler.onSample = (uuid, key, at, value, seriesKey) => this.analytics.sample(uuid, key, at, value, seriesKey);
  }

  /** libvirt answers on the current connection. */
  get connected(): boolean {
    return this.answered;
  }

  /**
   * Start the timers and make the first connection attempt. Resolves once that attempt is over,
   * whatever its outcome: an unreachable libvirt is retried in the background, never thrown.
   */
  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    this.sampler.start();
    this.evaluateTimer = setInterval(() => void this.evaluate(), EVALUATE_MS);
    this.intervalStart = Date.now();
    this.reportSchedule.start(() => this.report());
    this.resendSchedule.start(() => {
      const inv = this.full();
      if (inv) this.emit("inventory", inv);
    });
    await this.connect();
  }

  /** One attempt to connect; unanswered past the answer timeout, libvirt counts as unreachable. */
  private async connect(): Promise<void> {
    const ms = this.opts.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    const deadline = setTimeout(() => {
      if (!this.stopped) this.raise(this.beginOutage(new Error(`libvirt did not answer within ${ms} ms`)));
    }, ms);
    try {
      await this.attempt();
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Open a connection, list the domains, register for events, sample it: libvirt answered. */
  private async attempt(): Promise<void> {
    let conn: LibvirtConnection | undefined;
    try {
      conn = await LibvirtConnection.open(this.opts.uri);
    } catch (e) {
      this.failedToConnect(e as Error);
      return;
    }
    if (this.stopped) {
      await conn.close().catch(() => undefined);
      return;
    }
    this.conn = conn;
    const opened = conn;
    // libvirt's close callback (EOF, keepalive timeout): reconnect without waiting for a call to fail
    conn.events.on("closed", (reason) => this.lost(opened, new Error(`libvirt closed the connection (${reason})`)));
    const tracker = new DomainTracker(conn, this.log);
    conn.events.on("lifecycle", (e) => {
      if (this.conn === opened) this.health.lifecycle(e);
    });
    tracker.on("changes", (c) => {
      if (this.conn !== opened) return;
      this.health.setGuests(tracker.snapshot());
      for (const ch of c) {
        if (ch.kind === "disappeared") this.analytics.forget(ch.uuid);
        else this.analytics.setName(ch.domain.uuid, ch.domain.name);
      }
      this.emit("inventory", this.delta(c));
    });
    // while connecting a failure is the attempt's own (below); once in use, it means the connection broke
    tracker.on("error", (e) => {
      if (this.tracker === tracker) this.lost(opened, e);
    });
    try {
      await tracker.refresh();
      await tracker.watch(); // a new connection: lifecycle events registered on it again
    } catch (e) {
      if (this.conn === opened) this.failedToConnect(e as Error);
      return;
    }
    if (this.conn !== opened) return; // failed meanwhile (close callback): already retrying
    conn.unref(); // the event subscription must not keep a stopping process alive
    this.tracker = tracker;
    for (const d of tracker.snapshot()) this.analytics.setName(d.uuid, d.name);
    this.health.setGuests(tracker.snapshot());
    this.sampler.attach(conn); // counters re-based: the first pass is a baseline
    this.answered = true;
    this.failuresInRow = 0;
    this.counters.libvirtConnects++;
    const outage = this.outage;
    this.outage = undefined;
    this.log.info({ uri: this.opts.uri, domains: tracker.size, ...(outage ? { awayMs: Date.now() - outage.since, failedAttempts: outage.failedAttempts } : {}) }, "hypervisor connected");
    if (outage?.alerted) this.emit("alert", this.alert(false, { uri: this.opts.uri, awayMs: Date.now() - outage.since, failedAttempts: outage.failedAttempts }));
    this.emit("connected");
    this.emit("inventory", this.full()!);
  }

  /** A connection attempt failed: libvirt is unreachable (raise the alert once), retry later. */
  private failedToConnect(e: Error): void {
    this.counters.libvirtConnectFailures++;
    const o = this.beginOutage(e);
    o.failedAttempts++;
    this.raise(o);
    this.retry(e);
  }

  /** The alert, once per outage. */
  private raise(o: Outage): void {
    if (o.alerted || this.stopped) return;
    o.alerted = true;
    this.log.warn({ uri: this.opts.uri, err: o.lastError }, "libvirt unreachable");
    this.emit("alert", this.alert(true, { uri: this.opts.uri, error: o.lastError.slice(0, 2000), since: new Date(o.since).toISOString() }));
  }

  /** A working connection failed (a call failed, or libvirt closed it): drop it and reconnect. */
  private lost(conn: LibvirtConnection | undefined, e: Error): void {
    if (this.stopped || conn === undefined || conn !== this.conn) return; // an old connection's late news
    this.counters.libvirtConnectionsLost++;
    this.log.warn({ uri: this.opts.uri, err: e.message }, "hypervisor connection lost");
    this.beginOutage(e);
    this.retry(e);
  }

  private beginOutage(e: Error): Outage {
    this.outage ??= { since: Date.now(), failedAttempts: 0, lastError: e.message, alerted: false };
    this.outage.lastError = e.message;
    return this.outage;
  }

  /** Close what is left of the connection and try again after a bounded, doubling delay. */
  private retry(e: Error): void {
    this.detach();
    if (this.stopped || this.reconnectTimer) return;
    const min = Math.min(this.opts.reconnectMinMs ?? DEFAULT_RECONNECT_MIN_MS, this.opts.reconnectMs);
    const delay = Math.min(this.opts.reconnectMs, min * 2 ** Math.min(this.failuresInRow, 30));
    this.failuresInRow++;
    this.log.debug({ uri: this.opts.uri, err: e.message, retryInMs: delay }, "libvirt: reconnecting later");
    this.emit("disconnected", { error: e, retryInMs: delay });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) void this.connect();
    }, delay);
  }

  /** Forget the current connection: no samples, no full inventory until the next one answers. */
  private detach(): void {
    this.answered = false;
    this.sampler.attach(undefined);
    const conn = this.conn;
    this.conn = undefined;
    void conn?.close().catch(() => undefined);
  }

  private alert(active: boolean, evidence: Record<string, unknown>): Alert {
    return { kind: "libvirtUnreachable", subject: LIBVIRT_SUBJECT, subjectName: this.opts.uri, active, evidenceJson: JSON.stringify(evidence), atMs: Date.now() };
  }

  /** End of a report interval: compact what was sampled into one batch. */
  report(now = Date.now()): void {
    const { batch, skipped } = buildStatsBatch(this.sampler.takeSeries(), this.intervalStart, now - this.intervalStart);
    this.intervalStart = now;
    if (batch.series.length === 0) return;
    this.emit("stats", { batch, skipped });
  }

  /** Read the host's memory, then run the detectors (every EVALUATE_MS; exported for tests). */
  async evaluate(now = Date.now()): Promise<void> {
    try {
      this.analytics.hostSample(now, await readHostMemory(this.opts.meminfoPath));
    } catch (e) {
      // no host reading this time: the detectors judge what they have; logged once, counted always
      if (this.counters.hostMemoryReadErrors++ === 0) this.log.warn({ err: (e as Error).message, path: this.opts.meminfoPath ?? "/proc/meminfo" }, "cannot read the host's memory");
    }
    this.analytics.evaluate(now);
  }

  /**
   * The complete inventory now; undefined while libvirt does not answer (a "full" inventory says
   * every guest not listed is gone: only libvirt itself can say that).
   */
  full(): DomainInventory | undefined {
    if (!this.answered || !this.tracker) return undefined;
    return { full: true, domains: this.tracker.snapshot().map(guest), removed: [], atMs: Date.now() };
  }

  private delta(changes: DomainChange[]): DomainInventory {
    const domains: GuestDomain[] = [];
    const removed: string[] = [];
    for (const c of changes) {
      if (c.kind === "disappeared") removed.push(c.uuid);
      else domains.push(guest(c.domain));
    }
    return { full: false, domains, removed, atMs: Date.now() };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.health.stop();
    this.sampler.stop();
    this.resendSchedule.stop();
    if (this.evaluateTimer) clearInterval(this.evaluateTimer);
    this.reportSchedule.stop();
    this.answered = false;
    this.sampler.attach(undefined);
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close().catch(() => undefined);
  }
}

/**
 * The nanoprobe's view of its own hypervisor: a libvirt connection (reopened when it fails), the
 * domain tracker, the sampler, the host's own memory and the local analytics. Emits inventory
 * messages for the CMA (the full set on demand and every `inventoryResendMs`, changes at once), one
 * stats batch per report interval, and alerts. No guest is ever touched: everything comes from
 * libvirt (and /proc/meminfo for the host).
 */
import { EventEmitter } from "node:events";
import type { Alert, DomainInventory, GuestDomain, Logger, StatsBatch } from "@ringwatch/shared";
import { buildStatsBatch } from "./stats-report.js";
import { Analytics } from "../analytics/analytics.js";
import { DEFAULT_THRESHOLDS } from "../analytics/thresholds.js";
import type { AnalyticsThresholds } from "../analytics/thresholds.js";
import { LibvirtConnection } from "@ringwatch/libvirt";
import { DomainTracker } from "./domain-tracker.js";
import type { DomainChange, TrackedDomain } from "./domain-tracker.js";
import { Sampler } from "./sampler.js";
import { readHostMemory } from "./host-memory.js";

export interface HypervisorOptions {
  uri: string;
  sampleMs: number;
  /** one compact stats batch per this interval (default 60 s) */
  reportIntervalMs?: number;
  inventoryResendMs: number;
  /** wait this long before reopening a failed connection */
  reconnectMs: number;
  /** where the host's memory is read (tests point it at a file they write) */
  meminfoPath?: string;
}

export interface HypervisorEvents {
  inventory: [DomainInventory];
  alert: [Alert];
  /** one report interval's compacted series; `skipped`: series left out (a value out of the codec's range) */
  stats: [{ batch: StatsBatch; skipped: number }];
  error: [Error];
}

/** Detectors run this often; their windows are minutes long, so 10 s loses nothing. */
const EVALUATE_MS = 10_000;

function guest(d: TrackedDomain): GuestDomain {
  return { uuid: d.uuid, name: d.name, state: d.state, vcpus: d.vcpus, memoryKib: d.memoryKiB, disks: d.disks, nics: d.nics };
}

export class HypervisorMonitor extends EventEmitter<HypervisorEvents> {
  conn: LibvirtConnection | undefined;
  tracker: DomainTracker | undefined;
  sampler: Sampler | undefined;
  private resendTimer: NodeJS.Timeout | undefined;
  private evaluateTimer: NodeJS.Timeout | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private intervalStart = Date.now();
  readonly analytics: Analytics;
  readonly counters = { hostMemoryReadErrors: 0 };
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly opts: HypervisorOptions,
    private readonly log: Logger,
    thresholds: AnalyticsThresholds = DEFAULT_THRESHOLDS,
  ) {
    super();
    this.analytics = new Analytics(thresholds);
    this.analytics.on("alert", (a) => {
      this.log.info({ kind: a.kind, domain: a.subjectName, active: a.active, evidence: a.evidenceJson }, "local analytics alert");
      this.emit("alert", a);
    });
  }

  async start(): Promise<void> {
    try {
      const conn = await LibvirtConnection.open(this.opts.uri);
      this.conn = conn;
      const tracker = new DomainTracker(conn, this.log);
      this.tracker = tracker;
      tracker.on("changes", (c) => {
        for (const ch of c) {
          if (ch.kind === "disappeared") this.analytics.forget(ch.uuid);
          else this.analytics.setName(ch.domain.uuid, ch.domain.name);
        }
        this.emit("inventory", this.delta(c));
      });
      tracker.on("error", (e) => this.failed(e));
      await tracker.refresh();
      await tracker.watch();
      conn.unref(); // the event subscription must not keep a stopping process alive
      for (const d of tracker.snapshot()) this.analytics.setName(d.uuid, d.name);
      this.sampler = new Sampler(conn, this.opts.sampleMs, (records) => {
        this.analytics.endPass(Date.now());
        tracker.observe(records.map((r) => r.uuid));
      }, (e) => this.failed(e));
      this.sampler.onSample = (uuid, key, at, value) => this.analytics.sample(uuid, key, at, value);
      this.sampler.start();
      this.evaluateTimer = setInterval(() => void this.evaluate(), EVALUATE_MS);
      this.intervalStart = Date.now();
      this.reportTimer = setInterval(() => this.report(), this.opts.reportIntervalMs ?? 60_000);
      this.resendTimer = setInterval(() => this.emit("inventory", this.full()), this.opts.inventoryResendMs);
      this.log.info({ uri: this.opts.uri, domains: tracker.size }, "hypervisor connected");
      this.emit("inventory", this.full());
    } catch (e) {
      this.failed(e as Error);
    }
  }

  /** End of a report interval: compact what was sampled into one batch. */
  report(now = Date.now()): void {
    if (!this.sampler) return;
    const { batch, skipped } = buildStatsBatch(this.sampler.take(), this.intervalStart, now - this.intervalStart);
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

  /** The complete inventory now (empty until the first listing). */
  full(): DomainInventory {
    return { full: true, domains: (this.tracker?.snapshot() ?? []).map(guest), removed: [], atMs: Date.now() };
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

  /** libvirt went away (libvirtd restarted, connection dropped): report, close, try again later. */
  private failed(e: Error): void {
    this.emit("error", e);
    this.log.warn({ uri: this.opts.uri, err: e.message, retryInMs: this.opts.reconnectMs }, "hypervisor connection failed");
    if (this.stopped || this.reconnectTimer) return;
    void this.teardown();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) void this.start();
    }, this.opts.reconnectMs);
  }

  private async teardown(): Promise<void> {
    this.sampler?.stop();
    if (this.resendTimer) clearInterval(this.resendTimer);
    if (this.evaluateTimer) clearInterval(this.evaluateTimer);
    if (this.reportTimer) clearInterval(this.reportTimer);
    const conn = this.conn;
    this.conn = undefined;
    this.sampler = undefined;
    await conn?.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.teardown();
  }
}

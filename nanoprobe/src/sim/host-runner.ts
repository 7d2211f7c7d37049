/**
 * The simulated hosts of one simulator worker process: real nanoprobes, each with its own UDP socket
 * on 127.0.S.H, and what the simulator does to them (kill, leave, pause, slow, partition, restart).
 * What each host knows (registered, neighbours, counters) is read back as a compact view.
 */
import { join } from "node:path";
import { DROP_COUNTERS, Keyring, generateHostKeys, loadCommandPublicKeys, seededRandom, silentLogger } from "@ringwatch/shared";
import type { CompactedSeries, EndpointCounters, EndpointImpairment, HostKeys, StatsBatch } from "@ringwatch/shared";
import type { KeyObject } from "node:crypto";
import { Nanoprobe } from "../agent.js";
import { nanoprobeConfig } from "../config.js";
import type { HostFate, HostView, InjectedReport, RunnerOptions, WorkerHost } from "./protocol.js";

interface RunningHost extends WorkerHost {
  fate: HostFate;
  delayMs: number;
  np?: Nanoprobe;
  /** its identity, made at its first start and kept across its restarts (as a real host's key file) */
  keys?: HostKeys;
  /** when its next stats batch is due (opts.stats) */
  statsDueAt?: number;
}

function nonZeroDrops(c: EndpointCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of DROP_COUNTERS) if (c[k] > 0) out[k] = c[k];
  return out;
}

export class HostRunner {
  private readonly hosts = new Map<string, RunningHost>();
  private readonly rand: () => number;
  private readonly keyring: Keyring;
  private readonly cmaPublicKey: KeyObject[];

  constructor(private readonly opts: RunnerOptions) {
    this.rand = seededRandom(opts.seed);
    this.keyring = Keyring.fromFile("sim", join(opts.keysDir, "cluster.key"));
    this.cmaPublicKey = loadCommandPublicKeys(join(opts.keysDir, "cma-command.pub")); // once, not per host
  }

  private statsTimer: NodeJS.Timeout | undefined;

  async start(hosts: WorkerHost[]): Promise<void> {
    for (const h of hosts) this.hosts.set(h.name, { ...h, fate: "running", delayMs: 0 });
    const stats = this.opts.stats;
    if (stats) {
      // each host's batches spread over the interval, as real hosts' report intervals are
      for (const h of this.hosts.values()) h.statsDueAt = Date.now() + this.rand() * stats.everyMs;
      this.statsTimer = setInterval(() => this.reportStats(stats), 100);
    }
    const list = [...this.hosts.values()];
    for (let i = 0; i < list.length; i += this.opts.startBatch) await Promise.all(list.slice(i, i + this.opts.startBatch).map((h) => this.startHost(h)));
  }

  private impairmentFor(h: RunningHost): EndpointImpairment | undefined {
    const loss = this.opts.loss;
    if (h.fate === "partitioned") return { outgoing: () => true, incoming: () => true };
    if (h.fate === "slowed") return { outgoing: () => (loss > 0 && this.rand() < loss ? true : h.delayMs) };
    if (loss > 0) return { outgoing: () => this.rand() < loss };
    return undefined;
  }

  private async startHost(h: RunningHost): Promise<void> {
    const o = this.opts;
    const cfg = nanoprobeConfig({
      identity: h.name, cluster: "sim", cma: o.cma, bindAddress: h.address, port: o.port,
      joinIntervalMs: 1000, joinBackoffMaxMs: o.joinBackoffMaxMs, discoveryDir: "", heartbeatMs: o.heartbeatMs, warntimeMs: o.warntimeMs, deadtimeMs: o.deadtimeMs, statusIntervalMs: 0, goodbyeTimeoutMs: 2000,
    });
    h.np = await Nanoprobe.start(cfg, {
      keyring: this.keyring, cmaPublicKey: this.cmaPublicKey, log: silentLogger(), hostKeys: (h.keys ??= generateHostKeys()),
      channel: { socketBufferBytes: 256 * 1024 }, impairment: this.impairmentFor(h), heartbeats: o.heartbeats,
    });
  }

  private each(names: string[]): RunningHost[] {
    return names.map((n) => this.hosts.get(n)).filter((h): h is RunningHost => h !== undefined);
  }

  async kill(names: string[]): Promise<void> {
    await Promise.all(this.each(names).map(async (h) => {
      h.fate = "killed";
      const np = h.np;
      h.np = undefined;
      await np?.kill();
    }));
  }

  async leave(names: string[]): Promise<void> {
    await Promise.all(this.each(names).map(async (h) => {
      h.fate = "left";
      const np = h.np;
      h.np = undefined;
      await np?.stop(true);
    }));
  }

  async restart(names: string[]): Promise<void> {
    for (const h of this.each(names)) {
      await h.np?.kill();
      h.fate = "running";
      await this.startHost(h);
    }
  }

  pause(names: string[]): void {
    for (const h of this.each(names)) {
      h.fate = "paused";
      h.np?.pause();
    }
  }

  resume(names: string[]): void {
    for (const h of this.each(names)) {
      h.fate = "running";
      h.np?.resume(this.impairmentFor(h));
    }
  }

  slow(names: string[], delayMs: number): void {
    for (const h of this.each(names)) {
      h.fate = "slowed";
      h.delayMs = delayMs;
      if (h.np) h.np.endpoint.impairment = this.impairmentFor(h);
    }
  }

  /** Each reporter tells the CMA its neighbour is dead, as it would after deadtime without heartbeats (a reporter not running says nothing). */
  report(reports: InjectedReport[]): void {
    for (const r of reports) {
      const h = this.hosts.get(r.reporter);
      if (!h?.np || h.fate !== "running") continue;
      h.np.outbox.report({ kind: "DEAD", subject: r.subject, subjectAddress: r.subjectAddress, silentMs: r.silentMs });
    }
  }

  partition(names: string[]): void {
    for (const h of this.each(names)) {
      h.fate = "partitioned";
      if (h.np) h.np.endpoint.impairment = this.impairmentFor(h);
    }
  }

  /** What every host of this process knows now (a stopped host: not running, nothing else). */
  views(): HostView[] {
    const out: HostView[] = [];
    for (const h of this.hosts.values()) {
      const np = h.np;
      if (!np) {
        out.push({ name: h.name, running: false, registered: false, cma: null, neighbours: [], heartbeatsSent: 0, heartbeatsReceived: 0, announcesSent: 0, reportsSent: 0, alertsSent: 0, stalls: 0, drops: {} });
        continue;
      }
      const c = np.counters;
      out.push({
        name: h.name, running: true, registered: np.registered, cma: np.cma ? `${np.cma.address}:${np.cma.port}` : null, neighbours: np.watch.neighbours.map((n) => n.name),
        heartbeatsSent: c.heartbeatsSent, heartbeatsReceived: c.heartbeatsReceived, announcesSent: c.announcesSent, reportsSent: c.reportsSent, alertsSent: c.alertsSent,
        stalls: np.stalls.counters.stalls, drops: nonZeroDrops(np.endpoint.counters),
      });
    }
    return out;
  }

  /** Every host whose batch is due reports the template batch, its times moved to the interval just ended. */
  private reportStats(stats: { everyMs: number; batch: StatsBatch<CompactedSeries> }): void {
    const now = Date.now();
    for (const h of this.hosts.values()) {
      if (!h.np || h.fate !== "running" || h.statsDueAt === undefined || h.statsDueAt > now) continue;
      h.statsDueAt += stats.everyMs;
      const start = now - stats.everyMs;
      const scale = stats.everyMs / stats.batch.intervalMs;
      const at = (t: number): number => start + Math.round((t - stats.batch.intervalStart) * scale);
      h.np.outbox.stats.add({
        intervalStart: start, intervalMs: stats.everyMs,
        series: stats.batch.series.map((s) => ({ ...s, data: { ...s.data, firstTime: at(s.data.firstTime), lastTime: at(s.data.lastTime) } })),
      });
    }
  }

  async stop(): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    await Promise.all([...this.hosts.values()].map((h) => h.np?.kill()));
  }
}

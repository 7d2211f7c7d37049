/**
 * Ring simulator: N nanoprobes, each with its own UDP socket on a distinct loopback address
 * (127.0.S.H: segment S, host H; past 250 segments 127.1.S.H and on), against a real CMA process. Hosts can be killed (no goodbye),
 * stopped cleanly (goodbye), paused (frozen), slowed, partitioned, restarted; whole segments
 * silenced. The CMA's conclusions are read from its event log and compared with what was done.
 * Real sockets, real kernel, real CMA: only the hypervisors are simulated.
 *
 * The hosts run in `workers` child processes (sim-worker.ts), a share each, and this process only
 * directs them and reads the CMA: at 10,000 hosts one event loop is saturated, and a lagging loop
 * makes all of its hosts see a stall at the same moment (all announce again, all tell the CMA),
 * a storm real hosts never raise together. What each host knows comes back as `view`.
 *
 * With `heartbeats: false` (100,000 hosts on one machine) the hosts send no heartbeats and judge
 * no neighbour: that traffic never reaches the CMA. A kill is then reported as the ring would
 * report it: deadtimeMs after the kill, every running host that watched the victim sends the CMA
 * a DEAD report. Only kills (and clean leaves) are told apart that way; a pause, a partition or a
 * slowed host goes unnoticed by its neighbours.
 */
import { fork, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { setPriority } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { generateCommandKeys, seededRandom, writeNewKeyFile } from "@ringwatch/shared";
import { VIEW_INTERVAL_MS, VIEW_MS_PER_HOST } from "./protocol.js";
import type { FromWorker, HostFate, HostView, InjectedReport, ToWorker } from "./protocol.js";
import type { CompactedSeries, StatsBatch } from "@ringwatch/shared";

export type { HostFate, HostView } from "./protocol.js";

export interface SimOptions {
  hosts: number;
  /** hosts per segment (≤ 250): each segment is one /24 (segmentName) */
  perSegment: number;
  /** path of the CMA's cli.js */
  cmaCli: string;
  workDir: string;
  port: number;
  heartbeatMs: number;
  warntimeMs: number;
  deadtimeMs: number;
  ringsPerSegment: 1 | 2;
  /** probability that any datagram a nanoprobe sends is lost */
  loss: number;
  seed: number;
  /** extra RINGWATCH_* environment for the CMA */
  cmaEnv: Record<string, string>;
  /** extra node options for the CMA process (e.g. --cpu-prof for profiling) */
  cmaNodeArgs: string[];
  /** extra node options for the worker processes (e.g. --cpu-prof) */
  workerNodeArgs: string[];
  /** start hosts in batches of this size (socket creation is synchronous work) */
  startBatch: number;
  /** worker processes the hosts are spread over (0: one per HOSTS_PER_WORKER hosts, at most MAX_AUTO_WORKERS) */
  workers: number;
  /** the workers' scheduling priority (nice) */
  workerNice: number;
  /** how long a worker may take to answer (a start: plus WORKER_START_MS_PER_HOST per host) */
  workerAnswerMs: number;
  /** one CMA process per address (outside the hosts' 127.0.S.H, S ≥ 1): several are CMAs in high
   * availability, so cmaEnv must give them etcd (RINGWATCH_ETCD_ENDPOINTS); the hosts know them all */
  cmaAddresses: string[];
  /** each host reports this stats batch every everyMs (benchmarks of the CMA's ingest); undefined: no stats */
  stats?: { everyMs: number; batch: StatsBatch<CompactedSeries> };
  /** false: no heartbeats between simulated hosts; their DEAD reports about killed hosts are injected (above) */
  heartbeats: boolean;
  /** the hosts' joinBackoffMaxMs: 8 s joins a test's few hundred hosts fast; the nanoprobe's default is 16 s */
  joinBackoffMaxMs: number;
}

/** segments the addresses reach: 127.0.S to 127.255.S, S 1..250 */
export const MAX_SEGMENTS = 250 * 256;

/** a worker's share when `workers` is 0: ~2,500 hosts cost one loop ~0.3 core of heartbeats, leaving room for bursts */
export const HOSTS_PER_WORKER = 2500;
export const MAX_AUTO_WORKERS = 4;
/** scheduling priority of the worker processes (nice): below the CMA's */
export const WORKER_NICE_DEFAULT = 10;
/** a worker that does not answer within this is stuck: its call fails, saying where it was */
export const WORKER_ANSWER_MS = 30_000;
/** a start may take this much longer per host it starts (sockets and keys are made one by one, while
 * the hosts started first already join: 100,000 hosts in 8 workers on 2 cores were all up after about
 * 2 minutes, near the 155 s that 10 ms per host allowed) */
export const WORKER_START_MS_PER_HOST = 50;
/** how long a stopped process may take to exit before it is killed */
const EXIT_GRACE_MS = 5000;

export const DEFAULT_SIM_OPTIONS: Omit<SimOptions, "cmaCli" | "workDir"> = {
  hosts: 100, perSegment: 50, port: 19840, heartbeatMs: 1000, warntimeMs: 5000, deadtimeMs: 10_000, ringsPerSegment: 1,
  loss: 0, seed: 1, cmaEnv: {}, cmaNodeArgs: [], workerNodeArgs: [], startBatch: 100, workers: 0, workerNice: WORKER_NICE_DEFAULT,
  workerAnswerMs: WORKER_ANSWER_MS, cmaAddresses: ["127.0.0.1"], heartbeats: true, joinBackoffMaxMs: 8000,
};

/** one CMA process the simulator runs */
interface SimCma {
  child: ChildProcess;
  exit: Promise<void>;
}

/** a CMA that began leading: its index in cmaAddresses, when (its log's time) and its epoch (0 without etcd) */
export interface LeaderStart {
  cma: number;
  at: number;
  epoch: number;
  /** when it asked the hosts of its snapshot to re-announce (its first commands), if it had any */
  reannounceAt?: number;
}

export interface SimHost {
  name: string;
  address: string;
  segment: number;
  fate: HostFate;
  /** when the current fate began */
  since: number;
  /** what it knows, as its worker last told (every VIEW_INTERVAL_MS) */
  view: HostView;
  /** index of the worker process that runs it */
  worker: number;
}

export interface CmaEvent {
  type: string;
  at: number;
  host?: string;
  segment?: string;
  hosts?: string[];
  [k: string]: unknown;
}

export interface SimSummary {
  hosts: number;
  killed: string[];
  declaredDead: string[];
  missed: string[];
  falseDeaths: string[];
  segmentEvents: { segment: string; hosts: number }[];
  detectionMs: { n: number; p50: number; p99: number; max: number };
}

export class Simulator {
  readonly hosts: SimHost[] = [];
  readonly events: CmaEvent[] = [];
  readonly cmaStatus: Record<string, unknown>[] = [];
  /** the CMA processes, by index in cmaAddresses (undefined: not started, or stopped) */
  private readonly cmas: (SimCma | undefined)[] = [];
  /** every CMA start as leader, in order: the last one leads now (unless it was stopped since) */
  readonly leaderStarts: LeaderStart[] = [];
  /** every line each CMA logged, in order, as { cma, at, msg, ... } (high availability: standing by, elected, deposed) */
  readonly cmaLines: ({ cma: number; at: number; msg: string } & Record<string, unknown>)[] = [];
  /** the longest event-loop lag each worker saw in its last view interval (ms) */
  readonly workerLagMs: number[] = [];
  private readonly rand: () => number;
  private readonly keysDir: string;
  private readonly stderr: string[] = [];
  private readonly workers: ChildProcess[] = [];
  private readonly pending = new Map<number, { worker: number; resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 1;
  /** DEAD reports waiting for their deadtime (heartbeats off) */
  private readonly injections = new Set<NodeJS.Timeout>();

  private constructor(readonly opts: SimOptions) {
    this.rand = seededRandom(opts.seed);
    this.keysDir = join(opts.workDir, "keys");
  }

  static async start(o: Partial<SimOptions> & Pick<SimOptions, "cmaCli" | "workDir">): Promise<Simulator> {
    const opts: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...o };
    if (opts.perSegment < 1 || opts.perSegment > 250) throw new RangeError("perSegment must be 1..250");
    if (Math.ceil(opts.hosts / opts.perSegment) > MAX_SEGMENTS) throw new RangeError(`at most ${MAX_SEGMENTS} segments`);
    const sim = new Simulator(opts);
    sim.prepareKeys();
    await sim.startCma();
    try {
      await sim.startHosts(sim.makeHosts());
    } catch (e) {
      await sim.stop();
      throw e;
    }
    return sim;
  }

  get segments(): number {
    return Math.ceil(this.opts.hosts / this.opts.perSegment);
  }

  private prepareKeys(): void {
    mkdirSync(this.keysDir, { recursive: true });
    const ck = join(this.keysDir, "cluster.key");
    if (!existsSync(ck)) writeNewKeyFile(ck);
    if (!existsSync(join(this.keysDir, "cma-command.key"))) generateCommandKeys(this.keysDir);
  }

  get workerCount(): number {
    const n = this.opts.workers > 0 ? this.opts.workers : Math.min(MAX_AUTO_WORKERS, Math.ceil(this.opts.hosts / HOSTS_PER_WORKER));
    return Math.max(1, Math.min(n, this.opts.hosts));
  }

  private makeHosts(): SimHost[] {
    const w = this.workerCount;
    for (let i = 0; i < this.opts.hosts; i++) {
      const s = Math.floor(i / this.opts.perSegment) + 1;
      const h = (i % this.opts.perSegment) + 1;
      const name = `s${String(s).padStart(3, "0")}h${String(h).padStart(3, "0")}`;
      this.hosts.push({ name, address: `${segmentPrefix(s)}.${h}`, segment: s, fate: "running", since: Date.now(), worker: i % w, view: emptyView(name) });
    }
    return this.hosts;
  }

  // ------------------------------------------------------------------ the CMA process

  /** Start every CMA that is not running; resolves when one of them leads (alone: when it started). */
  async startCma(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.opts.cmaAddresses.length; i++) if (!this.cmas[i] || this.cmas[i]!.child.exitCode !== null || this.cmas[i]!.child.signalCode !== null) ready.push(this.startCmaProcess(i));
    await Promise.any(ready).catch((e: AggregateError) => Promise.reject(e.errors[0] as Error));
  }

  /** Start CMA i; resolves when it leads (a standby never does until elected: do not await it then). */
  startCmaProcess(i: number): Promise<void> {
    const dataDir = join(this.opts.workDir, i === 0 ? "cma-state" : `cma-state-${i}`);
    const env = {
      ...process.env,
      RINGWATCH_CLUSTER: "sim", RINGWATCH_CLUSTER_KEY_FILE: join(this.keysDir, "cluster.key"), RINGWATCH_COMMAND_KEY_FILE: join(this.keysDir, "cma-command.key"),
      RINGWATCH_BIND_ADDRESS: this.opts.cmaAddresses[i], RINGWATCH_PORT: String(this.opts.port), RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: dataDir,
      RINGWATCH_HEARTBEAT_MS: String(this.opts.heartbeatMs), RINGWATCH_WARNTIME_MS: String(this.opts.warntimeMs), RINGWATCH_DEADTIME_MS: String(this.opts.deadtimeMs),
      RINGWATCH_RINGS_PER_SEGMENT: String(this.opts.ringsPerSegment), RINGWATCH_STATUS_INTERVAL_MS: "1000",
      RINGWATCH_HTTP_LISTEN: "127.0.0.1:0", // any free port: never collides with a real CMA's API on 1984
      ...this.opts.cmaEnv,
    };
    const child = spawn(process.execPath, [...this.opts.cmaNodeArgs, this.opts.cmaCli, "run"], { env, stdio: ["ignore", "pipe", "pipe"] });
    const exit = new Promise<void>((r) => child.on("exit", () => r()));
    this.cmas[i] = { child, exit };
    let started!: () => void;
    const ready = new Promise<void>((r) => (started = r));
    let reannounceAt: number | undefined;
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let l: Record<string, unknown>;
      try {
        l = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (this.opts.cmaAddresses.length > 1 && l.msg !== "status") this.cmaLines.push({ ...l, cma: i, at: Date.parse(String(l.time)), msg: String(l.msg) });
      if (l.msg === "membership event") this.events.push({ ...(l as unknown as CmaEvent), cma: i });
      else if (l.msg === "status") this.cmaStatus.push({ ...l, cma: i });
      else if (l.msg === "restored membership from the snapshot: asking hosts to re-announce") reannounceAt = Date.parse(String(l.time));
      else if (l.msg === "CMA started") {
        this.leaderStarts.push({ cma: i, at: Date.parse(String(l.time)), epoch: Number(l.epoch ?? 0), ...(reannounceAt ? { reannounceAt } : {}) });
        reannounceAt = undefined;
        started();
      }
    });
    createInterface({ input: child.stderr! }).on("line", (t) => this.stderr.push(t));
    let timer: NodeJS.Timeout | undefined;
    // a standby may wait for its election as long as the caller likes; alone, a CMA starts in seconds
    const timeout = this.opts.cmaAddresses.length > 1 ? new Promise<never>(() => undefined)
      : new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`CMA did not start: ${this.stderr.slice(-5).join(" | ")}`)), 15_000).unref()));
    return Promise.race([ready, timeout, exit.then(() => Promise.reject(new Error(`CMA ${i} exited: ${this.stderr.slice(-5).join(" | ")}`)))]).finally(() => clearTimeout(timer));
  }

  /** the CMA that leads now: the last to start leading, if it still runs */
  get leaderIndex(): number | undefined {
    const last = this.leaderStarts.at(-1);
    const c = last ? this.cmas[last.cma] : undefined;
    return c && c.child.exitCode === null && c.child.signalCode === null ? last!.cma : undefined;
  }

  /** the leading CMA's pid (the first CMA's when none leads) */
  get cmaPid(): number | undefined {
    return this.cmas[this.leaderIndex ?? 0]?.child.pid;
  }

  /** every CMA process's pid (undefined where it is not running) */
  get cmaPids(): (number | undefined)[] {
    return this.cmas.map((c) => (c && c.child.exitCode === null && c.child.signalCode === null ? c.child.pid : undefined));
  }

  /** Stop a CMA (default: the leader): SIGKILL (crash) or SIGTERM. */
  async stopCma(signal: NodeJS.Signals = "SIGKILL", index = this.leaderIndex ?? 0): Promise<void> {
    const c = this.cmas[index];
    if (!c || c.child.exitCode !== null || c.child.signalCode !== null) return;
    c.child.kill(signal);
    await exited(c.child, EXIT_GRACE_MS);
    await c.exit;
  }

  // ------------------------------------------------------------------ hosts (in the worker processes)

  private async startHosts(hosts: SimHost[]): Promise<void> {
    const workerJs = fileURLToPath(new URL("./sim-worker.js", import.meta.url));
    const byName = new Map(hosts.map((h) => [h.name, h]));
    const o = this.opts;
    const starts: Promise<void>[] = [];
    for (let w = 0; w < this.workerCount; w++) {
      // piped, not inherited: a worker that outlived us (a blocked loop never sees the disconnect)
      // must not hold the test runner's output open. A report on SIGUSR2 says where it was stuck.
      const execArgv = [...process.execArgv, ...o.workerNodeArgs, "--report-on-signal", "--report-signal=SIGUSR2", `--report-directory=${this.reportsDir}`];
      const child = fork(workerJs, [], { execArgv, stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "advanced" });
      for (const out of [child.stdout!, child.stderr!]) createInterface({ input: out }).on("line", (t) => process.stderr.write(`sim worker ${w}: ${t}\n`));
      this.workers.push(child);
      // the hosts stand for machines of their own: on this one, the CMA under test comes first
      // (each worker is a scheduler share of its own: four of them at the CMA's priority starve it)
      if (child.pid) setPriority(child.pid, o.workerNice);
      this.workerLagMs.push(0);
      child.on("message", (m: FromWorker) => {
        if (m.type === "views") {
          this.workerLagMs[w] = m.lagMs;
          for (const v of m.views) {
            const h = byName.get(v.name);
            if (h) h.view = v;
          }
        } else {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (m.error) p?.reject(new Error(`simulator worker ${w}: ${m.error}`));
          else p?.resolve();
        }
      });
      child.on("exit", (code) => {
        for (const [id, p] of this.pending) {
          if (p.worker !== w) continue;
          p.reject(new Error(`simulator worker ${w} exited (${code})`));
          this.pending.delete(id);
        }
      });
      const mine = hosts.filter((h) => h.worker === w).map(({ name, address, segment }) => ({ name, address, segment }));
      const viewIntervalMs = Math.max(VIEW_INTERVAL_MS, Math.round(mine.length * VIEW_MS_PER_HOST));
      starts.push(this.call(w, { type: "start", id: 0, hosts: mine, opts: {
        heartbeats: o.heartbeats, viewIntervalMs, joinBackoffMaxMs: o.joinBackoffMaxMs,
        keysDir: this.keysDir, port: o.port, cma: o.cmaAddresses.map((a) => `${a}:${o.port}`).join(","), heartbeatMs: o.heartbeatMs, warntimeMs: o.warntimeMs, deadtimeMs: o.deadtimeMs, loss: o.loss, seed: o.seed + w, startBatch: o.startBatch, ...(o.stats ? { stats: o.stats } : {}),
      } }, o.workerAnswerMs + mine.length * WORKER_START_MS_PER_HOST));
    }
    await Promise.all(starts);
  }

  /** Ask worker w; rejects if it does not answer within timeoutMs (with where it was stuck, when it can tell). */
  private call(w: number, m: ToWorker, timeoutMs = this.opts.workerAnswerMs, diagnose = true): Promise<void> {
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve, reject) => {
      this.pending.set(id, { worker: w, resolve, reject });
      timer = setTimeout(() => {
        this.pending.delete(id);
        void (diagnose ? this.stuckReport(w) : Promise.resolve("")).then((where) => reject(new Error(`simulator worker ${w} did not answer '${m.type}' within ${timeoutMs} ms${where}`)));
      }, timeoutMs);
    });
    this.workers[w].send({ ...m, id });
    return done.finally(() => clearTimeout(timer));
  }

  private get reportsDir(): string {
    return join(this.opts.workDir, "worker-reports");
  }

  /** The JavaScript stack of a worker that does not answer, from a diagnostic report it writes on SIGUSR2. */
  private async stuckReport(w: number): Promise<string> {
    const child = this.workers[w];
    if (!child.pid || child.exitCode !== null) return " (it has exited)";
    const before = new Set(existsSync(this.reportsDir) ? readdirSync(this.reportsDir) : []);
    const cpu0 = procCpuMs(child.pid);
    const t0 = Date.now();
    const busy = (): string => `; it used ${Math.round((100 * (procCpuMs(child.pid!) - cpu0)) / Math.max(1, Date.now() - t0))} % of a core meanwhile`;
    child.kill("SIGUSR2"); // a loop blocked in JavaScript writes none
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const fresh = (existsSync(this.reportsDir) ? readdirSync(this.reportsDir) : []).find((f) => !before.has(f) && f.endsWith(".json"));
      if (!fresh) continue;
      try {
        const report = JSON.parse(readFileSync(join(this.reportsDir, fresh), "utf8")) as { javascriptStack?: { message?: string; stack?: string[] } };
        return `${busy()}; its stack: ${[report.javascriptStack?.message, ...(report.javascriptStack?.stack ?? []).slice(0, 8)].join(" | ")}`;
      } catch {
        // still being written
      }
    }
    return `${busy()}; it wrote no diagnostic report within 2 s (its event loop is blocked); ${procWhere(child.pid)}`;
  }

  /** The same action on hosts of every worker, by name. */
  private async act(hosts: SimHost[], m: (names: string[]) => ToWorker): Promise<void> {
    await Promise.all(this.workers.map((_, w) => {
      const names = hosts.filter((h) => h.worker === w).map((h) => h.name);
      return names.length > 0 ? this.call(w, m(names)) : Promise.resolve();
    }));
  }

  /** Resolves when every running host is registered and has its neighbours (or rejects after timeoutMs). */
  async waitForRings(timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    const minNeighbours = this.opts.hosts > 1 ? 1 : 0;
    const ringed = (h: SimHost): boolean => h.view.running && h.view.registered && h.view.neighbours.length >= minNeighbours;
    for (;;) {
      const running = this.hosts.filter((h) => h.fate === "running");
      if (running.every(ringed)) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) {
        const waiting = running.filter((h) => !ringed(h)).length;
        throw new Error(`${waiting} of ${running.length} hosts still without rings after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  host(name: string): SimHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** n distinct running hosts chosen at random (seeded). */
  pickRunning(n: number, exclude: (h: SimHost) => boolean = () => false): SimHost[] {
    const pool = this.hosts.filter((h) => h.fate === "running" && !exclude(h));
    const out: SimHost[] = [];
    while (out.length < n && pool.length > 0) out.push(pool.splice(Math.floor(this.rand() * pool.length), 1)[0]);
    return out;
  }

  private setFate(h: SimHost, fate: HostFate): void {
    h.fate = fate;
    h.since = Date.now();
  }

  async kill(hosts: SimHost[]): Promise<void> {
    // who watched them, as their views last said (heartbeats off: they report the deaths)
    const watchers = this.opts.heartbeats ? [] : this.watchersOf(hosts);
    for (const h of hosts) this.setFate(h, "killed");
    await this.act(hosts, (names) => ({ type: "kill", id: 0, names }));
    for (const h of hosts) h.view = emptyView(h.name);
    if (watchers.length > 0) this.injectReports(watchers);
  }

  /** every (running watcher, victim) pair: the DEAD reports the ring would send */
  private watchersOf(victims: SimHost[]): InjectedReport[] {
    const byName = new Map(victims.map((v) => [v.name, v]));
    const out: InjectedReport[] = [];
    for (const h of this.hosts) {
      if (h.fate !== "running") continue;
      for (const n of h.view.neighbours) {
        const v = byName.get(n);
        if (v) out.push({ reporter: h.name, subject: v.name, subjectAddress: `${v.address}:${this.opts.port}`, silentMs: this.opts.deadtimeMs });
      }
    }
    return out;
  }

  /** deadtimeMs from now, each watcher reports its victim dead (unless the watcher is no longer running then) */
  private injectReports(reports: InjectedReport[]): void {
    const byName = new Map(this.hosts.map((h) => [h.name, h]));
    const timer = setTimeout(() => {
      this.injections.delete(timer);
      const live = reports.filter((r) => byName.get(r.reporter)?.fate === "running");
      void Promise.all(this.workers.map((_, w) => {
        const mine = live.filter((r) => byName.get(r.reporter)!.worker === w);
        return mine.length > 0 ? this.call(w, { type: "report", id: 0, reports: mine }) : Promise.resolve();
      })).catch((e: Error) => this.stderr.push(`injected reports: ${e.message}`));
    }, this.opts.deadtimeMs);
    this.injections.add(timer);
  }

  async leave(hosts: SimHost[]): Promise<void> {
    for (const h of hosts) this.setFate(h, "left");
    await this.act(hosts, (names) => ({ type: "leave", id: 0, names }));
    for (const h of hosts) h.view = emptyView(h.name);
  }

  async restart(hosts: SimHost[]): Promise<void> {
    for (const h of hosts) this.setFate(h, "running");
    await this.act(hosts, (names) => ({ type: "restart", id: 0, names }));
  }

  async pause(hosts: SimHost[]): Promise<void> {
    for (const h of hosts) this.setFate(h, "paused");
    await this.act(hosts, (names) => ({ type: "pause", id: 0, names }));
  }

  /** Back to normal after pause, slow or partition. */
  async resume(hosts: SimHost[]): Promise<void> {
    for (const h of hosts) this.setFate(h, "running");
    await this.act(hosts, (names) => ({ type: "resume", id: 0, names }));
  }

  async slow(hosts: SimHost[], delayMs: number): Promise<void> {
    for (const h of hosts) this.setFate(h, "slowed");
    await this.act(hosts, (names) => ({ type: "slow", id: 0, names, delayMs }));
  }

  async partition(hosts: SimHost[]): Promise<void> {
    for (const h of hosts) this.setFate(h, "partitioned");
    await this.act(hosts, (names) => ({ type: "partition", id: 0, names }));
  }

  segmentHosts(segment: number): SimHost[] {
    return this.hosts.filter((h) => h.segment === segment);
  }

  /** "127.0.S.0/24" (past 250 segments "127.1.S.0/24" and on) as the CMA names it. */
  segmentName(segment: number): string {
    return `${segmentPrefix(segment)}.0/24`;
  }

  // ------------------------------------------------------------------ conclusions

  eventsOf(type: string): CmaEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Compare what the CMA concluded with what was done. */
  summary(): SimSummary {
    const dead = this.eventsOf("hostDead");
    const declared = new Map<string, number>();
    for (const e of dead) if (e.host && !declared.has(e.host)) declared.set(e.host, e.at);
    const killed = this.hosts.filter((h) => h.fate === "killed");
    const missed = killed.filter((h) => !declared.has(h.name)).map((h) => h.name);
    // a death is false if the host was not killed at the time it was declared
    const falseDeaths = dead.filter((e) => {
      const h = this.hosts.find((x) => x.name === e.host);
      return !h || h.fate !== "killed" || e.at < h.since;
    }).map((e) => e.host!);
    const latencies = killed.filter((h) => declared.has(h.name)).map((h) => declared.get(h.name)! - h.since).sort((a, b) => a - b);
    const pct = (p: number): number => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN);
    return {
      hosts: this.hosts.length,
      killed: killed.map((h) => h.name),
      declaredDead: [...declared.keys()],
      missed,
      falseDeaths,
      segmentEvents: this.eventsOf("segmentSuspected").map((e) => ({ segment: String(e.segment), hosts: e.hosts?.length ?? 0 })),
      detectionMs: { n: latencies.length, p50: pct(50), p99: pct(99), max: latencies.at(-1) ?? NaN },
    };
  }

  /** CMA process CPU time so far (ms), from /proc. */
  cmaCpuMs(): number {
    const pid = this.cmaPid;
    return pid ? procCpuMs(pid) : NaN;
  }

  /** the worker processes' pids (a test stops one to see that a stuck worker is named and killed) */
  get workerPids(): number[] {
    return this.workers.map((w) => w.pid ?? 0);
  }

  /** CPU time of the worker processes so far (ms), from /proc. */
  workersCpuMs(): number {
    return this.workers.reduce((sum, w) => sum + (w.pid && w.exitCode === null ? procCpuMs(w.pid) : 0), 0);
  }

  /**
   * The first status line logged after `after` (ms since the epoch) by CMA `cma` (any CMA when
   * undefined): the CMAs log one every second, so a benchmark reads its counters "as of now" this way.
   */
  async statusAfter<T extends { time?: string }>(after: number, cma?: number, timeoutMs = 15_000): Promise<T> {
    for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      const st = [...this.cmaStatus].reverse().find((l) => cma === undefined || l.cma === cma) as T | undefined;
      if (st?.time && Date.parse(st.time) > after) return st;
    }
    throw new Error(`no status line from ${cma === undefined ? "the CMA" : `CMA ${cma}`} within ${timeoutMs} ms`);
  }

  /** The CMA's endpoint counters from its latest status line. */
  cmaCounters(): Record<string, number> {
    const last = this.cmaStatus.at(-1) as { channel?: Record<string, number> } | undefined;
    return last?.channel ?? {};
  }

  async stop(): Promise<void> {
    for (const t of this.injections) clearTimeout(t);
    this.injections.clear();
    await Promise.all(this.workers.map(async (child, w) => {
      if (child.connected) {
        const answered = await this.call(w, { type: "stop", id: 0 }, Math.min(EXIT_GRACE_MS, this.opts.workerAnswerMs), false).then(() => true, () => false);
        if (!answered) child.kill("SIGKILL"); // stuck: it would not see the disconnect either
        else child.disconnect(); // the worker exits on disconnect
      }
      await exited(child, EXIT_GRACE_MS);
    }));
    await Promise.all(this.cmas.map((_, i) => this.stopCma("SIGTERM", i)));
    writeFileSync(join(this.opts.workDir, "events.json"), JSON.stringify(this.events));
  }
}

/** Wait for a child to exit; SIGKILL it past graceMs (nothing the simulator started outlives it). */
async function exited(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exit = new Promise<void>((r) => child.once("exit", () => r()));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs)));
  if ((await Promise.race([exit, late])) === "late") {
    child.kill("SIGKILL");
    await exit;
  }
  clearTimeout(timer);
}

/** the first three octets of segment s (1-based): 127.0.1 … 127.0.250, then 127.1.1 … */
export function segmentPrefix(s: number): string {
  return `127.${Math.floor((s - 1) / 250)}.${((s - 1) % 250) + 1}`;
}

function emptyView(name: string): HostView {
  return { name, running: false, registered: false, cma: null, neighbours: [], heartbeatsSent: 0, heartbeatsReceived: 0, announcesSent: 0, reportsSent: 0, alertsSent: 0, stalls: 0, drops: {} };
}

/** The fields of a /proc stat file after "pid (comm) ": [0] the state, [11] utime, [12] stime. */
const statFields = (path: string): string[] => readFileSync(path, "utf8").split(") ")[1].split(" ");

/** utime + stime of a process (ms), in clock ticks of 100 Hz */
function procCpuMs(pid: number): number {
  try {
    const f = statFields(`/proc/${pid}/stat`);
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0; // gone
  }
}

/** Where a process that does not run is waiting, from /proc: each thread's state and kernel wait channel (e.g. "S futex_wait_queue", "T do_signal_stop"). */
function procWhere(pid: number): string {
  try {
    const threads = readdirSync(`/proc/${pid}/task`).map((tid) => {
      const task = `/proc/${pid}/task/${tid}`;
      const wchan = readFileSync(`${task}/wchan`, "utf8").trim() || "-";
      return `${readFileSync(`${task}/comm`, "utf8").trim()} ${statFields(`${task}/stat`)[0]} ${wchan}`;
    });
    const counted = new Map<string, number>();
    for (const t of threads) counted.set(t, (counted.get(t) ?? 0) + 1);
    return `threads: ${[...counted].map(([t, n]) => (n > 1 ? `${n}× ${t}` : t)).join(", ")}`;
  } catch {
    return "threads: unreadable";
  }
}

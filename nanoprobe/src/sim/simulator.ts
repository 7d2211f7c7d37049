/**
 * Ring simulator: N nanoprobes in this process, each with its own UDP socket on a distinct loopback
 * address (127.0.S.H: segment S, host H), against a real CMA process. Hosts can be killed (no
 * goodbye), stopped cleanly (goodbye), paused (frozen), slowed, partitioned, restarted; whole
 * segments silenced. The CMA's conclusions are read from its event log and compared with what was
 * done. Real sockets, real kernel, real CMA: only the hypervisors are simulated.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Keyring, generateCommandKeys, loadCommandPublicKey, seededRandom, silentLogger, writeNewKeyFile } from "@ringwatch/shared";
import type { EndpointImpairment } from "@ringwatch/shared";
import { Nanoprobe } from "../agent.js";
import { nanoprobeConfig } from "../config.js";

export interface SimOptions {
  hosts: number;
  /** hosts per segment (≤ 250): each segment is one 127.0.S.0/24 */
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
  /** start hosts in batches of this size (socket creation is synchronous work) */
  startBatch: number;
}

export const DEFAULT_SIM_OPTIONS: Omit<SimOptions, "cmaCli" | "workDir"> = {
  hosts: 100, perSegment: 50, port: 19840, heartbeatMs: 1000, warntimeMs: 5000, deadtimeMs: 10_000, ringsPerSegment: 1,
  loss: 0, seed: 1, cmaEnv: {}, cmaNodeArgs: [], startBatch: 100,
};

export type HostFate = "running" | "killed" | "left" | "paused" | "partitioned" | "slowed";

export interface SimHost {
  name: string;
  address: string;
  segment: number;
  fate: HostFate;
  /** when the current fate began */
  since: number;
  np?: Nanoprobe;
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
  private cma: ChildProcess | undefined;
  private cmaExit: Promise<void> = Promise.resolve();
  private readonly rand: () => number;
  private keyring!: Keyring;
  private readonly keysDir: string;
  private readonly stderr: string[] = [];

  private constructor(readonly opts: SimOptions) {
    this.rand = seededRandom(opts.seed);
    this.keysDir = join(opts.workDir, "keys");
  }

  static async start(o: Partial<SimOptions> & Pick<SimOptions, "cmaCli" | "workDir">): Promise<Simulator> {
    const opts: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...o };
    if (opts.perSegment < 1 || opts.perSegment > 250) throw new RangeError("perSegment must be 1..250");
    if (Math.ceil(opts.hosts / opts.perSegment) > 250) throw new RangeError("at most 250 segments");
    const sim = new Simulator(opts);
    sim.prepareKeys();
    await sim.startCma();
    await sim.startHosts(sim.makeHosts());
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
    this.keyring = Keyring.fromFile("sim", ck);
  }

  private makeHosts(): SimHost[] {
    for (let i = 0; i < this.opts.hosts; i++) {
      const s = Math.floor(i / this.opts.perSegment) + 1;
      const h = (i % this.opts.perSegment) + 1;
      this.hosts.push({ name: `s${String(s).padStart(3, "0")}h${String(h).padStart(3, "0")}`, address: `127.0.${s}.${h}`, segment: s, fate: "running", since: Date.now() });
    }
    return this.hosts;
  }

  // ------------------------------------------------------------------ the CMA process

  async startCma(): Promise<void> {
    const env = {
      ...process.env,
      RINGWATCH_CLUSTER: "sim", RINGWATCH_CLUSTER_KEY_FILE: join(this.keysDir, "cluster.key"), RINGWATCH_COMMAND_KEY_FILE: join(this.keysDir, "cma-command.key"),
      RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(this.opts.port), RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(this.opts.workDir, "cma-state"),
      RINGWATCH_HEARTBEAT_MS: String(this.opts.heartbeatMs), RINGWATCH_WARNTIME_MS: String(this.opts.warntimeMs), RINGWATCH_DEADTIME_MS: String(this.opts.deadtimeMs),
      RINGWATCH_RINGS_PER_SEGMENT: String(this.opts.ringsPerSegment), RINGWATCH_STATUS_INTERVAL_MS: "1000",
      RINGWATCH_HTTP_LISTEN: "127.0.0.1:0", // any free port: never collides with a real CMA's API on 1984
      ...this.opts.cmaEnv,
    };
    const child = spawn(process.execPath, [...this.opts.cmaNodeArgs, this.opts.cmaCli, "run"], { env, stdio: ["ignore", "pipe", "pipe"] });
    this.cma = child;
    this.cmaExit = new Promise((r) => child.on("exit", () => r()));
    let started!: () => void;
    const ready = new Promise<void>((r) => (started = r));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let l: Record<string, unknown>;
      try {
        l = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (l.msg === "membership event") this.events.push(l as unknown as CmaEvent);
      else if (l.msg === "status") this.cmaStatus.push(l);
      else if (l.msg === "CMA started") started();
    });
    createInterface({ input: child.stderr! }).on("line", (t) => this.stderr.push(t));
    const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`CMA did not start: ${this.stderr.slice(-5).join(" | ")}`)), 15_000).unref());
    await Promise.race([ready, timeout, this.cmaExit.then(() => Promise.reject(new Error(`CMA exited: ${this.stderr.slice(-5).join(" | ")}`)))]);
  }

  get cmaPid(): number | undefined {
    return this.cma?.pid;
  }

  /** Stop the CMA: SIGKILL (crash) or SIGTERM. */
  async stopCma(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (!this.cma || this.cma.exitCode !== null) return;
    this.cma.kill(signal);
    await this.cmaExit;
  }

  // ------------------------------------------------------------------ hosts

  private impairmentFor(h: SimHost): EndpointImpairment | undefined {
    const loss = this.opts.loss;
    if (h.fate === "partitioned") return { outgoing: () => true, incoming: () => true };
    if (h.fate === "slowed") return { outgoing: () => (loss > 0 && this.rand() < loss ? true : (h as SimHost & { delayMs?: number }).delayMs ?? 0) };
    if (loss > 0) return { outgoing: () => this.rand() < loss };
    return undefined;
  }

  private async startHost(h: SimHost): Promise<void> {
    const cfg = nanoprobeConfig({
      identity: h.name, cluster: "sim", cma: `127.0.0.1:${this.opts.port}`, bindAddress: h.address, port: this.opts.port,
      joinIntervalMs: 1000, discoveryDir: "", heartbeatMs: this.opts.heartbeatMs, warntimeMs: this.opts.warntimeMs, deadtimeMs: this.opts.deadtimeMs, statusIntervalMs: 0, goodbyeTimeoutMs: 2000,
    });
    h.np = await Nanoprobe.start(cfg, {
      keyring: this.keyring, cmaPublicKey: loadCommandPublicKey(join(this.keysDir, "cma-command.pub")), log: silentLogger(),
      channel: { socketBufferBytes: 256 * 1024 }, impairment: this.impairmentFor(h),
    });
  }

  private async startHosts(hosts: SimHost[]): Promise<void> {
    for (let i = 0; i < hosts.length; i += this.opts.startBatch) {
      await Promise.all(hosts.slice(i, i + this.opts.startBatch).map((h) => this.startHost(h)));
    }
  }

  /** Resolves when every running host is registered and has its neighbours (or rejects after timeoutMs). */
  async waitForRings(timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    const minNeighbours = this.opts.hosts > 1 ? 1 : 0;
    for (;;) {
      const running = this.hosts.filter((h) => h.fate === "running" && h.np);
      if (running.every((h) => h.np!.registered && h.np!.watch.neighbours.length >= minNeighbours)) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) {
        const waiting = running.filter((h) => !h.np!.registered || h.np!.watch.neighbours.length < minNeighbours).length;
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
    await Promise.all(hosts.map(async (h) => {
      this.setFate(h, "killed");
      await h.np?.kill();
      h.np = undefined;
    }));
  }

  async leave(hosts: SimHost[]): Promise<void> {
    await Promise.all(hosts.map(async (h) => {
      this.setFate(h, "left");
      await h.np?.stop(true);
      h.np = undefined;
    }));
  }

  async restart(hosts: SimHost[]): Promise<void> {
    for (const h of hosts) {
      await h.np?.kill();
      this.setFate(h, "running");
      await this.startHost(h);
    }
  }

  pause(hosts: SimHost[]): void {
    for (const h of hosts) {
      this.setFate(h, "paused");
      h.np?.pause();
    }
  }

  /** Back to normal after pause, slow or partition. */
  resume(hosts: SimHost[]): void {
    for (const h of hosts) {
      this.setFate(h, "running");
      h.np?.resume(this.impairmentFor(h));
    }
  }

  slow(hosts: SimHost[], delayMs: number): void {
    for (const h of hosts) {
      this.setFate(h, "slowed");
      (h as SimHost & { delayMs?: number }).delayMs = delayMs;
      if (h.np) h.np.endpoint.impairment = this.impairmentFor(h);
    }
  }

  partition(hosts: SimHost[]): void {
    for (const h of hosts) {
      this.setFate(h, "partitioned");
      if (h.np) h.np.endpoint.impairment = this.impairmentFor(h);
    }
  }

  segmentHosts(segment: number): SimHost[] {
    return this.hosts.filter((h) => h.segment === segment);
  }

  /** "127.0.S.0/24" as the CMA names it. */
  segmentName(segment: number): string {
    return `127.0.${segment}.0/24`;
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
    if (!this.cma?.pid) return NaN;
    const f = readFileSync(`/proc/${this.cma.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime in clock ticks (100 Hz)
  }

  /** The CMA's endpoint counters from its latest status line. */
  cmaCounters(): Record<string, number> {
    const last = this.cmaStatus.at(-1) as { channel?: Record<string, number> } | undefined;
    return last?.channel ?? {};
  }

  async stop(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.np?.kill()));
    await this.stopCma("SIGTERM");
    writeFileSync(join(this.opts.workDir, "events.json"), JSON.stringify(this.events));
  }
}

/**
 * Does the real nanoprobe's memory stay flat? A soak run on the real libvirtd (qemu:///system):
 * a real CMA (its own process, graph store off: only its intake matters here) and the real
 * nanoprobe (`nanoprobe/dist/src/cli.js run`, default configuration: 1 s sampling, one batch a
 * minute, discovery scripts on), its RSS (/proc/<pid>/status) and V8 heap (from its status line)
 * recorded every minute, with its own CPU per sampling pass (not its discovery children's). Ends
 * with a table and the verdict against issue 18's targets: from minute 10 on, every RSS reading
 * within ±5 % of their median (and the trend, MiB/hour), and at most 80 MiB.
 *
 *   node bench/dist/nanoprobe-soak.bench.js [--minutes 60] [--every-s 60] [--node-option FLAG]... [--libvirt-uri URI]
 *
 * --node-option passes a flag to the nanoprobe's node (repeatable; e.g. --heapsnapshot-signal=SIGUSR2
 * to take heap snapshots while it runs); --libvirt-uri another libvirt (e.g. a test:///file.xml to
 * compare V8 settings without loading libvirtd; its figures are not the real agent's). Uses the domains that are running (it creates none), needs
 * read access to qemu:///system. Stops the two processes it started, by PID, at the end or on
 * SIGINT/SIGTERM.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CMA_CLI = join(REPO, "cma/dist/src/cli.js");
const NANOPROBE_CLI = join(REPO, "nanoprobe/dist/src/cli.js");
const URI = "qemu:///system";
/** issue 18's targets */
const FLAT_AFTER_MIN = 10;
const FLAT_WITHIN = 0.05;
const MAX_RSS_MIB = 80;

function args(): { minutes: number; everyS: number; nodeOptions: string[]; uri: string } {
  const a = process.argv.slice(2);
  const out = { minutes: 60, everyS: 60, nodeOptions: [] as string[], uri: URI };
  for (let i = 0; i < a.length; i++) {
    const v = a[i + 1];
    if (a[i] === "--minutes") out.minutes = Number(v);
    else if (a[i] === "--every-s") out.everyS = Number(v);
    else if (a[i] === "--node-option") out.nodeOptions.push(v);
    else if (a[i] === "--libvirt-uri") out.uri = v;
    else throw new Error(`unknown option ${a[i]} (--minutes N, --every-s S, --node-option FLAG, --libvirt-uri URI)`);
    i++;
  }
  if (!(out.minutes > 0 && out.everyS >= 1)) throw new Error("--minutes must be > 0 and --every-s ≥ 1");
  return out;
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim());

/** utime + stime of a process (all threads, not its children), in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

type Line = Record<string, unknown>;

/** A child whose JSON log lines are read (the last status line kept), stopped by its PID. */
class Child {
  lastStatus: Line | undefined;
  readonly lines: Line[] = [];
  readonly proc: ChildProcess;
  constructor(readonly name: string, nodeArgs: string[], env: Record<string, string>) {
    this.proc = spawn(process.execPath, nodeArgs, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    createInterface({ input: this.proc.stdout! }).on("line", (t) => {
      let l: Line;
      try {
        l = JSON.parse(t) as Line;
      } catch {
        return;
      }
      if (l.msg === "status") this.lastStatus = l;
      else if (this.lines.length < 1000) this.lines.push(l); // bounded: the bench runs for an hour
    });
    createInterface({ input: this.proc.stderr! }).on("line", (t) => process.stderr.write(`[${name}] ${t}\n`));
  }
  get pid(): number {
    return this.proc.pid!;
  }
  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
    process.kill(this.pid, "SIGTERM");
    const t = setTimeout(() => this.running && process.kill(this.pid, "SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }
}

interface Reading {
  minute: number;
  rss: number;
  heapUsed?: number;
  heapTotal?: number;
  domains?: number;
  passes?: number;
  batches?: number;
  /** what the nanoprobe holds (its status' retainedSizes): stats batches, analytics window points */
  heldBatches?: number;
  windowPoints?: number;
  /** the nanoprobe's own CPU per sampling pass since the previous reading */
  cpuMsPerPass?: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((r) => {
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      r();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });

const fmt = (n: number | undefined, d = 1): string => (n === undefined || Number.isNaN(n) ? "—" : n.toFixed(d));

async function main(): Promise<void> {
  const o = args();
  const domains = spawnSync("virsh", ["-c", o.uri, "list", "--name"], { encoding: "utf8" }).stdout.split("\n").filter((n) => n.trim()).length;
  const dir = mkdtempSync(join(tmpdir(), "rw-soak-"));
  const stop = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => stop.abort());
  const children: Child[] = [];
  const readings: Reading[] = [];
  try {
    const keys = spawnSync(process.execPath, [CMA_CLI, "keygen", "--dir", join(dir, "keys")], { encoding: "utf8" });
    if (keys.status !== 0) throw new Error(`keygen failed: ${keys.stderr}`);
    const cluster = `soak${process.pid}`;
    const port = 20000 + Math.floor(Math.random() * 20000);
    const common = { RINGWATCH_CLUSTER: cluster, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_PORT: String(port) };
    const cma = new Child("cma", [CMA_CLI, "run"], {
      ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_DATA_DIR: join(dir, "cma"),
      RINGWATCH_HTTP_LISTEN: "", RINGWATCH_GRAPH_STORE: "none", RINGWATCH_STATUS_INTERVAL_MS: "0",
    });
    children.push(cma);
    await sleep(1000, stop.signal);
    // the default configuration but for where the CMA is (loopback has no multicast) and a status line per reading
    const np = new Child("nanoprobe", [...o.nodeOptions, NANOPROBE_CLI, "run"], {
      ...common, RINGWATCH_IDENTITY: "soak-hv1", RINGWATCH_BIND_ADDRESS: "127.0.0.2", RINGWATCH_CMA: `127.0.0.1:${port}`,
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_IDENTITY_KEY_FILE: join(dir, "host-identity.key"), RINGWATCH_CMA_ADDRESSES_FILE: join(dir, "cma-addresses.json"), RINGWATCH_LIBVIRT_URI: o.uri, RINGWATCH_ZABBIX_AGENT_CONFIG: "",
      RINGWATCH_STATUS_INTERVAL_MS: `${o.everyS * 1000}`,
    });
    children.push(np);
    const commit = spawnSync("git", ["-C", REPO, "describe", "--always", "--dirty"], { encoding: "utf8" }).stdout.trim() || "unknown";
    process.stdout.write(`nanoprobe-soak: pid ${np.pid} (CMA pid ${cma.pid}), ${domains} domains on ${o.uri}, ${o.minutes} min, a reading every ${o.everyS} s, commit ${commit}, started ${new Date().toISOString()}, node ${process.version} ${o.nodeOptions.join(" ")}\n`);
    process.stdout.write("minute  RSS MiB  heapUsed MiB  heapTotal MiB  domains  passes  batches  CPU ms/pass  held batches  window points\n");
    const t0 = Date.now();
    let last = { cpu: cpuMs(np.pid), passes: 0 };
    for (let k = 1; k * o.everyS <= o.minutes * 60 && !stop.signal.aborted; k++) {
      await sleep(t0 + k * o.everyS * 1000 + 3000 - Date.now(), stop.signal); // the nanoprobe's status line of this period came ~1.5 s after t0
      if (stop.signal.aborted) break;
      if (!np.running || !cma.running) throw new Error(`${np.running ? "the CMA" : "the nanoprobe"} exited early`);
      const s = np.lastStatus as {
        memory?: { heapUsedMiB?: number; heapTotalMiB?: number }; counters?: { statsBatchesSent?: number }; stats?: { retained?: { batches?: number } };
        hypervisor?: { domains?: number; sampler?: { passes?: number }; retained?: { analytics?: { points?: number } } };
      } | undefined;
      const r: Reading = {
        minute: (k * o.everyS) / 60, rss: rssMiB(np.pid), heapUsed: s?.memory?.heapUsedMiB, heapTotal: s?.memory?.heapTotalMiB,
        domains: s?.hypervisor?.domains, passes: s?.hypervisor?.sampler?.passes, batches: s?.counters?.statsBatchesSent,
        heldBatches: s?.stats?.retained?.batches, windowPoints: s?.hypervisor?.retained?.analytics?.points,
      };
      const cpu = cpuMs(np.pid);
      if (r.passes !== undefined && r.passes > last.passes) r.cpuMsPerPass = (cpu - last.cpu) / (r.passes - last.passes);
      last = { cpu, passes: r.passes ?? last.passes };
      readings.push(r);
      process.stdout.write(`${fmt(r.minute, 2).padStart(6)}  ${fmt(r.rss).padStart(7)}  ${fmt(r.heapUsed).padStart(12)}  ${fmt(r.heapTotal).padStart(13)}  ${String(r.domains ?? "—").padStart(7)}  ${String(r.passes ?? "—").padStart(6)}  ${String(r.batches ?? "—").padStart(7)}  ${fmt(r.cpuMsPerPass, 2).padStart(11)}  ${String(r.heldBatches ?? "—").padStart(12)}  ${String(r.windowPoints ?? "—").padStart(13)}\n`);
    }
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  verdict(readings);
}

/**
 * The verdict. RSS follows V8's old-generation sawtooth (a few MiB between collections) whatever the
 * agent keeps, so "flat" is judged on the band, not on one reading: every reading from minute 10 on
 * within ±5 % of their median, and the trend (least-squares slope) reported beside it.
 */
function verdict(readings: Reading[]): void {
  if (readings.length === 0) return void process.stdout.write("no readings\n");
  const at = (m: number): Reading | undefined => readings.find((r) => r.minute >= m);
  const maxRss = Math.max(...readings.map((r) => r.rss));
  process.stdout.write(`\nRSS MiB at minute 1: ${fmt(at(1)?.rss)}, 10: ${fmt(at(10)?.rss)}, 30: ${fmt(at(30)?.rss)}, 60: ${fmt(at(60)?.rss)}; max ${fmt(maxRss)}\n`);
  const small = maxRss <= MAX_RSS_MIB;
  process.stdout.write(`≤ ${MAX_RSS_MIB} MiB: ${small ? "yes" : "NO"} (max ${fmt(maxRss)} MiB)\n`);
  const after = readings.filter((r) => r.minute >= FLAT_AFTER_MIN);
  if (after.length < 2) return void process.stdout.write(`flat after minute ${FLAT_AFTER_MIN}: not judged (the run ended before it)\n`);
  const rss = after.map((r) => r.rss).sort((a, b) => a - b);
  const median = rss.length % 2 ? rss[(rss.length - 1) / 2] : (rss[rss.length / 2 - 1] + rss[rss.length / 2]) / 2;
  const dev = Math.max(...rss.map((v) => Math.abs(v / median - 1)));
  const n = after.length;
  const mx = after.reduce((a, r) => a + r.minute, 0) / n;
  const my = after.reduce((a, r) => a + r.rss, 0) / n;
  const slope = after.reduce((a, r) => a + (r.minute - mx) * (r.rss - my), 0) / after.reduce((a, r) => a + (r.minute - mx) ** 2, 0);
  const flat = dev <= FLAT_WITHIN;
  const last = after[n - 1];
  process.stdout.write(`minutes ${fmt(after[0].minute, 0)}–${fmt(last.minute, 0)}: RSS ${fmt(rss[0])}–${fmt(rss[rss.length - 1])} MiB, median ${fmt(median)}, trend ${slope * 60 >= 0 ? "+" : ""}${fmt(slope * 60, 2)} MiB/hour\n`);
  process.stdout.write(`flat within ±${FLAT_WITHIN * 100} % of that median: ${flat ? "yes" : "NO"} (largest deviation ${(dev * 100).toFixed(1)} %)\n`);
  process.stdout.write(`verdict: ${flat && small ? "PASS" : "FAIL"}\n`);
}

await main();

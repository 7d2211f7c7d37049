/**
 * The nanoprobe's libvirt collection against its peers on the same real QEMU domains, at 1 s
 * sampling, one after another for the same period with only that collector running:
 *   floor       the binding alone: one virConnectGetAllDomainStats per second (state, cpu-total,
 *               balloon, vcpu, interface, block; NOWAIT) in a minimal Node process — what any Node
 *               agent on our binding pays at least
 *   nanoprobe   the real agent (nanoprobe/dist/src/cli.js run, qemu:///system, its defaults: rates,
 *               compaction, analytics, heartbeats, discovery scripts as shipped) sending its batches
 *               over the channel to a real CMA (cma/dist/src/cli.js run on loopback, own keys and data
 *               dir, no Zabbix, no graph store); samples counted from its own status lines (the
 *               sampler's passes), the window running from one status line to a later one
 *   collectd    collectd-core's virt plugin, Interval 1, ExtraStats "vcpu memory", sent by the
 *               network plugin to a UDP socket of this bench on 127.0.0.1
 *   exporter    prometheus-libvirt-exporter on 127.0.0.1, scraped by this bench once a second
 * For each: agent CPU ms per sample (utime+stime of its own threads), for the nanoprobe also with its
 * reaped children (the discovery scripts: cutime+cstime), libvirtd CPU ms per sample (all from
 * /proc/<pid>/stat), agent RSS every --rss-every s (window start, 10 min after start when the window
 * reaches it, end, max); libvirtd with no collector is measured first as a baseline.
 *
 *   node bench/dist/libvirt-peers.bench.js [--vms 30] [--seconds 60] [--warmup 5] [--rounds 1]
 *     [--collectors floor,nanoprobe,collectd,exporter] [--rss-every 10] [--use-running] [--keep-vms]
 *     [--cpu-prof DIR] [--baseline-root DIR] [--variant LABEL:NAME=VALUE,...]
 *
 * Root only. Makes the domains with scripts/libvirt-up.sh start N (prefix rwt-vm) and installs the
 * peers with scripts/libvirt-peers.sh; at the end stops every process it started and, unless
 * --keep-vms, runs scripts/libvirt-up.sh stop. --use-running: leave libvirtd and the domains alone
 * (no start, no stop); exactly N domains must be running. With --rounds R every figure is the median
 * of R runs. --cpu-prof DIR: the nanoprobe runs under node --cpu-prof (profiles written to DIR when it
 * stops). --baseline-root DIR: adds a "baseline" row, the nanoprobe of another checkout (DIR holds
 * its built nanoprobe/dist), measured the same way: before/after in one run. --variant: a row of this
 * checkout's nanoprobe with extra environment settings (an option's cost in the same run).
 */
import { unusedTcpPort } from "@ringwatch/shared/testing";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { get } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DEFAULT_STATS_GROUPS, LibvirtConnection, STATS_NOWAIT } from "@ringwatch/libvirt";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const LIBVIRT_UP = join(REPO, "scripts/libvirt-up.sh");
const PEERS_SH = join(REPO, "scripts/libvirt-peers.sh");
const CMA_CLI = join(REPO, "cma/dist/src/cli.js");
const URI = "qemu:///system";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- agent mode (the child process)
/** The floor: one bulk call per second and nothing else; a line per sample so the bench can count them. */
async function agent(): Promise<void> {
  const conn = await LibvirtConnection.open(URI, { readOnly: true });
  let n = 0;
  const tick = async (): Promise<void> => {
    const recs = await conn.bulkStats(DEFAULT_STATS_GROUPS, STATS_NOWAIT);
    const full = recs.filter((r) => "vcpu.0.time" in r.params && "balloon.current" in r.params && "block.0.rd.reqs" in r.params && "net.0.rx.bytes" in r.params).length;
    process.stdout.write(`sample ${++n} domains ${recs.length} complete ${full}\n`);
  };
  const timer = setInterval(() => void tick().catch((e: Error) => process.stderr.write(`${e.message}\n`)), 1000);
  process.stdout.write("ready\n");
  process.on("SIGTERM", () => {
    clearInterval(timer);
    void conn.close().finally(() => process.exit(0));
  });
}

// ---------------------------------------------------------------- measurement helpers
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** CPU of a process in ms: utime + stime (all threads), and with cutime + cstime (its reaped children). */
function cpuMs(pid: number): { self: number; withChildren: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  const self = ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  return { self, withChildren: self + ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

function libvirtdPid(): number {
  const pid = Number(readFileSync("/run/libvirtd.pid", "utf8").trim());
  if (!readlinkSync(`/proc/${pid}/exe`).endsWith("/libvirtd")) throw new Error(`/run/libvirtd.pid (${pid}) is not libvirtd`);
  return pid;
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
  });
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

function startChild(cmd: string, args: string[], env?: Record<string, string>): ChildProcess {
  const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ? { ...process.env, ...env } : undefined });
  children.add(c);
  c.on("exit", () => children.delete(c));
  return c;
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once("exit", () => r()));
  c.kill("SIGTERM");
  const t = setTimeout(() => c.kill("SIGKILL"), 10_000); // a profiled nanoprobe writes its profile on the way out
  await exited;
  clearTimeout(t);
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** One reading: samples so far (null: not countable, the period divided by the interval is used) and CPU, at one moment. */
interface Mark {
  at: number;
  samples: number | null;
  agent: { self: number; withChildren: number };
  libvirtd: number;
}

function markNow(pid: number, samples: number | null): Mark {
  return { at: Date.now(), samples, agent: cpuMs(pid), libvirtd: cpuMs(libvirtdPid()).self };
}

/** A reading at `notBefore`, for collectors whose samples can be counted at any moment. */
async function markAt(notBefore: number, pid: number, samples: () => number | null): Promise<Mark> {
  await sleep(Math.max(0, notBefore - Date.now()));
  return markNow(pid, samples());
}

// ---------------------------------------------------------------- peers
interface Running {
  pid: number;
  /** a reading at or after `notBefore` (ms since epoch); collectors whose samples are known only at moments wait for one */
  mark(notBefore: number): Promise<Mark>;
  /** readings only at moments of its own (status lines): a window may end up to 1 s early rather than one interval late */
  atMoments?: boolean;
  /** what the collector produced, for the table; throws if it collected too little */
  check(vms: number): Promise<string>;
  stop(): Promise<void>;
}

interface Peer {
  name: string;
  key: string;
  start(vms: number, dir: string): Promise<Running>;
}

const floor: Peer = {
  name: "floor (binding only)",
  key: "floor",
  async start() {
    const c = startChild(process.execPath, [fileURLToPath(import.meta.url), "--agent"]);
    let n = 0;
    let last = "";
    let err = "";
    createInterface({ input: c.stdout! }).on("line", (l) => {
      if (!l.startsWith("sample ")) return;
      n++;
      last = l;
    });
    c.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    await until(() => n > 0 || c.exitCode !== null, 15_000, `floor agent's first sample (stderr: ${err})`);
    if (c.exitCode !== null) throw new Error(`floor agent exited: ${err}`);
    return {
      pid: c.pid!,
      mark: (notBefore) => markAt(notBefore, c.pid!, () => n),
      async check(want) {
        const m = /domains (\d+) complete (\d+)/.exec(last);
        if (!m || Number(m[2]) < want) throw new Error(`floor: last sample "${last}" lacks the full groups for ${want} domains; stderr: ${err}`);
        return `${m[1]} domains, all 6 groups`;
      },
      stop: () => stopChild(c),
    };
  },
};

interface NanoprobeStatus {
  counters?: { statsBatchesSent?: number; statsBatchesUnacknowledged?: number };
  hypervisor?: { connected?: boolean; domains?: number; sampler?: { passes?: number; skippedPasses?: number; failedPasses?: number } } | null;
}

/** The real nanoprobe (the CLI of `root`) and a real CMA it sends its batches to. */
function realNanoprobe(name: string, key: string, root: string, cpuProfDir: string | undefined, extraEnv: Record<string, string> = {}): Peer {
  return {
    name,
    key,
    async start(vms, dir) {
      const keys = join(dir, `${key}-keys`);
      execFileSync(process.execPath, [CMA_CLI, "keygen", "--dir", keys], { stdio: ["ignore", "ignore", "inherit"] });
      const port = 20_000 + 2 * Math.floor(Math.random() * 10_000); // UDP, the CMA's (the nanoprobe's: + 1); another run (a soak) may use the usual ones
      const httpPort = await unusedTcpPort();
      const common = { RINGWATCH_CLUSTER: `bench-${process.pid}`, RINGWATCH_CLUSTER_KEY_FILE: join(keys, "cluster.key"), RINGWATCH_MULTICAST_GROUP: "" };
      const cma = startChild(process.execPath, [CMA_CLI, "run"], {
        ...common, RINGWATCH_PORT: String(port), RINGWATCH_COMMAND_KEY_FILE: join(keys, "cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1",
        RINGWATCH_DATA_DIR: join(dir, `${key}-cma-state`), RINGWATCH_HTTP_LISTEN: `127.0.0.1:${httpPort}`, RINGWATCH_GRAPH_STORE: "none",
      });
      let cmaOut = "";
      cma.stdout!.on("data", (d: Buffer) => (cmaOut = (cmaOut + d.toString()).slice(-4000)));
      cma.stderr!.on("data", (d: Buffer) => (cmaOut = (cmaOut + d.toString()).slice(-4000)));
      const api = `http://127.0.0.1:${httpPort}/api`;
      const first = Date.now();
      for (;;) {
        if (cma.exitCode !== null) throw new Error(`CMA exited: ${cmaOut}`);
        if (Date.now() - first > 30_000) throw new Error(`CMA: no answer on ${api}/status: ${cmaOut}`);
        if (await httpGet(`${api}/status`).then((r) => r.status === 200, () => false)) break;
        await sleep(200);
      }
      // its defaults, except what it needs to reach the CMA (and a name and address no other run uses)
      const identity = `bench-hv-${process.pid}`;
      const prof = cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", cpuProfDir] : [];
      const np = startChild(process.execPath, [...prof, join(root, "nanoprobe/dist/src/cli.js"), "run"], {
        ...common, RINGWATCH_IDENTITY: identity, RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port + 1), RINGWATCH_CMA: `127.0.0.1:${port}`,
        RINGWATCH_CMA_PUBLIC_KEY_FILE: join(keys, "cma-command.pub"), RINGWATCH_LIBVIRT_URI: URI, ...extraEnv,
      });
      const marks: (Mark & { status: NanoprobeStatus })[] = [];
      let npErr = "";
      let lastStatus: NanoprobeStatus = {};
      let started = false;
      createInterface({ input: np.stdout! }).on("line", (text) => {
        let l: { msg?: string } & NanoprobeStatus;
        try {
          l = JSON.parse(text) as typeof l;
        } catch {
          return;
        }
        if (l.msg === "nanoprobe started") started = true;
        if (l.msg !== "status") return;
        // read the CPU as the line arrives: the passes it reports and the CPU belong to the same moment
        lastStatus = l;
        marks.push({ ...markNow(np.pid!, l.hypervisor?.sampler?.passes ?? 0), status: l });
      });
      np.stderr!.on("data", (d: Buffer) => (npErr = (npErr + d.toString()).slice(-4000)));
      await until(() => started || np.exitCode !== null, 30_000, `${name}: "nanoprobe started" (stderr: ${npErr})`);
      if (np.exitCode !== null) throw new Error(`${name} exited: ${npErr}`);
      return {
        pid: np.pid!,
        atMoments: true,
        async mark(notBefore) {
          // status lines come every statusIntervalMs (60 s by default): wait for one at or after notBefore
          await until(() => marks.some((m) => m.at >= notBefore) || np.exitCode !== null, 180_000, `${name}: a status line`);
          if (np.exitCode !== null) throw new Error(`${name} exited: ${npErr}`);
          return marks.find((m) => m.at >= notBefore)!;
        },
        async check(want) {
          const h = lastStatus.hypervisor;
          if (!h?.connected || (h.domains ?? 0) < want) throw new Error(`${name}: status says ${JSON.stringify(h)}, want ${want} domains; stderr: ${npErr}`);
          const st = (await httpGet(`${api}/stats`)).body;
          const host = (JSON.parse(st) as { hosts: { host: string; series: number; domains: number }[] }).hosts.find((x) => x.host === identity);
          if (!host || host.domains < want) throw new Error(`${name}: the CMA's latest batch from ${identity}: ${JSON.stringify(host)}, want ${want} domains`);
          const cmaStatus = JSON.parse((await httpGet(`${api}/status`)).body) as { stats?: { batches?: number } };
          const s = h.sampler ?? {};
          return `${h.domains} domains, ${s.skippedPasses ?? 0} skipped / ${s.failedPasses ?? 0} failed passes; CMA received ${cmaStatus.stats?.batches ?? "?"} batches, the last ${host.series} series`;
        },
        async stop() {
          await stopChild(np);
          await stopChild(cma);
        },
      };
    },
  };
}

const collectd: Peer = {
  name: "collectd 5.12 virt",
  key: "collectd",
  async start(vms, dir) {
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    const port = sock.address().port;
    const conf = join(dir, "collectd.conf");
    execFileSync("bash", [PEERS_SH, "collectd-conf", conf, String(port)], { stdio: ["ignore", "ignore", "inherit"] });
    let packets = 0;
    let vcpu = false;
    let balloon = false;
    // the binary protocol carries type names as plain strings: enough to see what was collected
    sock.on("message", (b) => {
      packets++;
      vcpu ||= b.includes("virt_vcpu");
      balloon ||= b.includes("actual_balloon");
    });
    const c = startChild("collectd", ["-f", "-C", conf]);
    let out = "";
    c.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    await until(() => packets > 0 || c.exitCode !== null, 20_000, `collectd's first packet (output: ${out})`);
    if (c.exitCode !== null) throw new Error(`collectd exited: ${out}`);
    return {
      pid: c.pid!,
      mark: (notBefore) => markAt(notBefore, c.pid!, () => null),
      async check() {
        if (!vcpu || !balloon) throw new Error(`collectd: per-vCPU ${vcpu}, balloon ${balloon}; output: ${out}`);
        return `${packets} UDP packets, per-vCPU + balloon seen`;
      },
      async stop() {
        await stopChild(c);
        sock.close();
      },
    };
  },
};

const exporter: Peer = {
  name: "prometheus-libvirt-exporter 0.2.0",
  key: "exporter",
  async start() {
    const port = await unusedTcpPort();
    const c = startChild("prometheus-libvirt-exporter", [`--web.listen-address=127.0.0.1:${port}`, `--libvirt.uri=${URI}`]);
    let out = "";
    c.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const url = `http://127.0.0.1:${port}/metrics`;
    let ok = 0;
    let failed = 0;
    let body = "";
    let inFlight = false;
    const scrape = async (): Promise<void> => {
      if (inFlight) return; // never two at once: a slow scrape delays the next instead
      inFlight = true;
      try {
        const r = await httpGet(url);
        if (r.status !== 200) failed++;
        else {
          ok++;
          body = r.body;
        }
      } catch {
        failed++;
      } finally {
        inFlight = false;
      }
    };
    const first = Date.now();
    while (ok === 0) {
      if (c.exitCode !== null) throw new Error(`exporter exited: ${out}`);
      if (Date.now() - first > 15_000) throw new Error(`exporter: no answer on ${url}: ${out}`);
      await scrape();
      if (ok === 0) await sleep(200);
    }
    failed = 0; // refusals before it listened do not count
    const timer = setInterval(() => void scrape(), 1000);
    return {
      pid: c.pid!,
      mark: (notBefore) => markAt(notBefore, c.pid!, () => ok),
      async check(vms) {
        const domains = new Set([...body.matchAll(/^libvirt_domain_info_cpu_time_seconds_total\{domain="([^"]+)"/gm)].map((m) => m[1]));
        const series = body.split("\n").filter((l) => l.startsWith("libvirt_")).length;
        if (domains.size < vms) throw new Error(`exporter: ${domains.size} domains in the last scrape, want ${vms}`);
        return `${domains.size} domains, ${series} series, ${failed} failed scrapes`;
      },
      async stop() {
        clearInterval(timer);
        await stopChild(c);
      },
    };
  },
};

// ---------------------------------------------------------------- run
interface Rss {
  /** at the window's start, 10 min after the collector started (NaN: the window ended sooner), at its end; max over the window */
  start: number;
  at10min: number;
  end: number;
  max: number;
}
interface Result { samples: number; agentMs: number; withChildrenMs: number; libvirtdMs: number; rss: Rss; note: string }

async function measure(peer: Peer, vms: number, seconds: number, warmup: number, rssEvery: number, dir: string): Promise<Result> {
  const r = await peer.start(vms, dir);
  const startedAt = Date.now();
  const rssLog: { at: number; mib: number }[] = [];
  const rssTimer = setInterval(() => rssLog.push({ at: Date.now(), mib: rssMiB(r.pid) }), rssEvery * 1000);
  try {
    const m0 = await r.mark(Date.now() + warmup * 1000);
    rssLog.push({ at: Date.now(), mib: rssMiB(r.pid) });
    const windowStart = rssLog.length - 1;
    const m1 = await r.mark(m0.at + seconds * 1000 - (r.atMoments ? 1000 : 0));
    rssLog.push({ at: Date.now(), mib: rssMiB(r.pid) });
    const elapsed = (m1.at - m0.at) / 1000;
    const samples = m0.samples === null || m1.samples === null ? Math.round(elapsed) : m1.samples - m0.samples;
    const inWindow = rssLog.slice(windowStart);
    const tenMin = rssLog.find((x) => x.at >= startedAt + 600_000);
    const rss: Rss = { start: inWindow[0].mib, at10min: tenMin && tenMin.at <= m1.at + 1000 ? tenMin.mib : NaN, end: inWindow.at(-1)!.mib, max: Math.max(...inWindow.map((x) => x.mib)) };
    const result: Result = {
      samples,
      agentMs: (m1.agent.self - m0.agent.self) / samples,
      withChildrenMs: (m1.agent.withChildren - m0.agent.withChildren) / samples,
      libvirtdMs: (m1.libvirtd - m0.libvirtd) / samples,
      rss,
      note: await r.check(vms),
    };
    process.stderr.write(`  ${peer.name}: ${samples} samples in ${elapsed.toFixed(1)} s, agent ${result.agentMs.toFixed(2)} ms (with children ${result.withChildrenMs.toFixed(2)}), ` +
      `libvirtd ${result.libvirtdMs.toFixed(1)} ms per sample, RSS ${fmtRss(rss)} MiB; ${result.note}\n`);
    return result;
  } finally {
    clearInterval(rssTimer);
    await r.stop();
  }
}

const fmtRss = (r: Rss): string => `${r.start.toFixed(1)} → ${Number.isNaN(r.at10min) ? "" : `${r.at10min.toFixed(1)} (10 min) → `}${r.end.toFixed(1)} (max ${r.max.toFixed(1)})`;

async function idle(seconds: number): Promise<number> {
  const lv = libvirtdPid();
  const l0 = cpuMs(lv).self;
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const perSec = (cpuMs(lv).self - l0) / ((Date.now() - t0) / 1000);
  process.stderr.write(`  libvirtd idle: ${perSec.toFixed(2)} ms CPU per second\n`);
  return perSec;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * --variant "LABEL:NAME=VALUE,NAME=VALUE" (repeatable): one more row, this checkout's nanoprobe with
 * those environment settings (e.g. RINGWATCH_V8_OPTIMIZE_FOR_SIZE=false): an option's cost in one run.
 */
function variant(text: string): { label: string; env: Record<string, string> } {
  const m = /^([^:]+):((?:[A-Z_][A-Z0-9_]*=[^,]*)(?:,[A-Z_][A-Z0-9_]*=[^,]*)*)$/.exec(text);
  if (!m) throw new Error(`--variant needs LABEL:NAME=VALUE[,NAME=VALUE] (got ${text})`);
  return { label: m[1], env: Object.fromEntries(m[2].split(",").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])) };
}

/** Running domains (all of them: the count the label claims). */
function runningDomains(): number {
  return execFileSync("virsh", ["-q", "-c", URI, "list", "--name"], { encoding: "utf8" }).split("\n").filter((l) => l.trim()).length;
}

/**
 * The command line, read once: an unknown flag, a stray word or a flag without its value is refused
 * before a run starts; --help prints the usage in this file's header.
 */
function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      vms: { type: "string" }, seconds: { type: "string" }, warmup: { type: "string" }, rounds: { type: "string" }, "rss-every": { type: "string" },
      collectors: { type: "string" }, "cpu-prof": { type: "string" }, "baseline-root": { type: "string" }, variant: { type: "string", multiple: true },
      "keep-vms": { type: "boolean" }, "use-running": { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    const head = readFileSync(new URL(import.meta.url), "utf8").split("*/")[0];
    process.stdout.write(`${head.replace(/^\/\*\*\n/, "").replace(/^ \* ?/gm, "")}\n`);
    process.exit(0);
  }
  const positive = (name: "vms" | "seconds" | "warmup" | "rounds" | "rss-every", def: number): number => {
    if (values[name] === undefined) return def;
    const v = Number(values[name]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
    return v;
  };
  return {
    vms: positive("vms", 30), seconds: positive("seconds", 60), warmup: positive("warmup", 5), rounds: positive("rounds", 1), rssEvery: positive("rss-every", 10),
    keep: values["keep-vms"] ?? false, useRunning: values["use-running"] ?? false, collectors: values.collectors,
    cpuProf: values["cpu-prof"], baselineRoot: values["baseline-root"], variants: (values.variant ?? []).map(variant),
  };
}

async function main(): Promise<void> {
  const { vms, seconds, warmup, rounds, rssEvery, keep, useRunning, collectors, cpuProf, baselineRoot, variants } = options(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error("libvirt-peers.bench must run as root (it starts libvirtd and QEMU)");
  const all = [floor, realNanoprobe("nanoprobe (real agent + CMA)", "nanoprobe", REPO, cpuProf), collectd, exporter];
  if (baselineRoot) all.splice(2, 0, realNanoprobe(`nanoprobe baseline (${baselineRoot})`, "baseline", baselineRoot, undefined));
  variants.forEach((v, i) => all.splice(2, 0, realNanoprobe(`nanoprobe ${v.label}`, `variant${i + 1}`, REPO, undefined, v.env)));
  const wanted = (collectors ?? all.map((p) => p.key).join(",")).split(",");
  for (const w of wanted) if (!all.some((p) => p.key === w)) throw new Error(`--collectors: unknown ${w} (known: ${all.map((p) => p.key).join(", ")})`);
  const peers = all.filter((p) => wanted.includes(p.key));
  const dir = mkdtempSync(join(tmpdir(), "rw-peers-"));
  let stopVms = false;
  const cleanup = (): void => {
    for (const c of children) c.kill("SIGKILL");
    if (stopVms && !keep) spawnSync("bash", [LIBVIRT_UP, "stop"], { stdio: "inherit" });
    stopVms = false;
    rmSync(dir, { recursive: true, force: true });
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => (cleanup(), process.exit(130)));
  try {
    if (useRunning) {
      const n = runningDomains();
      if (n !== vms) throw new Error(`--use-running: ${n} domains are running, not ${vms}`);
      process.stderr.write(`[bench] ${vms} running domains, left as they are\n`);
    } else {
      process.stderr.write(`[bench] ${vms} domains (scripts/libvirt-up.sh start ${vms})\n`);
      stopVms = true;
      execFileSync("bash", [LIBVIRT_UP, "start", String(vms)], { stdio: ["ignore", "ignore", "inherit"] });
    }
    if (peers.some((p) => p === collectd || p === exporter)) execFileSync("bash", [PEERS_SH, "install"], { stdio: ["ignore", "ignore", "inherit"] });
    const runs = new Map<Peer, Result[]>(peers.map((p) => [p, []]));
    const idles: number[] = [];
    const load0 = loadavg();
    for (let round = 1; round <= rounds; round++) {
      process.stderr.write(`[bench] round ${round}/${rounds}: ${seconds} s per collector after ${warmup} s warm-up\n`);
      idles.push(await idle(Math.min(seconds, 30)));
      for (const p of peers) {
        await sleep(2000); // let libvirtd settle after the previous collector's connection closed
        runs.get(p)!.push(await measure(p, vms, seconds, warmup, rssEvery, dir));
      }
    }
    const load1 = loadavg();
    const lines = [
      `libvirt-peers: ${vms} QEMU/TCG domains, 1 s sampling, ${seconds} s per collector${rounds > 1 ? `, median of ${rounds} rounds` : ""}; ` +
        `libvirtd idle ${median(idles).toFixed(2)} ms CPU/s (not subtracted below); ${new Date().toISOString()}, load average ${load0.map((x) => x.toFixed(2)).join(" ")} → ${load1.map((x) => x.toFixed(2)).join(" ")}`,
      "",
      "| collector | samples | agent CPU ms/sample | with children | libvirtd CPU ms/sample | agent RSS MiB (window start → end, max) | collected |",
      "|---|---:|---:|---:|---:|---|---|",
    ];
    for (const p of peers) {
      const rs = runs.get(p)!;
      const m = (f: (r: Result) => number): string => median(rs.map(f)).toFixed(1);
      const last = rs.at(-1)!;
      const children = p.key === "nanoprobe" || p.key === "baseline" ? m((r) => r.withChildrenMs) : "—";
      lines.push(`| ${p.name} | ${median(rs.map((r) => r.samples))} | ${m((r) => r.agentMs)} | ${children} | ${m((r) => r.libvirtdMs)} | ${fmtRss(last.rss)} | ${last.note} |`);
    }
    if (rounds > 1) lines.push("", "per round (agent ms/sample): " + peers.map((p) => `${p.key} ${runs.get(p)!.map((r) => r.agentMs.toFixed(1)).join("/")}`).join("; "));
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    cleanup();
  }
}

if (process.argv.includes("--agent")) {
  void agent().catch((e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e: Error) => {
      process.stderr.write(`libvirt-peers.bench: ${e.message}\n`);
      process.exit(1);
    },
  );
}

/**
 * The nanoprobe's libvirt collection against its peers on the same real QEMU domains, at 1 s
 * sampling, one after another for the same period with only that collector running:
 *   nanoprobe   our binding, one virConnectGetAllDomainStats per sample (state, cpu-total, balloon,
 *               vcpu, interface, block; NOWAIT) in a small Node process
 *   collectd    collectd-core's virt plugin, Interval 1, ExtraStats "vcpu memory", sent by the
 *               network plugin to a UDP socket of this bench on 127.0.0.1
 *   exporter    prometheus-libvirt-exporter on 127.0.0.1, scraped by this bench once a second
 * For each: agent CPU ms per sample and libvirtd CPU ms per sample (utime+stime deltas from
 * /proc/<pid>/stat), agent RSS at the end; libvirtd with no collector is measured first as a baseline.
 *
 *   node bench/dist/libvirt-peers.bench.js [--vms 30] [--seconds 60] [--warmup 5] [--rounds 1] [--keep-vms]
 *
 * Root only. Makes the domains with scripts/libvirt-up.sh start N (prefix rwt-vm) and installs the
 * peers with scripts/libvirt-peers.sh; at the end stops every process it started and, unless
 * --keep-vms, runs scripts/libvirt-up.sh stop. With --rounds R every figure is the median of R runs.
 */
import { unusedTcpPort } from "@ringwatch/shared/testing";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DEFAULT_STATS_GROUPS, LibvirtConnection, STATS_NOWAIT } from "@ringwatch/libvirt";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const LIBVIRT_UP = join(REPO, "scripts/libvirt-up.sh");
const PEERS_SH = join(REPO, "scripts/libvirt-peers.sh");
const URI = "qemu:///system";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- agent mode (the child process)
/** The nanoprobe side: one bulk call per second; a line per sample so the bench can count them. */
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

/** utime + stime of a process (all threads), in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
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

function startChild(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(c);
  c.on("exit", () => children.delete(c));
  return c;
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once("exit", () => r()));
  c.kill("SIGTERM");
  const t = setTimeout(() => c.kill("SIGKILL"), 5000);
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

// ---------------------------------------------------------------- peers
interface Running {
  pid: number;
  /** samples taken so far (null: not countable, the period divided by the interval is used) */
  samples(): number | null;
  /** what the collector produced, for the table; throws if it collected too little */
  check(vms: number): string;
  stop(): Promise<void>;
}

interface Peer {
  name: string;
  start(vms: number, dir: string): Promise<Running>;
}

const nanoprobe: Peer = {
  name: "nanoprobe (addon, bulk)",
  async start(vms) {
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
    await until(() => n > 0 || c.exitCode !== null, 15_000, `nanoprobe agent's first sample (stderr: ${err})`);
    if (c.exitCode !== null) throw new Error(`nanoprobe agent exited: ${err}`);
    return {
      pid: c.pid!,
      samples: () => n,
      check(want) {
        const m = /domains (\d+) complete (\d+)/.exec(last);
        if (!m || Number(m[2]) < want) throw new Error(`nanoprobe: last sample "${last}" lacks the full groups for ${want} domains; stderr: ${err}`);
        return `${m[1]} domains, all 6 groups`;
      },
      stop: () => stopChild(c),
    };
  },
};

const collectd: Peer = {
  name: "collectd 5.12 virt",
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
      samples: () => null,
      check() {
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
      samples: () => ok,
      check(vms) {
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
interface Result { samples: number; agentMs: number; libvirtdMs: number; rss: number; note: string }

async function measure(peer: Peer, vms: number, seconds: number, warmup: number, dir: string): Promise<Result> {
  const r = await peer.start(vms, dir);
  try {
    await sleep(warmup * 1000);
    const lv = libvirtdPid();
    const s0 = r.samples();
    const a0 = cpuMs(r.pid);
    const l0 = cpuMs(lv);
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const a1 = cpuMs(r.pid);
    const l1 = cpuMs(lv);
    const elapsed = (Date.now() - t0) / 1000;
    const s1 = r.samples();
    const samples = s0 === null || s1 === null ? Math.round(elapsed) : s1 - s0;
    const result = { samples, agentMs: (a1 - a0) / samples, libvirtdMs: (l1 - l0) / samples, rss: rssMiB(r.pid), note: r.check(vms) };
    process.stderr.write(`  ${peer.name}: ${samples} samples, agent ${result.agentMs.toFixed(1)} ms, libvirtd ${result.libvirtdMs.toFixed(1)} ms per sample, ${result.rss.toFixed(1)} MiB\n`);
    return result;
  } finally {
    await r.stop();
  }
}

async function idle(seconds: number): Promise<number> {
  const lv = libvirtdPid();
  const l0 = cpuMs(lv);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const perSec = (cpuMs(lv) - l0) / ((Date.now() - t0) / 1000);
  process.stderr.write(`  libvirtd idle: ${perSec.toFixed(2)} ms CPU per second\n`);
  return perSec;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} needs a positive integer`);
  return v;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("libvirt-peers.bench must run as root (it starts libvirtd and QEMU)");
  const vms = arg("--vms", 30);
  const seconds = arg("--seconds", 60);
  const warmup = arg("--warmup", 5);
  const rounds = arg("--rounds", 1);
  const keep = process.argv.includes("--keep-vms");
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
    process.stderr.write(`[bench] ${vms} domains (scripts/libvirt-up.sh start ${vms})\n`);
    stopVms = true;
    execFileSync("bash", [LIBVIRT_UP, "start", String(vms)], { stdio: ["ignore", "ignore", "inherit"] });
    execFileSync("bash", [PEERS_SH, "install"], { stdio: ["ignore", "ignore", "inherit"] });
    const peers = [nanoprobe, collectd, exporter];
    const runs = new Map<Peer, Result[]>(peers.map((p) => [p, []]));
    const idles: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      process.stderr.write(`[bench] round ${round}/${rounds}: ${seconds} s per collector after ${warmup} s warm-up\n`);
      idles.push(await idle(seconds));
      for (const p of peers) {
        await sleep(2000); // let libvirtd settle after the previous collector's connection closed
        runs.get(p)!.push(await measure(p, vms, seconds, warmup, dir));
      }
    }
    const lines = [
      `libvirt-peers: ${vms} QEMU/TCG domains, 1 s sampling, ${seconds} s per collector${rounds > 1 ? `, median of ${rounds} rounds` : ""}; ` +
        `libvirtd idle ${median(idles).toFixed(2)} ms CPU/s (not subtracted below)`,
      "",
      "| collector | samples | agent CPU ms/sample | libvirtd CPU ms/sample | agent RSS MiB | collected |",
      "|---|---:|---:|---:|---:|---|",
    ];
    for (const p of peers) {
      const rs = runs.get(p)!;
      lines.push(`| ${p.name} | ${median(rs.map((r) => r.samples))} | ${median(rs.map((r) => r.agentMs)).toFixed(1)} | ` +
        `${median(rs.map((r) => r.libvirtdMs)).toFixed(1)} | ${median(rs.map((r) => r.rss)).toFixed(1)} | ${rs.at(-1)!.note} |`);
    }
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

/**
 * What the shipped discovery scripts cost per run, as the nanoprobe's runner counts it (its CPU
 * accounting: user + system of the script and its reaped descendants, from the bash wrapper's
 * `times`) beside an independent count: this process's cutime + cstime (/proc/self/stat) around the
 * runs — the same children reaped by Node, in 10 ms ticks, the wrapper's own bash included, so it is
 * compared as a mean over the runs. Runs are one at a time (concurrency 1), nothing else runs here.
 *
 *   1. the wrapper's own cost: /bin/true run through the runner with and without it
 *   2. each shipped script on this host as it is (idle), median of --runs runs
 *   3. tcp-services with --connections loopback TCP connections (default 100,000): a network
 *      namespace of its own, children of this bench each listening on 4 ports and connecting to
 *      them (two sockets per connection; ≤ 8,000 connections a child, as the open-files limit
 *      here is 20,000 and cannot be raised without CAP_SYS_RESOURCE), the script run inside it
 *   4. libvirt-domains with --neighbours neighbour entries (default 10,000): a namespace with a veth
 *      pair and permanent entries made by `ip -batch`, the script run inside it against --uri
 *      (default qemu:///system, read only), before and after the entries are added
 *   5. guest-flows (its default 10 s window and rate cap) while one guest opens --flow-rates new
 *      connections a second (default 0,1000,5000) to another's service: a namespace standing for
 *      the hypervisor with a bridge, two namespaces standing for guests behind it (veths as taps),
 *      guests named in a libvirt test-driver node by their MACs; the connection rate reached is
 *      counted by the client and printed
 * The namespaces and the load process are removed at the end (and on failure).
 *
 *   node bench/dist/discovery.bench.js [--runs 7] [--heavy-runs 3] [--connections 100000]
 *        [--neighbours 10000] [--uri qemu:///system] [--flow-rates 0,1000,5000] [--skip-heavy] [--only-flows]
 * Root only for 3 and 4. Load average is printed beside each section: the host is shared.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_SCRIPT_INTERVALS_MS, DiscoveryRunner, type DiscoveryOutcome, type DiscoveryScript } from "@ringwatch/nanoprobe";

const BIN = fileURLToPath(new URL("../../discovery-scripts/bin/", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

// ---------------------------------------------------------------- load mode (a child in the namespace)
/** Listens on 4 ports of 127.0.0.1 and opens `count` connections to them; "ready N" when done; idles until killed. */
async function tcpLoad(count: number): Promise<void> {
  const keep: net.Socket[] = [];
  const servers = await Promise.all([0, 1, 2, 3].map(() => new Promise<net.Server>((resolve) => {
    const s = net.createServer((c) => { c.on("error", () => undefined); keep.push(c); });
    s.listen(0, "127.0.0.1", 4096, () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  for (let done = 0; done < count;) {
    const batch = Math.min(1000, count - done); // keeps the accept backlogs from overflowing
    await Promise.all(Array.from({ length: batch }, (_, i) => new Promise<void>((resolve, reject) => {
      const c = net.connect(ports[(done + i) % ports.length], "127.0.0.1", () => resolve());
      c.on("error", reject);
      keep.push(c);
    })));
    done += batch;
  }
  process.stdout.write(`ready ${count}\n`);
  await new Promise(() => undefined); // holds the connections until killed
}

/** Listens on ip:port, closes what it accepts; "ready" when listening. */
function connServe(ipAddress: string, port: number): void {
  net.createServer((c) => { c.on("error", () => undefined); c.end(); }).listen(port, ipAddress, 4096, () => process.stdout.write("ready\n"));
}

/** Opens `rate` new connections a second to ip:port (each closed once up), in 10 ms slices; prints the rate reached each 5 s. */
function connLoad(ipAddress: string, port: number, rate: number): void {
  let made = 0, failed = 0, open = 0, since = performance.now(), owed = 0;
  process.stdout.write("ready\n");
  setInterval(() => {
    owed += rate / 100;
    for (; owed >= 1 && open < 2000; owed--) {
      open++;
      const c = net.connect(port, ipAddress, () => { made++; c.destroy(); });
      c.on("error", () => { failed++; });
      c.on("close", () => { open--; });
    }
    owed = Math.min(owed, rate); // never more than a second's worth behind
  }, 10);
  setInterval(() => {
    const s = (performance.now() - since) / 1000;
    process.stderr.write(`conn-load: ${(made / s).toFixed(0)} connections/s (${failed} failed)\n`);
    made = failed = 0;
    since = performance.now();
  }, 5000);
}

// ---------------------------------------------------------------- measurement
/** cutime + cstime of this process: its reaped children (the wrappers and everything below), ms. */
function childrenCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK; // fields 16, 17
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(" ");
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "-");

interface Row { name: string; runs: number; ok: number; userMedian: number; systemMedian: number; cpuMedian: number; cpuMean: number; cpuUnknown: number; procMean: number; wallMedian: number; load: string }

/** `runs` runs of one script, one after another, each measured both ways. */
async function measure(runner: DiscoveryRunner, name: string, label: string, runs: number): Promise<Row> {
  const cpu: number[] = [], user: number[] = [], system: number[] = [], wall: number[] = [];
  let ok = 0, unknown = 0;
  const before = childrenCpuMs();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const o: DiscoveryOutcome = await runner.runNow(name);
    wall.push(performance.now() - t0);
    if (o.status === "document") ok++;
    else if (o.status === "error") process.stderr.write(`${label}: ${o.error.kind} ${o.error.detail} ${o.error.stderrTail.slice(-200)}\n`);
    if (o.status !== "cancelled" && o.cpu) {
      cpu.push(o.cpu.userMs + o.cpu.systemMs);
      user.push(o.cpu.userMs);
      system.push(o.cpu.systemMs);
    } else unknown++;
  }
  const procMean = (childrenCpuMs() - before) / runs;
  return { name: label, runs, ok, userMedian: median(user), systemMedian: median(system), cpuMedian: median(cpu), cpuMean: cpu.length ? mean(cpu) : NaN, cpuUnknown: unknown, procMean, wallMedian: median(wall), load: load() };
}

function printRows(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log("| script | runs (ok) | CPU ms median (runner) | user / system ms median | CPU ms mean (runner) | CPU ms mean (/proc cutime+cstime, wrapper incl.) | wall ms median | load avg 1/5/15 |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---|");
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.runs} (${r.ok}) | ${f1(r.cpuMedian)} | ${f1(r.userMedian)} / ${f1(r.systemMedian)} | ${f1(r.cpuMean)}${r.cpuUnknown ? ` (${r.cpuUnknown} unknown)` : ""} | ${f1(r.procMean)} | ${f1(r.wallMedian)} | ${r.load} |`);
  }
}

// ---------------------------------------------------------------- namespaces
const NS_STEM = "rwdb";
const namespaces = new Set<string>();
const loadChildren: ChildProcess[] = [];
/** Connections per load process: two descriptors each, under a 20,000 open-files limit. */
const CONNECTIONS_PER_LOAD_PROCESS = 8000;

function ip(...args: string[]): string {
  return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
function makeNamespace(tag: string): string {
  const ns = `${NS_STEM}${process.pid}${tag}`;
  ip("netns", "add", ns);
  namespaces.add(ns);
  ip("-n", ns, "link", "set", "lo", "up");
  return ns;
}
function cleanup(): void {
  for (const c of loadChildren.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  for (const ns of namespaces) {
    for (const pid of spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)) {
      try { process.kill(Number(pid), "SIGKILL"); } catch { /* gone */ }
    }
    spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  }
  namespaces.clear();
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => { cleanup(); process.exit(130); });

function inNamespace(ns: string, name: string, env: Record<string, string> = {}): DiscoveryScript {
  return { name: `${name}@${ns}`, command: "ip", args: ["netns", "exec", ns, join(BIN, name)], env, timeoutMs: 120_000 };
}

// ---------------------------------------------------------------- sections
async function wrapperOverhead(runs: number): Promise<void> {
  const script = [{ name: "true", command: "/bin/true" }];
  const withWrapper = new DiscoveryRunner({ scripts: script });
  const without = new DiscoveryRunner({ scripts: script, accountingShell: null });
  const measureAll = async (r: DiscoveryRunner): Promise<{ proc: number; wall: number; accounted: number }> => {
    const before = childrenCpuMs();
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await r.runNow("true");
    const c = r.stats().true.cpu;
    return { proc: (childrenCpuMs() - before) / runs, wall: (performance.now() - t0) / runs, accounted: c.measuredRuns ? c.totalMs / c.measuredRuns : NaN };
  };
  await measureAll(withWrapper); // warm-up (page cache, JIT)
  const a = await measureAll(without);
  const b = await measureAll(withWrapper);
  console.log(`\nThe accounting wrapper's own cost, /bin/true × ${runs}, load ${load()}:`);
  console.log(`  without wrapper: ${f1(a.proc)} ms CPU, ${f1(a.wall)} ms wall per run (/proc cutime+cstime)`);
  console.log(`  with wrapper:    ${f1(b.proc)} ms CPU, ${f1(b.wall)} ms wall per run (/proc); the runner counted ${b.accounted.toFixed(2)} ms for /bin/true itself`);
  console.log(`  wrapper overhead ≈ ${f1(b.proc - a.proc)} ms CPU and ${f1(b.wall - a.wall)} ms wall per run`);
  await withWrapper.stop();
  await without.stop();
}

async function idleScripts(runs: number, uri: string): Promise<void> {
  const scripts = Object.keys(DEFAULT_SCRIPT_INTERVALS_MS).map((name) => ({ name, command: join(BIN, name), env: { LIBVIRT_URI: uri }, timeoutMs: 60_000 }));
  const runner = new DiscoveryRunner({ scripts, concurrency: 1 });
  const rows: Row[] = [];
  for (const s of scripts) {
    await runner.runNow(s.name); // warm-up: page cache, libvirt connection paths
    rows.push(await measure(runner, s.name, s.name, runs));
  }
  await runner.stop();
  printRows(`Shipped scripts on this host as it is (libvirt ${uri}), ${runs} runs each:`, rows);
}

async function tcpUnderLoad(connections: number, runs: number): Promise<void> {
  const ns = makeNamespace("t");
  // two sockets per connection in one process, plus slack
  execFileSync("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535"]);
  const t0 = performance.now();
  for (let left = connections; left > 0; left -= CONNECTIONS_PER_LOAD_PROCESS) {
    const n = Math.min(left, CONNECTIONS_PER_LOAD_PROCESS);
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, SELF, "--tcp-load", String(n)], { stdio: ["ignore", "pipe", "inherit"] });
    loadChildren.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`tcp load exited (${code})`)));
      createInterface({ input: child.stdout! }).once("line", (l) => (l === `ready ${n}` ? resolve() : reject(new Error(l))));
    });
    child.removeAllListeners("exit");
  }
  console.log(`\n${connections} connections made in ${((performance.now() - t0) / 1000).toFixed(1)} s by ${loadChildren.length} processes (namespace ${ns}), load ${load()}`);
  const runner = new DiscoveryRunner({ scripts: [inNamespace(ns, "tcp-services")], concurrency: 1 });
  let seen = "";
  runner.on("document", (e) => {
    const d = e.document.data as { listeners?: unknown[]; clients?: { count?: number }[] };
    seen = `${d.listeners?.length ?? "?"} listeners, ${(d.clients ?? []).reduce((n, c) => n + (c.count ?? 0), 0)} client connections`;
  });
  const rows = [await measure(runner, `tcp-services@${ns}`, `tcp-services, ${connections} connections`, runs)];
  console.log(`the script's document: ${seen}`);
  await runner.stop();
  for (const c of loadChildren.splice(0)) c.kill("SIGKILL");
  printRows(`tcp-services under load, ${runs} runs:`, rows);
}

async function libvirtNeighbours(neighbours: number, runs: number, uri: string): Promise<void> {
  const ns = makeNamespace("n");
  ip("-n", ns, "link", "add", "rwa", "type", "veth", "peer", "name", "rwb");
  ip("-n", ns, "addr", "add", "10.64.0.1/16", "dev", "rwa");
  ip("-n", ns, "link", "set", "rwa", "up");
  ip("-n", ns, "link", "set", "rwb", "up");
  // permanent entries do not count against gc_thresh (kernel ≥ 4.19), whose sysctls are the host's only
  const runner = new DiscoveryRunner({ scripts: [inNamespace(ns, "libvirt-domains", { LIBVIRT_URI: uri })], concurrency: 1 });
  const name = `libvirt-domains@${ns}`;
  await runner.runNow(name);
  const rows = [await measure(runner, name, "libvirt-domains, no neighbour entries", runs)];
  const lines = Array.from({ length: neighbours }, (_, i) => {
    const a = 2 + i; // 10.64.0.2 onwards
    const mac = `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, "0")}:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
    return `neigh add 10.64.${a >> 8}.${a & 255} lladdr ${mac} dev rwa nud permanent`;
  });
  execFileSync("ip", ["-n", ns, "-batch", "-"], { input: lines.join("\n") + "\n", maxBuffer: 1 << 24 });
  const count = ip("-n", ns, "neigh", "show", "dev", "rwa").split("\n").filter(Boolean).length;
  rows.push(await measure(runner, name, `libvirt-domains, ${count} neighbour entries`, runs));
  await runner.stop();
  printRows(`libvirt-domains (${uri}) in a namespace, ${runs} runs each:`, rows);
}

async function guestFlowsUnderLoad(rates: number[], runs: number): Promise<void> {
  const hv = makeNamespace("h"), a = makeNamespace("a"), b = makeNamespace("b");
  ip("-n", hv, "link", "add", "br0", "type", "bridge");
  ip("-n", hv, "link", "set", "br0", "up");
  const macs = ["52:54:00:88:00:01", "52:54:00:88:00:02"], ips = ["10.79.0.11", "10.79.0.12"];
  [a, b].forEach((g, i) => {
    ip("-n", hv, "link", "add", `vg${i}`, "type", "veth", "peer", "name", "eth0", "address", macs[i], "netns", g);
    ip("-n", hv, "link", "set", `vg${i}`, "master", "br0", "up");
    ip("-n", g, "addr", "add", `${ips[i]}/24`, "dev", "eth0");
    ip("-n", g, "link", "set", "eth0", "up");
  });
  ip("netns", "exec", a, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535");
  ip("netns", "exec", a, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1");
  const dir = execFileSync("mktemp", ["-d"], { encoding: "utf8" }).trim();
  const domains = macs.map((mac, i) => `<domain type='test'><name>g${i}</name><uuid>88000000-0000-4000-8000-00000000000${i + 1}</uuid><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices><interface type='bridge'><mac address='${mac}'/><source bridge='br0'/></interface></devices></domain>`);
  execFileSync("tee", [join(dir, "node.xml")], { input: `<node>${domains.join("")}</node>`, stdio: ["pipe", "ignore", "inherit"] });
  const start = (ns: string, args: string[]): Promise<ChildProcess> => new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, SELF, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    loadChildren.push(child);
    child.once("exit", (code) => reject(new Error(`${args[0]} exited (${code})`)));
    createInterface({ input: child.stdout! }).once("line", () => { child.removeAllListeners("exit"); resolve(child); });
  });
  await start(b, ["--conn-serve", `${ips[1]},8080`]);
  const name = `guest-flows@${hv}`;
  const rows: Row[] = [];
  let seen = "";
  for (const rate of rates) {
    const runner = new DiscoveryRunner({ scripts: [inNamespace(hv, "guest-flows", { LIBVIRT_URI: `test://${join(dir, "node.xml")}`, GUEST_FLOWS_STATE: join(dir, `state-${rate}.json`) })], concurrency: 1 });
    runner.on("document", (e) => {
      const d = e.document.data as { guests: { listeners: unknown[]; clients: unknown[] }[]; capture: Record<string, unknown> };
      const c = d.capture;
      seen = `listeners ${d.guests.map((g) => g.listeners.length).join("/")}, clients ${d.guests.map((g) => g.clients.length).join("/")}; capture: ${c.packets} packets read, ${c.cappedSeconds} capped seconds, ${c.kernelDropped} dropped by the kernel`;
    });
    const load = rate > 0 ? await start(a, ["--conn-load", `${ips[1]},8080,${rate}`]) : undefined;
    await new Promise((r) => setTimeout(r, 2000));
    rows.push(await measure(runner, name, `guest-flows, ${rate} new connections/s`, runs));
    console.log(`  ${rate}/s, last document: ${seen}`);
    load?.kill("SIGKILL");
    await runner.stop();
  }
  for (const c of loadChildren.splice(0)) c.kill("SIGKILL");
  execFileSync("rm", ["-rf", dir]);
  printRows(`guest-flows (window ${process.env.GUEST_FLOWS_WINDOW_MS ?? "10000"} ms, cap ${process.env.GUEST_FLOWS_MAX_PPS ?? "1000"} packets/s) while a guest opens new connections to another, ${runs} runs each:`, rows);
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "tcp-load": { type: "string" },
      "conn-serve": { type: "string" },
      "conn-load": { type: "string" },
      "flow-rates": { type: "string", default: "0,1000,5000" },
      "only-flows": { type: "boolean", default: false },
      runs: { type: "string", default: "7" },
      "heavy-runs": { type: "string", default: "3" },
      connections: { type: "string", default: "100000" },
      neighbours: { type: "string", default: "10000" },
      uri: { type: "string", default: "qemu:///system" },
      "skip-heavy": { type: "boolean", default: false },
    },
  });
  if (values["tcp-load"]) return tcpLoad(Number(values["tcp-load"]));
  // load modes run until killed
  if (values["conn-serve"]) { const [h, p] = values["conn-serve"].split(","); connServe(h, Number(p)); return new Promise(() => undefined); }
  if (values["conn-load"]) { const [h, p, r] = values["conn-load"].split(","); connLoad(h, Number(p), Number(r)); return new Promise(() => undefined); }
  const rates = values["flow-rates"].split(",").map(Number);
  if (values["only-flows"]) {
    try { await guestFlowsUnderLoad(rates, Number(values["heavy-runs"])); } finally { cleanup(); }
    return;
  }
  const runs = Number(values.runs), heavyRuns = Number(values["heavy-runs"]);
  console.log(`discovery bench: ${new Date().toISOString()}, load ${load()}`);
  await wrapperOverhead(100);
  await idleScripts(runs, values.uri);
  if (!values["skip-heavy"]) {
    try {
      await libvirtNeighbours(Number(values.neighbours), heavyRuns, values.uri);
      await tcpUnderLoad(Number(values.connections), heavyRuns);
      await guestFlowsUnderLoad(rates, heavyRuns);
    } finally {
      cleanup();
    }
  }
}

main().then(() => process.exit(0), (e: Error) => { console.error(e); cleanup(); process.exit(1); });

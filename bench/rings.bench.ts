/**
 * Rings at scale (simulator: nanoprobes on 127.0.S.H, spread over worker processes, against a real
 * CMA process as shipped: graph store on, its default; the table says which store it ran with).
 * For each size: time for all hosts to join and hold their neighbours; packets the CMA sent and
 * received per join and CMA CPU per join (from the simulator's start to all ringed, settled: with
 * host keys that is an announcement's proof checked, a pin, sealed assignments); then CMA CPU in steady state; then kills: detection latency (kill → declared
 * dead) p50/p99 and CMA packets per death. Also the CMA's RSS after the steady phase, and the
 * simulator workers' CPU in steady state (what the simulated hosts' heartbeats cost them).
 *
 * --heartbeats off: the simulated hosts send no heartbeats (100,000 hosts on one machine); a kill
 * is reported to the CMA by the victim's watchers deadtime after it, as the ring would (simulator.ts).
 *
 *   node bench/dist/rings.bench.js [--sizes 1000,10000] [--kills 20] [--steady 30] [--heartbeats on|off] [--workers N] [--join-timeout 600]
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Simulator } from "@ringwatch/nanoprobe";

const { values } = parseArgs({ options: {
  sizes: { type: "string", default: "1000,10000" }, kills: { type: "string", default: "20" }, steady: { type: "string", default: "30" },
  heartbeats: { type: "string", default: "on" }, workers: { type: "string", default: "0" }, "join-timeout": { type: "string", default: "600" },
} });
const heartbeats = values.heartbeats !== "off";
const joinTimeoutMs = Number(values["join-timeout"]) * 1000;
const sizes = values.sizes!.split(",").map(Number);
const kills = Number(values.kills);
const steadySecs = Number(values.steady);
const cmaCli = fileURLToPath(new URL("../../cma/dist/src/cli.js", import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** a process's resident memory (MiB), from /proc */
const rssMiB = (pid: number | undefined): number => {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
  } catch {
    return NaN;
  }
};

interface Counters {
  framesSent: number;
  datagramsReceived: number;
}

/** The CMA's counters as of a status line logged after `after` (it logs one every second). */
async function countersAfter(sim: Simulator, after: number): Promise<Counters> {
  return (await sim.statusAfter<{ time?: string; channel: Counters }>(after)).channel;
}

const rows: string[] = [];
let graphStore = "?";
let workers = "";
for (const n of sizes) {
  const perSegment = n >= 5000 ? 250 : 50;
  const t0 = Date.now();
  const sim = await Simulator.start({ hosts: n, perSegment, port: 19900 + (n % 97), cmaCli, workDir: mkdtempSync(join(tmpdir(), "rw-bench-rings-")), startBatch: 250, heartbeats, workers: Number(values.workers) });
  const started = Date.now() - t0;
  const cpuJoin0 = sim.cmaCpuMs();
  const joinMs = await sim.waitForRings(joinTimeoutMs);
  graphStore = String((sim.cmaStatus.at(-1) as { graph?: { store?: string } | null } | undefined)?.graph?.store ?? "none");
  workers += `${workers ? ", " : ""}${sim.workerCount} at ${n.toLocaleString("en")}`;
  // let assignments settle, then read the CMA's counters
  await sleep(3000);
  const c0 = await countersAfter(sim, Date.now());
  const perJoin = { sent: c0.framesSent / n, received: c0.datagramsReceived / n, cpuMs: (sim.cmaCpuMs() - cpuJoin0) / n };

  // steady state: nothing happens; the CMA should do (almost) nothing
  const cpu0 = sim.cmaCpuMs();
  const w0 = sim.workersCpuMs();
  const s0 = await countersAfter(sim, Date.now());
  await sleep(steadySecs * 1000);
  const s1 = await countersAfter(sim, Date.now());
  const cpuPerSec = (sim.cmaCpuMs() - cpu0) / steadySecs;
  const workersCpuPerSec = (sim.workersCpuMs() - w0) / steadySecs;
  const cmaRss = rssMiB(sim.cmaPid);
  const steadyPackets = (s1.framesSent - s0.framesSent + s1.datagramsReceived - s0.datagramsReceived) / steadySecs;

  // deaths: kill k hosts far apart (one per segment when possible), wait for every verdict
  const victims = sim.pickRunning(kills, (h) => h.name.endsWith("h001")); // not representatives
  const k0 = await countersAfter(sim, Date.now());
  await sim.kill(victims);
  const deadline = Date.now() + 120_000;
  while (sim.summary().missed.length > 0 && Date.now() < deadline) await sleep(200);
  await sleep(3000); // repairs acknowledged
  const k1 = await countersAfter(sim, Date.now());
  const s = sim.summary();
  const perDeath = { sent: (k1.framesSent - k0.framesSent) / victims.length, received: (k1.datagramsReceived - k0.datagramsReceived) / victims.length };
  await sim.stop();
  rows.push(`| ${n.toLocaleString("en")} | ${perSegment} | ${(started / 1000).toFixed(1)} | ${(joinMs / 1000).toFixed(1)} | ${perJoin.sent.toFixed(1)} / ${perJoin.received.toFixed(1)} | ${perJoin.cpuMs.toFixed(2)} | ${cpuPerSec.toFixed(1)} | ${steadyPackets.toFixed(2)} | ${cmaRss.toFixed(0)} | ${workersCpuPerSec.toFixed(0)} | ${s.detectionMs.p50} / ${s.detectionMs.p99} | ${perDeath.sent.toFixed(1)} / ${perDeath.received.toFixed(1)} | ${s.missed.length} / ${s.falseDeaths.length} |`);
  console.error(`done ${n}: ${rows.at(-1)}`);
}

console.log(`# rings benchmark — ${new Date().toISOString()} — ${heartbeats ? "heartbeat 1 s" : "simulated hosts' heartbeats OFF (deaths reported by the victims' watchers, injected at deadtime)"}, warntime 5 s, deadtime 10 s, ${kills} kills per size; CMA as shipped, graph store: ${graphStore}; simulator worker processes: ${workers}`);
console.log("");
console.log("| hosts | per segment | sockets up s | join → all ringed s | CMA packets per join sent / received | CMA CPU ms per join | CMA CPU ms/s steady | CMA packets/s steady | CMA RSS MiB | simulator workers CPU ms/s steady | detection p50 / p99 ms | CMA packets per death sent / received | missed / false |");
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) console.log(r);

/**
 * The CMA's ingest: stats values taken in per second per core of the CMA process, as shipped
 * (graph store Kuzu, metric history on), up to its durable Zabbix spool. Simulated hosts (real
 * sockets, sealed frames, heartbeat 1 s) each report the synthetic hypervisor of the stats-batch
 * benchmark (30 guests, its one-minute batch, times moved to now) every --every seconds, spread
 * over the interval. The Zabbix sender points at a loopback port nobody listens on: every value
 * ends in the spool on disk, the CMA's boundary of "accepted, durably"; delivery to a real Zabbix
 * is zabbix-sender.bench.ts's measure.
 *
 * Per row: batches, series and Zabbix values accepted per second (the CMA's own counters over
 * --seconds of steady state), the CMA's CPU over the same time, values/s per core of CMA CPU.
 *
 *   node bench/dist/cma-ingest.bench.js [--hosts 200] [--every 10,5,2] [--seconds 60]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Simulator } from "@ringwatch/nanoprobe";
import { syntheticMinutes } from "./metrics-synthetic.js";

const { values } = parseArgs({ options: { hosts: { type: "string", default: "200" }, every: { type: "string", default: "10,5,2" }, seconds: { type: "string", default: "60" } } });
const hosts = Number(values.hosts), seconds = Number(values.seconds);
const everies = values.every!.split(",").map(Number);
const cmaCli = fileURLToPath(new URL("../../cma/dist/src/cli.js", import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const [minute] = syntheticMinutes(1);
const template = minute.batch;
const seriesPerBatch = template.series.length;
const valuesPerBatch = template.series.reduce((n, s) => n + s.data.values.length, 0);

interface Status { time: string; stats: { batches: number; series: number }; zabbixSender: { accepted: number } }

/** the CMA's counters from a status line logged after `after` */
const statusAfter = (sim: Simulator, after: number): Promise<Status> => sim.statusAfter<Status>(after);

const rows: string[] = [];
for (const everyS of everies) {
  const sim = await Simulator.start({
    hosts, perSegment: 50, port: 19881, cmaCli, workDir: mkdtempSync(join(tmpdir(), "rw-bench-ingest-")), seed: 5, startBatch: 100,
    stats: { everyMs: everyS * 1000, batch: template },
    // a loopback port nobody listens on: values stop at the durable spool (1 GiB default bound)
    cmaEnv: { RINGWATCH_ZABBIX_SERVER: "127.0.0.1:1" },
  });
  try {
    await sim.waitForRings(120_000);
    await sleep(everyS * 1000 + 5000); // every host has sent its first, self-contained batch
    const cpu0 = sim.cmaCpuMs(), w0 = sim.workersCpuMs();
    const s0 = await statusAfter(sim, Date.now());
    const t0 = Date.parse(s0.time);
    await sleep(seconds * 1000);
    const s1 = await statusAfter(sim, Date.now());
    const cpu1 = sim.cmaCpuMs(), w1 = sim.workersCpuMs();
    const secs = (Date.parse(s1.time) - t0) / 1000;
    const batches = (s1.stats.batches - s0.stats.batches) / secs;
    const series = (s1.stats.series - s0.stats.series) / secs;
    const vals = (s1.zabbixSender.accepted - s0.zabbixSender.accepted) / secs;
    const cores = (cpu1 - cpu0) / 1000 / secs;
    const expected = (hosts / everyS) * valuesPerBatch;
    rows.push(`| ${hosts} | ${everyS} | ${batches.toFixed(1)} | ${Math.round(series).toLocaleString("en")} | ${Math.round(vals).toLocaleString("en")} (${Math.round(expected).toLocaleString("en")} offered) | ${cores.toFixed(2)} | ${Math.round(vals / cores).toLocaleString("en")} | ${((w1 - w0) / 1000 / secs).toFixed(2)} |`);
    console.error(`done: every ${everyS} s: ${rows.at(-1)}`);
  } finally {
    await sim.stop();
  }
}

console.log(`# CMA ingest benchmark — ${new Date().toISOString()} — ${hosts} simulated hosts, each one batch of the synthetic hypervisor (30 guests, ${seriesPerBatch} series, ${valuesPerBatch} Zabbix values) per interval; CMA as shipped (Kuzu, history) with values stopping at its durable spool; ${seconds} s per row`);
console.log("");
console.log("| hosts | batch every s | batches/s | series/s | Zabbix values/s accepted | CMA CPU cores | values/s per core | simulated hosts' CPU cores |");
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) console.log(r);

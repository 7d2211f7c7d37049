/**
 * A join traced second by second (how the cause of the 10,000-host join collapse was found):
 * what the simulated hosts did (registered, ringed, announcements, reports, alerts, local stalls),
 * the simulator's event-loop lag and each worker's, CPU of the simulator and of the CMA, and the
 * CMA's own counters (announcements, reports, assignments sent and pending, probes, graph backlog)
 * and membership events, one JSON line per second on stdout.
 *
 *   node bench/dist/rings-join-trace.js [--hosts 10000] [--seconds 60] [--workers 0] [--cma-prof DIR] [--worker-prof DIR] [--worker-nice 10] [--heartbeat-ms 1000] [--heartbeats on|off] [--join-backoff-max-ms 8000]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Simulator } from "@ringwatch/nanoprobe";

const { values } = parseArgs({ options: { hosts: { type: "string", default: "10000" }, seconds: { type: "string", default: "60" }, workers: { type: "string", default: "0" }, "cma-prof": { type: "string" }, "worker-prof": { type: "string" }, "worker-nice": { type: "string", default: "10" }, "heartbeat-ms": { type: "string", default: "1000" }, heartbeats: { type: "string", default: "on" }, "join-backoff-max-ms": { type: "string", default: "8000" } } });
const n = Number(values.hosts);
const cmaCli = fileURLToPath(new URL("../../cma/dist/src/cli.js", import.meta.url));
const lag = monitorEventLoopDelay({ resolution: 20 });
lag.enable();
const t0 = Date.now();
const sim = await Simulator.start({
  hosts: n, perSegment: n >= 5000 ? 250 : 50, port: 19900 + (n % 97), cmaCli, workDir: mkdtempSync(join(tmpdir(), "rw-trace-")), startBatch: 250, workers: Number(values.workers),
  cmaNodeArgs: values["cma-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cma-prof"]}`] : [],
  workerNice: Number(values["worker-nice"]), heartbeats: values.heartbeats !== "off", joinBackoffMaxMs: Number(values["join-backoff-max-ms"]),
  // the nanoprobe's defaults (1 s, warn 5 s, dead 10 s) unless told: warn and dead stay 5 and 10 heartbeats
  heartbeatMs: Number(values["heartbeat-ms"]), warntimeMs: 5 * Number(values["heartbeat-ms"]), deadtimeMs: 10 * Number(values["heartbeat-ms"]),
  workerNodeArgs: values["worker-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["worker-prof"]}`] : [],
});
console.log(JSON.stringify({ started: Date.now() - t0, workers: sim.workerCount }));
let cpu0 = process.cpuUsage();
let cma0 = sim.cmaCpuMs();
let workers0 = sim.workersCpuMs();
let seen = 0;
const events: Record<string, number> = {};
for (let s = 1; s <= Number(values.seconds); s++) {
  await new Promise((r) => setTimeout(r, 1000));
  const hosts = { registered: 0, ringed: 0, announces: 0, reports: 0, alerts: 0, stalls: 0, drops: {} as Record<string, number> };
  for (const h of sim.hosts) {
    const v = h.view;
    hosts.registered += v.registered ? 1 : 0;
    hosts.ringed += v.neighbours.length > 0 ? 1 : 0;
    hosts.announces += v.announcesSent;
    hosts.reports += v.reportsSent;
    hosts.alerts += v.alertsSent;
    hosts.stalls += v.stalls;
    for (const [k, n] of Object.entries(v.drops)) hosts.drops[k] = (hosts.drops[k] ?? 0) + n;
  }
  for (; seen < sim.events.length; seen++) events[sim.events[seen].type] = (events[sim.events[seen].type] ?? 0) + 1;
  const cpu = process.cpuUsage(cpu0);
  cpu0 = process.cpuUsage();
  const cma = sim.cmaCpuMs();
  const workers = sim.workersCpuMs();
  const st = (sim.cmaStatus.at(-1) ?? {}) as Record<string, unknown>;
  console.log(JSON.stringify({
    t: s, hosts, simCpuMs: Math.round((cpu.user + cpu.system) / 1000), simLagMaxMs: Math.round(lag.max / 1e6), workersCpuMs: Math.round(workers - workers0), workerLagMaxMs: sim.workerLagMs, cmaCpuMs: Math.round(cma - cma0),
    cma: { hosts: st.hosts, counters: st.counters, assignmentsPending: st.assignmentsPending, probesSent: st.probesSent, graphPending: (st.graph as { pending?: number } | null)?.pending, channel: nonZero(st.channel as Record<string, number> | undefined) }, events,
  }));
  cma0 = cma;
  workers0 = workers;
  lag.reset();
}
await sim.stop();

function nonZero(c: Record<string, number> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(c ?? {}).filter(([, v]) => v !== 0));
}

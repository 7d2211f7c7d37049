/**
 * One failover traced (how the 10,000-host false deaths were found): two CMAs on etcd, N simulated
 * hosts, the leader SIGKILLed; then, every second for --seconds, the new leader's view of the hosts
 * (alive, dead, unconfirmed), its counters, and its membership events by type and by who confirmed
 * the deaths; one JSON line per second on stdout.
 *
 *   node bench/dist/failover-trace.js [--hosts 10000] [--seconds 90] [--heartbeats on|off]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Simulator } from "@ringwatch/nanoprobe";
import type * as EtcdSupport from "../test/dist/support/etcd.js";

const { ensureEtcd, freshPrefix } = (await import(new URL("../../test/dist/support/etcd.js", import.meta.url).href)) as typeof EtcdSupport;
const { values } = parseArgs({ options: { hosts: { type: "string", default: "10000" }, seconds: { type: "string", default: "90" }, heartbeats: { type: "string", default: "off" } } });
const n = Number(values.hosts);
const cmaCli = fileURLToPath(new URL("../../cma/dist/src/cli.js", import.meta.url));
const sim = await Simulator.start({
  hosts: n, perSegment: n >= 5000 ? 250 : 50, port: 19872, cmaCli, workDir: mkdtempSync(join(tmpdir(), "rw-fo-trace-")), startBatch: 250, heartbeats: values.heartbeats !== "off",
  cmaAddresses: ["127.0.0.1", "127.0.0.2"], cmaEnv: { RINGWATCH_ETCD_ENDPOINTS: await ensureEtcd(), RINGWATCH_ETCD_PREFIX: freshPrefix("fo-trace") },
});
try {
  const joinMs = await sim.waitForRings(600_000);
  await new Promise((r) => setTimeout(r, 3000));
  const leader = sim.leaderIndex!;
  console.log(JSON.stringify({ joinMs, leader }));
  const killedAt = Date.now();
  await sim.stopCma("SIGKILL", leader);
  for (let s = 1; s <= Number(values.seconds); s++) {
    await new Promise((r) => setTimeout(r, 1000));
    const events: Record<string, number> = {};
    const confirmedBy: Record<string, number> = {};
    for (const e of sim.events) {
      if (e.at < killedAt) continue;
      events[e.type] = (events[e.type] ?? 0) + 1;
      if (e.type === "hostDead") confirmedBy[String(e.confirmedBy)] = (confirmedBy[String(e.confirmedBy)] ?? 0) + 1;
    }
    const st = (sim.cmaStatus.filter((l) => l.cma !== leader).at(-1) ?? {}) as Record<string, unknown>;
    const following = sim.hosts.filter((h) => h.view.registered && h.view.cma?.startsWith(`127.0.0.${2 - leader}:`)).length;
    const byWorker = sim.workerLagMs.map((_, w) => sim.hosts.filter((h) => h.worker === w && h.view.registered && h.view.cma?.startsWith(`127.0.0.${2 - leader}:`)).length);
    const drops: Record<string, number> = {};
    for (const h of sim.hosts) for (const [k, v] of Object.entries(h.view.drops)) drops[k] = (drops[k] ?? 0) + v;
    console.log(JSON.stringify({ t: s, following, byWorker, workerLagMs: sim.workerLagMs, hostDrops: drops, hosts: st.hosts, counters: st.counters, probesSent: st.probesSent, channel: st.channel, events, confirmedBy }));
  }
  // what the CMAs said besides their status lines (warnings first)
  for (const l of sim.cmaLines.filter((x) => x.at >= killedAt && x.cma !== leader && x.msg !== "membership event").slice(0, 30)) console.log(JSON.stringify({ cma: l.cma, atMs: l.at - killedAt, level: l.level, msg: l.msg, err: l.err, why: l.why }));
} finally {
  await sim.stop();
}

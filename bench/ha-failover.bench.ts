/**
 * CMA failover on etcd, as shipped: two real CMA processes (127.0.0.1 leads, 127.0.0.2 stands by,
 * default lease and sync settings) on the real 3-member etcd of scripts/etcd.sh, simulated hosts
 * (real sockets, heartbeat 1 s, deadtime 10 s) that know both CMAs. Per run:
 * - etcd writes per second in steady state (the leader's state-mirror transactions) and during deaths;
 * - the leader SIGKILLed: time to the new leader's first commands (its re-announce requests), to
 *   its start as leader, and until every host registered with it; hosts declared dead meanwhile.
 * Medians over --runs runs per size (each run a fresh simulator and etcd prefix).
 * --heartbeats off: the simulated hosts send no heartbeats (10,000 hosts on this machine); kills are
 * reported by the victims' watchers at deadtime (simulator.ts), and a false death could only come
 * from the new leader's own probes of hosts that did not re-announce.
 *
 *   node bench/dist/ha-failover.bench.js [--sizes 1000] [--runs 3] [--steady 20] [--kills 5] [--heartbeats on|off]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Simulator } from "@ringwatch/nanoprobe";
import { waitUntil } from "@ringwatch/shared/testing";
import type * as EtcdSupport from "../test/dist/support/etcd.js";

// the test support the suite uses to start etcd (compiled beside the tests, not a bench module)
const { ensureEtcd, freshPrefix } = (await import(new URL("../../test/dist/support/etcd.js", import.meta.url).href)) as typeof EtcdSupport;
const { values } = parseArgs({ options: {
  sizes: { type: "string", default: "1000" }, runs: { type: "string", default: "3" }, steady: { type: "string", default: "20" }, kills: { type: "string", default: "5" }, heartbeats: { type: "string", default: "on" },
} });
const heartbeats = values.heartbeats !== "off";
const sizes = values.sizes!.split(",").map(Number);
const runs = Number(values.runs), steadySecs = Number(values.steady), kills = Number(values.kills);
const cmaCli = fileURLToPath(new URL("../../cma/dist/src/cli.js", import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ADDRESSES = ["127.0.0.1", "127.0.0.2"];
const PORT = 19871;

/** the state-mirror transactions of CMA `cma` as of a status line it logged after `after` */
async function mirrorWritesAfter(sim: Simulator, cma: number, after: number): Promise<number> {
  return (await sim.statusAfter<{ time?: string; ha: { stateMirror: { writes: number } } }>(after, cma)).ha.stateMirror.writes;
}

const until = (cond: () => boolean, timeoutMs: number, what: string): Promise<void> => waitUntil(cond, timeoutMs, what, 50);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

interface Run {
  steadyWritesPerSec: number;
  deathWrites: number;
  firstCommandMs: number;
  leadingMs: number;
  allFollowMs: number;
  deathsDuring: number;
  /** hosts the new leader named as not answering its challenges (a false alarm: every host answers) */
  notAnsweringWarned: number;
}

const endpoints = await ensureEtcd();
const rows: string[] = [];
for (const n of sizes) {
  const results: Run[] = [];
  for (let r = 0; r < runs; r++) {
    const sim = await Simulator.start({
      hosts: n, perSegment: n >= 5000 ? 250 : 50, port: PORT, cmaCli, workDir: mkdtempSync(join(tmpdir(), "rw-bench-ha-")), seed: 100 + r, startBatch: 250, heartbeats,
      cmaAddresses: ADDRESSES, cmaEnv: { RINGWATCH_ETCD_ENDPOINTS: endpoints, RINGWATCH_ETCD_PREFIX: freshPrefix("bench") },
    });
    try {
      await sim.waitForRings(600_000);
      const leader = sim.leaderIndex!;
      await sleep(3000); // the join's last snapshot written and mirrored
      const w0 = await mirrorWritesAfter(sim, leader, Date.now());
      await sleep(steadySecs * 1000);
      const w1 = await mirrorWritesAfter(sim, leader, Date.now());
      const victims = sim.pickRunning(kills, (h) => h.name.endsWith("h001"));
      await sim.kill(victims);
      await until(() => sim.summary().missed.length === 0, 120_000, "every death declared");
      await sleep(3000);
      const w2 = await mirrorWritesAfter(sim, leader, Date.now());
      const deaths0 = sim.eventsOf("hostDead").length;
      const killedAt = Date.now();
      await sim.stopCma("SIGKILL", leader);
      await until(() => sim.leaderStarts.length >= 2, 60_000, "the standby leads");
      const next = sim.leaderStarts[1];
      const followed = (): boolean => sim.hosts.filter((h) => h.fate === "running").every((h) => h.view.registered && h.view.cma === `${ADDRESSES[next.cma]}:${PORT}`);
      await until(followed, 600_000, "every host follows the new leader");
      const allFollowMs = Date.now() - killedAt;
      await sleep(5000);
      const run: Run = {
        steadyWritesPerSec: (w1 - w0) / steadySecs, deathWrites: w2 - w1,
        firstCommandMs: (next.reannounceAt ?? next.at) - killedAt, leadingMs: next.at - killedAt, allFollowMs,
        deathsDuring: sim.eventsOf("hostDead").length - deaths0,
        notAnsweringWarned: sim.cmaLines.filter((l) => l.cma === next.cma && l.at >= killedAt && typeof l.msg === "string" && l.msg.startsWith("challenged and not answering")).length,
      };
      results.push(run);
      console.error(`run ${r + 1}/${runs} at ${n} hosts: ${JSON.stringify(run)}; false deaths ${sim.summary().falseDeaths.length}`);
    } finally {
      await sim.stop();
    }
  }
  const m = (k: keyof Run): number => median(results.map((x) => x[k]));
  rows.push(`| ${n.toLocaleString("en")} | ${runs} | ${m("steadyWritesPerSec").toFixed(2)} | ${m("deathWrites")} | ${(m("firstCommandMs") / 1000).toFixed(2)} | ${(m("leadingMs") / 1000).toFixed(2)} | ${(m("allFollowMs") / 1000).toFixed(2)} | ${results.map((x) => x.deathsDuring).join(" / ")} | ${results.map((x) => x.notAnsweringWarned).join(" / ")} |`);
}

console.log(`# CMA failover benchmark — ${new Date().toISOString()} — 2 CMA processes as shipped (lease 3 s, state sync 1 s), 3-member etcd 3.4 on loopback (election timeout 500 ms), ${heartbeats ? "heartbeat 1 s" : "simulated hosts' heartbeats OFF (deaths reported by the watchers at deadtime)"}, deadtime 10 s; medians of ${runs} runs`);
console.log("");
console.log(`| hosts | runs | etcd writes/s steady | etcd writes for ${kills} deaths | SIGKILL → new leader's first commands s | → leading s | → every host follows s | hosts declared dead during failover | hosts named "not answering" challenges by the new leader |`);
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) console.log(r);

#!/usr/bin/env node
/**
 * ringwatch-sim: run N simulated nanoprobes against a real CMA process and print what the CMA
 * concluded versus what was done.
 *
 *   ringwatch-sim --hosts 1000 --per-segment 50 --kill 20 [--silence-segment 3] [--loss 0.05] [--for 60]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Simulator } from "./simulator.js";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "100" },
    "per-segment": { type: "string", default: "50" },
    kill: { type: "string", default: "0" },
    "silence-segment": { type: "string" },
    loss: { type: "string", default: "0" },
    for: { type: "string", default: "30" },
    "rings-per-segment": { type: "string", default: "1" },
    port: { type: "string", default: "19840" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  process.stdout.write("usage: ringwatch-sim [--hosts N] [--per-segment N] [--kill N] [--silence-segment S] [--loss P] [--for SECONDS] [--rings-per-segment 1|2]\n");
  process.exit(0);
}
const num = (k: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`ringwatch-sim: --${k} expects a non-negative number, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
};
const cmaCli = fileURLToPath(new URL("../../../../cma/dist/src/cli.js", import.meta.url));
const sim = await Simulator.start({
  hosts: num("hosts", values.hosts), perSegment: num("per-segment", values["per-segment"]), loss: num("loss", values.loss),
  ringsPerSegment: num("rings-per-segment", values["rings-per-segment"]) === 2 ? 2 : 1, port: num("port", values.port),
  cmaCli, workDir: mkdtempSync(join(tmpdir(), "ringwatch-sim-")),
});
try {
  const joinMs = await sim.waitForRings(120_000);
  process.stdout.write(`${sim.hosts.length} hosts joined and ringed in ${joinMs} ms\n`);
  const victims = sim.pickRunning(num("kill", values.kill));
  await sim.kill(victims);
  if (values["silence-segment"]) await sim.partition(sim.segmentHosts(num("silence-segment", values["silence-segment"])));
  await new Promise((r) => setTimeout(r, num("for", values.for) * 1000));
  process.stdout.write(`${JSON.stringify(sim.summary(), null, 2)}\n`);
} finally {
  await sim.stop();
}

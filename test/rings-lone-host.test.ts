/**
 * Nobody goes unwatched: a real CMA and two real nanoprobes on loopback (libvirt test driver). One
 * is SIGKILLed: its neighbour reports it and the CMA's probe confirms it. The survivor now has no
 * ring neighbour, so nobody would report its death: the CMA probes it itself; while it answers it
 * stays alive, and when it is SIGKILLed too it is declared dead on the CMA's own probe.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, startProcess } from "./support/processes.js";
import { loopbackCluster } from "./support/loopback-cluster.js";
import type { LogLine, RunningProcess } from "./support/processes.js";

const TIMING = { heartbeatMs: 300, warntimeMs: 1000, deadtimeMs: 2000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("system: a host with no ring neighbour is watched by the CMA itself", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-lone-"));
  const fx = writeFixture(2);
  const procs: RunningProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the survivor of a two-host cluster, left alone, answers and stays alive; SIGKILLed, it is declared dead on the CMA's own probe", async () => {
    const cluster = await loopbackCluster(dir, "lonehost", TIMING, fx.uri);
    const cma = startProcess("cma", CMA_CLI, ["run"], cluster.cmaEnv());
    procs.push(cma);
    await cma.waitFor((l) => l.msg === "CMA started", 10_000, "CMA started");
    const [hv1, hv2] = ["hv1", "hv2"].map((id, i) => {
      const p = startProcess(id, NANOPROBE_CLI, ["run"], cluster.nanoprobeEnv(id, i, { RINGWATCH_STATUS_INTERVAL_MS: "300" }));
      procs.push(p);
      return p;
    });
    await hv1.waitFor((l) => l.msg === "neighbours assigned by the CMA" && JSON.stringify(l.neighbours) === '["hv2"]', 15_000, "hv1 watches hv2");
    await hv2.waitFor((l) => l.msg === "neighbours assigned by the CMA" && JSON.stringify(l.neighbours) === '["hv1"]', 15_000, "hv2 watches hv1");
    const deaths = (): LogLine[] => cma.lines.filter((l) => l.msg === "membership event" && l.type === "hostDead");
    const isDeath = (host: string) => (l: LogLine): boolean => l.msg === "membership event" && l.type === "hostDead" && l.host === host;

    // hv2 has joined: hv1 hears its heartbeats (so hv2 also acknowledged its assignment; a host killed
    // before that ack is still joining for the CMA, and a report about it waits for the give-up)
    await hv1.waitFor((l) => l.msg === "status" && heartbeatsFrom(l, "hv2") >= 2, 5000, "hv1 hears hv2");
    // hv2 dies: its neighbour reports it, the CMA's probe confirms it
    hv2.child.kill("SIGKILL");
    const hv2Dead = await cma.waitFor(isDeath("hv2"), TIMING.deadtimeMs + 10_000, "hv2 dead");
    assert.equal(hv2Dead.confirmedBy, "probe");
    assert.deepEqual(hv2Dead.reportedBy, ["hv1"]);
    // hv1 is left alone: no neighbour any more, so the CMA watches it; it answers and stays alive
    await hv1.waitFor((l) => l.msg === "neighbours assigned by the CMA" && JSON.stringify(l.neighbours) === "[]", 5000, "hv1 alone");
    await cma.waitFor((l) => l.msg === "host has no ring neighbour: the CMA probes it itself" && l.host === "hv1", 5000, "hv1 watched by the CMA");
    const answeredBefore = probesAnswered(hv1);
    await sleep(TIMING.deadtimeMs * 2);
    assert.ok(probesAnswered(hv1) - answeredBefore >= 3, "the CMA probes the lone host and it answers");
    assert.deepEqual(deaths().map((l) => l.host), ["hv2"], "a lone host that answers is not declared dead");
    assert.equal(cma.lines.filter((l) => l.msg === "membership event" && l.type === "deathNotConfirmed").length, 0, "not even suspected");

    // hv1 dies: nobody is left to report it, the CMA's own probe finds it
    hv1.child.kill("SIGKILL");
    const hv1Dead = await cma.waitFor(isDeath("hv1"), TIMING.deadtimeMs + 10_000, "hv1 dead");
    assert.equal(hv1Dead.confirmedBy, "lone-probe");
    assert.deepEqual(hv1Dead.reportedBy, ["cma-probe"]);
    await sleep(1000);
    assert.deepEqual(deaths().map((l) => l.host), ["hv2", "hv1"], "each declared dead once");
    console.log(`      hv1 (lone) declared dead ${(hv1Dead.at as number) - (hv2Dead.at as number)} ms after hv2; deadtime ${TIMING.deadtimeMs} ms`);
  });
});

/** Probes a nanoprobe says it has answered, in its latest status line (one every 300 ms). */
function probesAnswered(p: RunningProcess): number {
  const last = p.lines.filter((l) => l.msg === "status").at(-1) as { counters?: { probesAnswered?: number } } | undefined;
  return last?.counters?.probesAnswered ?? 0;
}

/** Heartbeats a nanoprobe's status line says it has had from a neighbour. */
function heartbeatsFrom(status: LogLine, neighbour: string): number {
  const n = (status as { neighbours?: { name: string; heartbeats: number }[] }).neighbours?.find((x) => x.name === neighbour);
  return n?.heartbeats ?? 0;
}

/**
 * Reports that say the latest truth, across a CMA restart: a real CMA and four real nanoprobes on
 * loopback (libvirt test driver). The CMA is SIGKILLed; then a host is SIGKILLed. Its ring
 * neighbours, still registered with the dead CMA, send LATE and then DEAD about it, neither
 * acknowledged. When the CMA comes back on the same data dir, both sends fail at once (the channel
 * sees the CMA's new incarnation), LATE first. The newest observation, DEAD, must be the one that
 * goes again: the host is then declared dead on its neighbours' report and the CMA's probe, not
 * left for the grace-period probe that catches hosts nobody reported.
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
/** long enough that the grace-period probe cannot be what declares the host dead first */
const REANNOUNCE_GRACE_MS = 8000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("system: a host that dies while the CMA is down is declared dead on its neighbours' DEAD report", function () {
  this.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-reports-restart-"));
  const fx = writeFixture(2);
  const procs: RunningProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("CMA killed, a host killed, CMA restarted: hostDead confirmed by probe on the neighbours' report, not by the restart probe", async () => {
    const cluster = await loopbackCluster(dir, "reportsrestart", TIMING, fx.uri);
    const startCma = (n: number): RunningProcess => {
      const p = startProcess(`cma${n}`, CMA_CLI, ["run"], cluster.cmaEnv({ RINGWATCH_REANNOUNCE_GRACE_MS: String(REANNOUNCE_GRACE_MS) }));
      procs.push(p);
      return p;
    };
    let cma = startCma(1);
    await cma.waitFor((l) => l.msg === "CMA started", 10_000, "CMA started");
    const names = ["hv1", "hv2", "hv3", "hv4"];
    const nps = new Map(names.map((id, i) => {
      const p = startProcess(id, NANOPROBE_CLI, ["run"], cluster.nanoprobeEnv(id, i));
      procs.push(p);
      return [id, p] as const;
    }));
    // one segment, one ring hv1-hv2-hv3-hv4: hv3 is watched by hv2 and hv4
    const watches = (id: string, expected: string[]): Promise<LogLine> =>
      nps.get(id)!.waitFor((l) => l.msg === "neighbours assigned by the CMA" && JSON.stringify(l.neighbours) === JSON.stringify(expected), 15_000, `${id} watches ${expected.join()}`);
    await Promise.all([watches("hv1", ["hv2", "hv4"]), watches("hv2", ["hv1", "hv3"]), watches("hv3", ["hv2", "hv4"]), watches("hv4", ["hv1", "hv3"])]);
    await sleep(1000); // the membership snapshot is written 500 ms after a change

    cma.child.kill("SIGKILL");
    await cma.exited;
    nps.get("hv3")!.child.kill("SIGKILL");
    // its neighbours, still registered with the dead CMA, send LATE then DEAD; nothing acknowledges them
    const reported = (id: string, kind: string): Promise<LogLine> =>
      nps.get(id)!.waitFor((l) => l.msg === "reporting to the CMA" && l.kind === kind && l.subject === "hv3", TIMING.deadtimeMs + 5000, `${id} reports hv3 ${kind}`);
    for (const id of ["hv2", "hv4"]) {
      await reported(id, "LATE");
      await reported(id, "DEAD");
    }
    await sleep(300);
    for (const id of ["hv2", "hv4"]) {
      assert.equal(nps.get(id)!.lines.filter((l) => l.msg === "CMA did not acknowledge a report: announcing again").length, 0, `${id}: both reports still in flight`);
    }

    cma = startCma(2);
    await cma.waitFor((l) => l.msg === "CMA started", 10_000, "CMA restarted");
    const dead = await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostDead", REANNOUNCE_GRACE_MS + 10_000, "hostDead after the restart");
    assert.equal(dead.host, "hv3");
    // the cause: the neighbours' DEAD report, confirmed by the CMA's probe
    assert.equal(dead.confirmedBy, "probe", `hv3 declared dead by ${String(dead.confirmedBy)}, reported by ${JSON.stringify(dead.reportedBy)}`);
    const by = dead.reportedBy as string[];
    assert.ok(by.length >= 1 && by.every((n) => n === "hv2" || n === "hv4"), `reported by its ring neighbours: ${JSON.stringify(by)}`);
    // the failed sends went back as the newest observation only: DEAD, never the older LATE behind it
    for (const id of ["hv2", "hv4"]) {
      const failed = nps.get(id)!.lines.filter((l) => l.msg === "CMA did not acknowledge a report: announcing again" && l.subject === "hv3");
      assert.equal(failed.length, 2, `${id}: LATE and DEAD both failed once`);
    }
    await sleep(1000);
    const deaths = cma.lines.filter((l) => l.msg === "membership event" && l.type === "hostDead");
    assert.deepEqual(deaths.map((l) => l.host), ["hv3"], "hv3 once, nobody else");
  });
});

/**
 * A nanoprobe that was the one asleep does not blame its neighbours: a real CMA and three real
 * nanoprobes (one ring on loopback, libvirt test driver), one of them frozen with SIGSTOP for 5 s
 * (past warntime) and for 20 s (past deadtime: the CMA declares it dead), then SIGCONT. Counted on
 * both ends: the LATE/DEAD reports the thawed nanoprobe made and the ones the CMA received from it
 * (none: its neighbours were healthy all along), while its neighbours did report it (it really was
 * silent), and the CMA got its localStall alert after each freeze.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { LogLine, RunningProcess } from "./support/processes.js";

const TIMING = { heartbeatMs: 250, warntimeMs: 2000, deadtimeMs: 6000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("system: a stalled nanoprobe (SIGSTOP) reports no healthy neighbour late or dead", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-stall-"));
  const fx = writeFixture(3);
  const procs: RunningProcess[] = [];
  const names = ["hv1", "hv2", "hv3"];
  let cma: RunningProcess;
  const np = new Map<string, RunningProcess>();
  after(async () => {
    const frozen = np.get("hv2")?.child;
    if (frozen?.exitCode === null) frozen.kill("SIGCONT"); // a stopped process cannot handle SIGTERM
    await Promise.all(procs.map((p) => p.stop()));
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const timing = {
    RINGWATCH_HEARTBEAT_MS: String(TIMING.heartbeatMs), RINGWATCH_WARNTIME_MS: String(TIMING.warntimeMs), RINGWATCH_DEADTIME_MS: String(TIMING.deadtimeMs),
  };
  const received = (from: number, reporter: string): LogLine[] =>
    cma.lines.slice(from).filter((l) => l.msg === "report received" && l.reportedBy === reporter && (l.kind === "LATE" || l.kind === "DEAD"));
  const made = (p: RunningProcess, from: number): LogLine[] =>
    p.lines.slice(from).filter((l) => l.msg === "reporting to the CMA" && (l.kind === "LATE" || l.kind === "DEAD"));
  const stallAlert = (from: number, minMs: number): Promise<LogLine> =>
    cma.waitFor((l) => cma.lines.indexOf(l) >= from && l.msg === "alert event" && l.kind === "localStall" && l.host === "hv2" && (JSON.parse(l.evidenceJson as string) as { stallMs: number }).stallMs >= minMs, 15_000, `localStall alert of ≥ ${minMs} ms`);

  before(async () => {
    const keys = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(keys.code, 0, keys.stderr);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const common = { RINGWATCH_CLUSTER: "stall", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0", ...timing };
    cma = startProcess("cma", CMA_CLI, ["run", "--debug"], {
      ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_GRAPH_STORE: "none",
    });
    procs.push(cma);
    await cma.waitFor((l) => l.msg === "CMA started", 15_000, "CMA started");
    names.forEach((name, i) => {
      const p = startProcess(name, NANOPROBE_CLI, ["run"], {
        ...common, RINGWATCH_IDENTITY: name, RINGWATCH_BIND_ADDRESS: `127.0.0.${i + 2}`, RINGWATCH_PORT: String(port), RINGWATCH_CMA: `127.0.0.1:${port}`,
        RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_LIBVIRT_URI: fx.uri,
        RINGWATCH_DISCOVERY_DIR: "",
      });
      procs.push(p);
      np.set(name, p);
    });
    // one ring of three: everyone watches the other two
    for (const [name, p] of np) {
      await p.waitFor((l) => l.msg === "neighbours assigned by the CMA" && (l.neighbours as string[]).length === 2, 20_000, `${name} has two neighbours`);
    }
    await sleep(1000); // heartbeats flowing
  });

  for (const stopMs of [5000, 20_000]) {
    it(`SIGSTOP ${stopMs / 1000} s, SIGCONT: no LATE or DEAD from it about its neighbours, and the CMA got its localStall alert`, async () => {
      const hv2 = np.get("hv2")!;
      const cmaFrom = cma.lines.length;
      const hv2From = hv2.lines.length;
      hv2.child.kill("SIGSTOP");
      await sleep(stopMs);
      hv2.child.kill("SIGCONT");
      await stallAlert(cmaFrom, stopMs - 500);
      if (stopMs > TIMING.deadtimeMs) {
        // silent past deadtime: its neighbours reported it, the CMA declared it dead; it announces again and is taken back
        assert.ok(cma.lines.slice(cmaFrom).some((l) => l.msg === "membership event" && l.type === "hostDead" && l.host === "hv2"), "hv2 declared dead while frozen");
        await cma.waitFor((l) => cma.lines.indexOf(l) >= cmaFrom && l.msg === "membership event" && l.type === "hostReturned" && l.host === "hv2", 10_000, "hv2 returned");
      }
      // a false verdict would come within deadtime after the thaw at the latest
      await sleep(TIMING.deadtimeMs + 1500);
      // it really was silent: the others reported it
      const aboutHv2 = cma.lines.slice(cmaFrom).filter((l) => l.msg === "report received" && l.host === "hv2" && (l.kind === "LATE" || l.kind === "DEAD"));
      assert.ok(aboutHv2.length >= 1, "its neighbours reported the frozen hv2");
      const reports = { madeByHv2: made(hv2, hv2From).map((l) => `${l.kind}:${l.subject}`), receivedFromHv2: received(cmaFrom, "hv2").map((l) => `${l.kind}:${l.host}`) };
      assert.deepEqual(reports, { madeByHv2: [], receivedFromHv2: [] }, "LATE/DEAD reports about its healthy neighbours");
      // and nobody is dead now
      const hostDead = cma.lines.slice(cmaFrom).filter((l) => l.msg === "membership event" && l.type === "hostDead").map((l) => l.host);
      assert.deepEqual(hostDead, stopMs > TIMING.deadtimeMs ? ["hv2"] : []);
      const stalls = hv2.lines.slice(hv2From).filter((l) => l.msg === "this process was stalled: silence during it is not held against neighbours");
      assert.ok(stalls.some((l) => (l.stallMs as number) >= stopMs - 500), "the stall is in its log, with its counters");
    });
  }
});

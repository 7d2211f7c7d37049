// The runner's CPU per run (cpu-accounting.ts), with real processes: CPU goes to the script that
// burnt it even when another runs at the same time, a run killed at its timeout is still counted,
// garbage where the accounting comes from is counted as unknown and breaks nothing. Asserted on
// attribution and counts; how many ms a loop costs is the benchmark's business.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DiscoveryRunner } from "../../src/discovery/runner.js";
import { parseAccounting } from "../../src/discovery/cpu-accounting.js";

const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/discovery/", import.meta.url));
const fx = (name: string): string => join(FIXTURES, name);
/** ~0.1–0.2 s of a shell's CPU on this class of host; the tests only need "clearly more than nothing". */
const LOOPS = "150000";

describe("discovery/runner: CPU per run", function () {
  this.timeout(30_000);
  let runner: DiscoveryRunner | undefined;
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
  });

  it("counts a burning script's CPU for it, not for the idle script running beside it (which ends later)", async () => {
    runner = new DiscoveryRunner({
      scripts: [
        { name: "burn", command: fx("burn.sh"), env: { LOOPS } },
        // idle, and still running when "burn" ends: CPU counted by "whatever was reaped during my run" would land here
        { name: "idle", command: fx("burn.sh"), env: { SLEEP: "1.5" } },
      ],
      concurrency: 2,
    });
    const [burn, idle] = await Promise.all([runner.runNow("burn"), runner.runNow("idle")]);
    assert.equal(burn.status, "document");
    assert.equal(idle.status, "document");
    const s = runner.stats();
    assert.deepEqual([s.burn.runs, s.burn.cpu.measuredRuns, s.burn.cpu.unknownRuns], [1, 1, 0]);
    assert.deepEqual([s.idle.runs, s.idle.cpu.measuredRuns, s.idle.cpu.unknownRuns], [1, 1, 0]);
    const burnMs = s.burn.cpu.lastMs!, idleMs = s.idle.cpu.lastMs!;
    assert.ok(burnMs > 0, "the burning script's CPU is counted");
    assert.ok(burnMs > 10 * Math.max(idleMs, 1), `burn ${burnMs} ms, idle ${idleMs} ms: each run's own CPU`);
    assert.deepEqual([s.burn.cpu.totalMs, s.burn.cpu.maxMs], [burnMs, burnMs]);
    assert.equal(s.burn.cpu.totalUserMs + s.burn.cpu.totalSystemMs, burnMs);
    assert.ok(burn.status === "document" && burn.cpu && burn.cpu.userMs + burn.cpu.systemMs === burnMs, "runNow's outcome carries the same CPU");
    // and the status the nanoprobe logs shows it
    assert.equal(runner.status().burn.cpu.lastMs, burnMs);
  });

  it("counts the run of a script killed at its timeout, with the CPU it burnt before", async () => {
    runner = new DiscoveryRunner({ scripts: [{ name: "stuck", command: fx("burn.sh"), env: { LOOPS, HANG: "1" }, timeoutMs: 2000 }] });
    const out = await runner.runNow("stuck");
    assert.ok(out.status === "error");
    assert.equal(out.error.kind, "timeout");
    const s = runner.stats().stuck;
    assert.deepEqual([s.runs, s.errors, s.cpu.measuredRuns, s.cpu.unknownRuns], [1, 1, 1, 0]);
    assert.ok(s.cpu.lastMs! > 0, "the killed run's CPU is counted");
  });

  it("garbage on the accounting fd: the run's document still counts, its CPU is unknown and counted", async () => {
    runner = new DiscoveryRunner({ scripts: [{ name: "burn", command: fx("burn.sh"), env: { LOOPS: "10" } }], accountingShell: fx("garbage-accounting-shell.sh") });
    const errors: unknown[] = [];
    runner.on("error", (e) => errors.push(e));
    const out = await runner.runNow("burn");
    assert.equal(out.status, "document");
    assert.ok(out.status === "document" && out.cpu === null);
    const s = runner.stats().burn;
    assert.deepEqual([s.runs, s.errors, s.documents, s.cpu.measuredRuns, s.cpu.unknownRuns, s.cpu.lastMs, s.cpu.totalMs], [1, 0, 1, 0, 1, null, 0]);
    assert.deepEqual(errors, []);
  });

  it("reads the wrapper's output only when it is exactly what the wrapper prints", () => {
    const good = "pid 4242\n0m0.002s 0m0.001s\n1m2.345s 0m0,067s\n";
    assert.deepEqual(parseAccounting(good), { jobPid: 4242, cpu: { userMs: 62_345, systemMs: 67 } });
    assert.deepEqual(parseAccounting("pid 4242\n"), { jobPid: 4242, cpu: null }, "killed before times: pid only");
    for (const bad of ["", "pid 0\n0m0.002s 0m0.001s\n0m0.100s 0m0.000s\n", good + "extra\n", good.replace("pid", "PID"), good.slice(0, -1), "pid 1\n0m0.002s 0m0.001s\n0m0.1s 0m0.000s\n"]) {
      assert.equal(parseAccounting(bad).cpu, null, JSON.stringify(bad));
    }
  });
});

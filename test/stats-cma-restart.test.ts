/**
 * No stats batch lost, none twice, across CMA restarts: a real nanoprobe process (libvirt test
 * driver, one batch per second) keeps sending while the real CMA process is killed (SIGKILL, so
 * acknowledgements can die with it) and started again, then stopped cleanly and started again.
 * Every batch the nanoprobe made up to the last one the CMA took arrives exactly once, counted
 * over all CMA incarnations (their debug logs); after each restart the stream starts over
 * self-contained, then goes on in deltas.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { LogLine, RunningProcess } from "./support/processes.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("system: stats batches across CMA restarts", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-stats-restart-"));
  const fx = writeFixture(12);
  const procs: RunningProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every interval's batch arrives once while the CMA is killed, restarted, stopped and restarted", async () => {
    const keys = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(keys.code, 0, keys.stderr);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const common = { RINGWATCH_CLUSTER: "statsrestart", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" };
    const startCma = (n: number): RunningProcess => {
      const p = startProcess(`cma${n}`, CMA_CLI, ["run", "--debug"], {
        ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
        RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_HTTP_LISTEN: "127.0.0.1:0",
      });
      procs.push(p);
      return p;
    };
    const cmas = [startCma(1)];
    await cmas[0].waitFor((l) => l.msg === "CMA started", 10_000, "CMA started");
    const np = startProcess("hv1", NANOPROBE_CLI, ["run", "--debug"], {
      ...common, RINGWATCH_IDENTITY: "hv1", RINGWATCH_BIND_ADDRESS: "127.0.0.2", RINGWATCH_PORT: String(port), RINGWATCH_CMA: `127.0.0.1:${port}`,
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_LIBVIRT_URI: fx.uri,
      RINGWATCH_SAMPLE_MS: "200", RINGWATCH_REPORT_INTERVAL_MS: "1000", RINGWATCH_DISCOVERY_DIR: "",
    });
    procs.push(np);

    const acceptedBy = (c: RunningProcess): LogLine[] => c.lines.filter((l) => l.msg === "stats batch accepted" && l.host === "hv1");
    const made = (): LogLine[] => np.lines.filter((l) => l.msg === "stats batch made");
    const acceptedCount = (c: RunningProcess, n: number, what: string): Promise<LogLine> =>
      c.waitFor(() => acceptedBy(c).length >= n, 30_000, what);

    await acceptedCount(cmas[0], 3, "three batches at the first CMA");
    // 1. SIGKILL: whatever the CMA had not acknowledged is still queued at the nanoprobe
    cmas[0].child.kill("SIGKILL");
    await cmas[0].exited;
    const madeWhileAway = made().length;
    await sleep(3500);
    assert.ok(made().length - madeWhileAway >= 2, "batches made while the CMA was away");
    cmas.push(startCma(2));
    await acceptedCount(cmas[1], 5, "five batches at the restarted CMA");
    // 2. SIGTERM, a shorter absence
    assert.equal(await cmas[1].stop(), 0);
    await sleep(1500);
    cmas.push(startCma(3));
    await acceptedCount(cmas[2], 4, "four batches at the third CMA");

    const all = cmas.flatMap(acceptedBy);
    const seqs = all.map((l) => l.seq as number);
    const streams = new Set(all.map((l) => l.stream));
    assert.equal(streams.size, 1, "one nanoprobe process, one stream");
    const last = Math.max(...seqs);
    const madeSeqs = made().map((l) => l.seq as number).filter((s) => s <= last);
    // none twice (over all CMA incarnations), none lost (every batch made up to the last one taken)
    assert.deepEqual([...seqs].sort((a, b) => a - b), madeSeqs.sort((a, b) => a - b));
    assert.equal(new Set(seqs).size, seqs.length);
    // and the data is what was made: each accepted batch names its interval; intervals follow each other
    const starts = all.map((l) => [l.seq as number, l.intervalStart as number] as const).sort((a, b) => a[0] - b[0]);
    const madeStarts = new Map(made().map((l) => [l.seq as number, l.intervalStart as number]));
    for (const [seq, start] of starts) assert.equal(start, madeStarts.get(seq), `batch ${seq}: interval start`);
    // after each restart the nanoprobe started over with a self-contained batch, then deltas again
    const sent = np.lines.filter((l) => l.msg === "stats batch sent");
    assert.ok(sent.filter((l) => l.selfContained === true).length >= cmas.length, "a self-contained batch per CMA incarnation");
    for (const c of cmas) assert.ok(acceptedBy(c).some((l) => l.selfContained === false), `${c.name}: deltas`);
    // nothing refused as undecodable anywhere
    for (const c of cmas) assert.equal(c.lines.filter((l) => l.msg === "stats batch refused").length, 0, `${c.name} refused batches`);
    assert.ok(sent.length >= seqs.length, "sent at least once each");
  });
});

/**
 * SIGTERM loses no samples: a real nanoprobe process (libvirt test driver, sampling every 200 ms,
 * one report per 10 minutes, so no regular batch comes during the test) is stopped after a few
 * sampling passes. The CMA (in process, to read the batch it took) receives one final, partial
 * batch holding those samples, and takes it before the goodbye.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, loadCommandPrivateKey, silentLogger } from "@ringwatch/shared";
import { Cma, cmaConfig } from "@ringwatch/cma";
import type { MembershipEvent, StatsEvent } from "@ringwatch/cma";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";

describe("system: a nanoprobe stopped with SIGTERM sends its last samples before the goodbye", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-last-batch-"));
  const fx = writeFixture(4);
  let np: RunningProcess | undefined;
  let cma: Cma | undefined;
  after(async () => {
    await np?.stop();
    await cma?.stop();
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the samples since the last report reach the CMA as one partial batch, ahead of hostLeft", async () => {
    const keys = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(keys.code, 0, keys.stderr);
    const cluster = "lastbatch";
    cma = await Cma.start(cmaConfig({ cluster, bindAddress: "127.0.0.1", port: 0, multicastGroup: "", dataDir: join(dir, "cma"), httpListen: "off", graphStore: "none" }), {
      keyring: Keyring.fromFile(cluster, join(dir, "keys/cluster.key")), commandKey: loadCommandPrivateKey(join(dir, "keys/cma-command.key")), log: silentLogger(),
    });
    // one ordered record of what the CMA took: stats batches and membership events
    const seen: ({ kind: "stats"; e: StatsEvent } | { kind: "membership"; e: MembershipEvent })[] = [];
    cma.stats.on("event", (e) => seen.push({ kind: "stats", e }));
    cma.rings.membership.on("event", (e) => seen.push({ kind: "membership", e }));

    np = startProcess("hv1", NANOPROBE_CLI, ["run"], {
      RINGWATCH_IDENTITY: "hv1", RINGWATCH_CLUSTER: cluster, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"),
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_CMA: `127.0.0.1:${cma.endpoint.address().port}`,
      RINGWATCH_BIND_ADDRESS: "127.0.0.2", RINGWATCH_PORT: "0", RINGWATCH_JOIN_INTERVAL_MS: "100", RINGWATCH_LIBVIRT_URI: fx.uri,
      RINGWATCH_SAMPLE_MS: "200", RINGWATCH_REPORT_INTERVAL_MS: "10m", RINGWATCH_STATUS_INTERVAL_MS: "300",
      RINGWATCH_DISCOVERY_DIR: "", RINGWATCH_ZABBIX_AGENT_CONFIG: "",
    });
    const passes = (l: Record<string, unknown>): number => ((l.hypervisor as { sampler?: { passes?: number } } | null)?.sampler?.passes ?? 0);
    await np.waitFor((l) => l.msg === "registered with the CMA", 15_000, "registered");
    const status = await np.waitFor((l) => l.msg === "status" && passes(l) >= 5, 20_000, "five sampling passes");
    assert.ok(!seen.some((s) => s.kind === "stats"), "no regular batch yet (10-minute interval)");

    np.child.kill("SIGTERM");
    assert.equal(await np.exited, 0);
    const last = np.lines.find((l) => l.msg === "last stats batch before the goodbye");
    assert.ok(last, "the nanoprobe made a last batch");
    assert.ok(np.lines.some((l) => l.msg === "goodbye acknowledged by the CMA"), "batch and goodbye acknowledged within goodbyeTimeoutMs");

    const batches = seen.filter((s) => s.kind === "stats").map((s) => s.e as StatsEvent);
    assert.equal(batches.length, 1, "one batch: the last one");
    const left = seen.findIndex((s) => s.kind === "membership" && s.e.type === "hostLeft" && s.e.host === "hv1");
    assert.ok(left > seen.findIndex((s) => s.kind === "stats"), "the batch was taken before the goodbye");
    const [{ batch, host }] = batches;
    assert.equal(host, "hv1");
    assert.ok(batch.intervalMs < 600_000, `partial interval (${batch.intervalMs} ms)`);
    assert.equal(batch.intervalStart, last.intervalStart);
    // every running guest's series, each with the samples of the passes made before SIGTERM (a rate needs two passes)
    const running = fx.domains.filter((d) => d.state === "running").map((d) => d.uuid);
    assert.deepEqual([...new Set(batch.series.map((s) => s.domain))].sort(), running.sort());
    const cpu = batch.series.filter((s) => s.metric === "cpu");
    assert.equal(cpu.length, running.length);
    for (const s of cpu) assert.ok(s.data.count >= passes(status) - 1, `${s.domain} cpu: ${s.data.count} samples, ${passes(status)} passes seen before SIGTERM`);
    assert.equal(batch.series.reduce((n, s) => n + s.data.count, 0), last.samples, "the CMA took every sample the nanoprobe put in it");
  });
});

/**
 * The monitoring-error registry and its watchers, fed by the real parts: the alert and stats
 * intake, the durable sender against a closed port (past its spool bound it drops), and the graph
 * ingestor over a real Kuzu store whose worker is killed in the middle of a write.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatsBatchSender, compactSamples, silentLogger } from "@ringwatch/shared";
import { unusedTcpPort, waitUntil } from "@ringwatch/shared/testing";
import { AlertStore } from "../../src/intake/alert-store.js";
import { StatsStore } from "../../src/intake/stats-store.js";
import { Membership } from "../../src/membership/membership.js";
import { MonitoringErrors } from "../../src/monitoring-errors/monitoring-errors.js";
import type { MonitoringErrorEvent, MonitoringErrorSource } from "../../src/monitoring-errors/monitoring-errors.js";
import { watchAlerts, watchGraph, watchRemovals, watchSender, watchStats } from "../../src/monitoring-errors/watchers.js";
import { DurableSender } from "../../src/zabbix/sender/durable-sender.js";
import { KuzuStore } from "../../src/graph/kuzu-store.js";
import { Feed, captured } from "../graph/graph-fixtures.js";

const log = silentLogger();
const dir = mkdtempSync(join(tmpdir(), "rw-monerr-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function recorder(errors: MonitoringErrors): string[] {
  const seen: string[] = [];
  errors.on("event", (e: MonitoringErrorEvent) => seen.push(`${e.change} ${e.error.host}/${e.error.source}/${e.error.subject}`));
  return seen;
}

describe("cma/monitoring-errors", function () {
  this.timeout(120_000);

  it("raises, updates and clears one error per host, source and subject; keeps the cleared ones, bounded", () => {
    let now = 1000;
    const errors = new MonitoringErrors(log, { keepCleared: 2 }, () => now);
    const seen = recorder(errors);
    assert.ok(errors.raise("hv1", "discoveryError", "lldp", { exit: 1 }));
    now = 2000;
    assert.ok(errors.raise("hv1", "discoveryError", "lldp", { exit: 2 }), "again: an update");
    assert.ok(errors.raise("hv1", "discoveryError", "nics", { exit: 1 }));
    assert.ok(errors.raise("cma", "graphWrite", "", { error: "disk full" }));
    assert.deepEqual(errors.active({ host: "hv1" }).map((e) => [e.subject, e.since, e.lastSeen, e.evidence.exit]), [["lldp", 1000, 2000, 2], ["nics", 2000, 2000, 1]]);
    assert.deepEqual(errors.active({ source: "graphWrite" }).map((e) => e.host), ["cma"]);
    now = 3000;
    assert.equal(errors.clearAll("hv1", "discoveryError"), 2);
    assert.equal(errors.clear("hv1", "discoveryError", "lldp"), false, "clearing twice clears nothing");
    assert.ok(errors.clear("cma", "graphWrite"));
    assert.deepEqual(errors.active(), []);
    assert.deepEqual(errors.cleared().map((e) => [e.host, e.subject, e.active, e.clearedAt]), [["hv1", "nics", false, 3000], ["cma", "", false, 3000]], "the newest two");
    assert.deepEqual(seen, [
      "raised hv1/discoveryError/lldp", "updated hv1/discoveryError/lldp", "raised hv1/discoveryError/nics", "raised cma/graphWrite/",
      "cleared hv1/discoveryError/lldp", "cleared hv1/discoveryError/nics", "cleared cma/graphWrite/",
    ]);
    assert.deepEqual(errors.counters, { raised: 3, updated: 1, cleared: 3, refused: 0 });
  });

  it("refuses bad input with a count: unknown source, bad host or subject, evidence not a small JSON object; and past maxActive", () => {
    const errors = new MonitoringErrors(log, { maxActive: 2 });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const bad: [string, string, string, unknown][] = [
      ["hv1", "meteor", "", {}], ["", "graphWrite", "", {}], ["h".repeat(256), "graphWrite", "", {}], ["hv1", "graphWrite", "s".repeat(256), {}],
      ["hv1", "graphWrite", "", [1]], ["hv1", "graphWrite", "", "text"], ["hv1", "graphWrite", "", null], ["hv1", "graphWrite", "", circular],
      ["hv1", "graphWrite", "", { big: "x".repeat(17 * 1024) }],
    ];
    for (const [h, s, sub, ev] of bad) assert.equal(errors.raise(h, s as MonitoringErrorSource, sub, ev as Record<string, unknown>), false, `case ${bad.findIndex((b) => b[3] === ev && b[0] === h && b[1] === s && b[2] === sub)}`);
    assert.equal(errors.counters.refused, bad.length);
    assert.ok(errors.raise("hv1", "statsRefused", "", {}));
    assert.ok(errors.raise("hv2", "statsRefused", "", {}));
    assert.equal(errors.raise("hv3", "statsRefused", "", {}), false, "a third active one is refused");
    assert.ok(errors.raise("hv1", "statsRefused", "", { again: true }), "an update of an active one is not");
    assert.equal(errors.counters.refused, bad.length + 1);
    assert.equal(errors.active().length, 2);
  });

  it("host-side errors follow the nanoprobes' alerts (discovery errors, libvirt unreachable, stalls); other alerts are not monitoring errors", () => {
    const alerts = new AlertStore(log);
    alerts.apply("hv0", { kind: "libvirtUnreachable", subject: "libvirt", subjectName: "qemu:///system", active: true, evidenceJson: '{"error":"Failed to connect socket"}', atMs: 5 });
    const errors = new MonitoringErrors(log);
    const stop = watchAlerts(errors, alerts);
    assert.deepEqual(errors.active().map((e) => [e.host, e.source, e.evidence.error]), [["hv0", "libvirtUnreachable", "Failed to connect socket"]], "active before the watch began");
    alerts.apply("hv1", { kind: "discoveryError", subject: "lldp", subjectName: "lldp", active: true, evidenceJson: '{"exit":3}', atMs: 10 });
    alerts.apply("hv1", { kind: "vcpuAbuse", subject: "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b", subjectName: "web1", active: true, evidenceJson: "{}", atMs: 10 });
    const e = errors.get("hv1", "discoveryError", "lldp")!;
    assert.deepEqual(e.evidence, { exit: 3, subjectName: "lldp", reportedAt: 10 });
    assert.equal(errors.active().length, 2, "the vCPU abuse alert is not one");
    alerts.apply("hv1", { kind: "discoveryError", subject: "lldp", subjectName: "lldp", active: false, evidenceJson: "{}", atMs: 20 });
    alerts.apply("hv0", { kind: "libvirtUnreachable", subject: "libvirt", subjectName: "qemu:///system", active: false, evidenceJson: "{}", atMs: 20 });
    assert.deepEqual(errors.active(), []);
    assert.equal(errors.cleared().length, 2);
    // a stall of the nanoprobe itself is one-shot (never cleared by it): recorded, and over at once
    alerts.apply("hv2", { kind: "localStall", subject: "nanoprobe", subjectName: "hv2", active: true, evidenceJson: '{"stallMs":5000}', atMs: 25 });
    assert.deepEqual(errors.active(), [], "a stall does not stay active");
    assert.deepEqual(errors.cleared({ source: "localStall" }).map((x) => [x.host, x.evidence.stallMs]), [["hv2", 5000]]);
    stop();
    alerts.apply("hv1", { kind: "discoveryError", subject: "os", subjectName: "os", active: true, evidenceJson: "{}", atMs: 30 });
    assert.deepEqual(errors.active(), [], "nothing after stop");
  });

  it("stats batches refused: raised per host with the decoder's error, counted; cleared by the host's next accepted batch, or when it dies", () => {
    const stats = new StatsStore(log);
    const membership = new Membership(1);
    const errors = new MonitoringErrors(log);
    watchStats(errors, stats, membership);
    assert.equal(stats.apply("hv1", Uint8Array.from([1, 2, 3])), false);
    assert.equal(stats.apply("hv1", Uint8Array.from([9, 9])), false);
    assert.equal(stats.apply("hv2", Uint8Array.from([])), false);
    const e = errors.get("hv1", "statsRefused")!;
    assert.equal(e.evidence.refusedBatches, 2);
    assert.equal(typeof e.evidence.error, "string");
    assert.equal(errors.active({ source: "statsRefused" }).length, 2);
    const tx = new StatsBatchSender();
    tx.add({ intervalStart: 1_700_000_000_000, intervalMs: 60_000, series: [{ domain: "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b", metric: "cpu", kind: "cpu", data: compactSamples([1, 2, 3], 1_700_000_000_000, 1_700_000_002_000) }] });
    assert.ok(stats.apply("hv1", tx.drain()[0].bytes));
    assert.deepEqual(errors.active().map((x) => x.host), ["hv2"], "hv1 cleared by its accepted batch");
    membership.record({ type: "hostDead", host: "hv2", segment: "10.0.0.0/24", reportedBy: ["hv1"], confirmedBy: "probe", at: 1 });
    assert.deepEqual(errors.active(), [], "a dead host's stream is forgotten, and its error with it");
  });

  it("a host taken out of service takes its monitoring errors with it (cleared, kept in the cleared list); other hosts keep theirs", () => {
    const membership = new Membership(1);
    const errors = new MonitoringErrors(log);
    watchRemovals(errors, membership);
    errors.raise("hv1", "libvirtUnreachable", "libvirt", { error: "Failed to connect socket" });
    errors.raise("hv1", "discoveryError", "lldp", { exit: 3 });
    errors.raise("hv2", "discoveryError", "lldp", { exit: 3 });
    membership.record({ type: "hostRemoved", host: "hv1", segment: "10.0.0.0/24", was: "dead", purge: false, at: 1 });
    assert.deepEqual(errors.active().map((x) => x.host), ["hv2"]);
    assert.equal(errors.cleared({ host: "hv1" }).length, 2);
  });

  it("the Zabbix sender dropping values (spool full, Zabbix unreachable): raised on the CMA with the count by reason, cleared after the quiet period", async () => {
    const sender = DurableSender.start({
      server: { host: "127.0.0.1", port: await unusedTcpPort() }, spoolDir: join(dir, "spool"), spoolMaxBytes: 1 << 20,
      batchMax: 100, batchMs: 10, connectTimeoutMs: 1000, replyTimeoutMs: 1000, backoffMaxMs: 200, unknownHoldMs: 60_000, compress: false,
    }, log);
    const errors = new MonitoringErrors(log);
    const seen = recorder(errors);
    const stop = watchSender(errors, sender, "cma", 300);
    try {
      for (let i = 0; i < 200; i++) sender.push(Array.from({ length: 100 }, (_, j) => ({ host: "hv-1", key: "ringwatch.test", value: i * 100 + j, clock: 1_800_000_000 + i, ns: j })));
      const e = errors.get("cma", "senderDropped")!;
      assert.ok(e, "raised");
      assert.equal(e.evidence.dropped, sender.counters.dropped.spoolFull);
      assert.deepEqual(e.evidence.byReason, { spoolFull: sender.counters.dropped.spoolFull });
      assert.equal(seen.filter((s) => s.startsWith("raised")).length, 1, "one error, updated by each later drop");
      await waitUntil(() => errors.active().length === 0, 5000, "cleared after 300 ms without drops");
      assert.equal(errors.cleared()[0].source, "senderDropped");
    } finally {
      stop();
      await sender.stop();
    }
  });

  it("graph writes failing (the Kuzu worker killed in a write): raised on the CMA with the store's error; cleared by the retry that succeeds", async () => {
    const store = new KuzuStore({ path: join(dir, "graph"), bufferPoolMb: 64, log });
    await store.init();
    const feed = new Feed(store);
    const errors = new MonitoringErrors(log);
    const seen = recorder(errors);
    watchGraph(errors, feed.ingestor.writes, "cma");
    try {
      for (let i = 0; i < 50; i++) feed.host(`hv${i}`, `10.9.${i}.1`, "alive");
      for (let i = 0; i < 50; i++) feed.doc(`hv${i}`, captured("libvirt-domains"), 1_763_700_000_000 + i);
      await feed.ingestor.ready; // its start-up read done: the kill below hits the write
      const pid = store.workerPid!;
      const flushing = feed.flush();
      await waitUntil(() => store.inFlight > 0, 10_000, "the write sent", 1);
      process.kill(pid, "SIGKILL");
      await flushing;
      assert.ok(seen.includes("raised cma/graphWrite/"), seen.join(", "));
      await waitUntil(() => errors.active().length === 0, 30_000, "cleared by the retry", 100);
      await feed.ingestor.flush();
      assert.equal(feed.ingestor.pendingItems, 0, "nothing left to write");
      assert.deepEqual(seen, ["raised cma/graphWrite/", "cleared cma/graphWrite/"]);
      assert.equal(errors.cleared()[0].evidence.code, "store");
    } finally {
      await feed.ingestor.stop();
      await store.close();
    }
  });
});

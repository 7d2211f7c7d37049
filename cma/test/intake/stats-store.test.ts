import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatsBatchSender, compactSamples, metricKind, silentLogger } from "@ringwatch/shared";
import type { DrainedBatch, StatsBatch } from "@ringwatch/shared";
import { RESEND_QUIET_MS, StatsStore } from "../../src/index.js";
import type { StatsEvent } from "../../src/index.js";

const D1 = "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b";

function batch(minute: number): StatsBatch {
  const start = 1_700_000_000_000 + minute * 60_000;
  return {
    intervalStart: start, intervalMs: 60_000,
    series: ["cpu", "vcpu.0.time", "net.tap0.rx.bytes"].map((metric, i) => ({
      domain: D1, metric, kind: metricKind(metric), data: compactSamples([i, i + minute, 3 * i + 7], start, start + 2000),
    })),
  };
}

function next(tx: StatsBatchSender, minute: number): DrainedBatch {
  tx.add(batch(minute));
  return tx.drain()[0];
}

describe("cma/intake/stats-store", () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "rw-stats-store-")); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts a stream once, in order: one event per batch, duplicates dropped and counted", () => {
    const s = new StatsStore(silentLogger());
    const events: StatsEvent[] = [];
    s.on("event", (e) => events.push(e));
    const tx = new StatsBatchSender();
    const b1 = next(tx, 0);
    const b2 = next(tx, 1);
    assert.equal(s.apply("hv1", b1.bytes), true);
    assert.equal(s.apply("hv1", b2.bytes), true);
    assert.equal(s.apply("hv1", b2.bytes), false);
    assert.deepEqual(events.map((e) => [e.host, e.stream, e.seq]), [["hv1", tx.stream, 1], ["hv1", tx.stream, 2]]);
    assert.equal(s.latest("hv1")!.intervalStart, batch(1).intervalStart);
    assert.deepEqual([s.counters.batches, s.counters.duplicates, s.counters.selfContained, s.counters.series], [2, 1, 1, 6]);
  });

  it("refuses garbage with a count, never throws", () => {
    const s = new StatsStore(silentLogger());
    for (const bad of [Buffer.alloc(0), Buffer.from("{}"), Buffer.from([0xb5, 0x21, 1, 2, 3])]) assert.equal(s.apply("hv1", bad), false);
    assert.equal(s.counters.refused, 3);
  });

  it("asks for a resend once per quiet period when it cannot decode, then takes the self-contained resend", () => {
    const asked: [string, number, number][] = [];
    const s = new StatsStore(silentLogger(), { requestResend: (h, stream, from) => asked.push([h, stream, from]) });
    const tx = new StatsBatchSender();
    assert.ok(s.apply("hv1", next(tx, 0).bytes));
    s.forget("hv1"); // e.g. the host was declared dead meanwhile
    const d2 = next(tx, 1);
    const d3 = next(tx, 2);
    const t0 = 1_000_000;
    assert.equal(s.apply("hv1", d2.bytes, t0), false);
    assert.equal(s.apply("hv1", d3.bytes, t0 + 10), false); // the same point: not asked again
    assert.deepEqual(asked, [["hv1", tx.stream, 2]]);
    assert.equal(s.counters.awaitingResend, 1);
    assert.equal(s.apply("hv1", d2.bytes, t0 + RESEND_QUIET_MS + 1), false); // the request may have been lost
    assert.equal(asked.length, 2);
    tx.resend(tx.stream, 2);
    const again = tx.drain();
    assert.deepEqual(again.map((d) => [d.seq, d.selfContained]), [[2, true], [3, false]]);
    for (const d of again) assert.equal(s.apply("hv1", d.bytes, t0 + RESEND_QUIET_MS + 2), true);
    assert.equal(s.counters.batches, 3);
  });

  it("keeps stream positions in dataDir: a restarted store still refuses what it accepted", () => {
    const tx = new StatsBatchSender();
    const d = [0, 1, 2].map((m) => next(tx, m));
    const s1 = new StatsStore(silentLogger(), { dataDir: dir });
    for (const x of d.slice(0, 2)) assert.ok(s1.apply("hv1", x.bytes));
    const asked: number[] = [];
    const s2 = new StatsStore(silentLogger(), { dataDir: dir, requestResend: (_h, _s, from) => asked.push(from) });
    // batch 2 again, its ack lost with the old store: a duplicate
    tx.restart();
    tx.resend(tx.stream, 2);
    const [r2, r3] = tx.drain();
    assert.equal(s2.apply("hv1", r2.bytes), false);
    assert.equal(s2.counters.duplicates, 1);
    assert.equal(s2.apply("hv1", r3.bytes), true); // the duplicate still gave it the chain's state
    assert.deepEqual(asked, []);
    assert.equal(d.length, 3);
  });
});

describe("cma/intake/stats-store: positions Zabbix confirmed (stats-delivered.json)", () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "rw-stats-delivered-")); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const delivered = (): Record<string, { stream: number; lastSeq: number }> => (JSON.parse(readFileSync(join(dir, "stats-delivered.json"), "utf8")) as { hosts: Record<string, { stream: number; lastSeq: number }> }).hosts;

  it("a batch counts as delivered only once nothing accepted before it waits; accepted positions are kept apart", async () => {
    let pendingSince: number | undefined;
    const s = new StatsStore(silentLogger(), { dataDir: dir, undeliveredSince: () => pendingSince });
    const tx = new StatsBatchSender();
    // the bridge puts each batch's values on their way as the batch is taken: here, pending from then on
    s.on("event", () => (pendingSince ??= Date.now()));
    assert.equal(s.apply("hv1", next(tx, 0).bytes), true);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(s.apply("hv1", next(tx, 1).bytes), true);
    s.close();
    assert.deepEqual(delivered(), {}, "nothing confirmed yet");
    assert.equal(s.delivered!.position("hv1"), undefined);
    const accepted = JSON.parse(readFileSync(join(dir, "stats-streams.json"), "utf8")) as { hosts: Record<string, { lastSeq: number }> };
    assert.equal(accepted.hosts.hv1.lastSeq, 2, "accepted: both");
    // Zabbix confirmed everything: both delivered
    pendingSince = undefined;
    s.close();
    assert.deepEqual(delivered(), { hv1: { stream: tx.stream, lastSeq: 2 } });
  });

  it("a batch accepted before the oldest pending value is delivered, one after it is not", async () => {
    let pendingSince: number | undefined;
    const s = new StatsStore(silentLogger(), { dataDir: dir, undeliveredSince: () => pendingSince });
    const tx = new StatsBatchSender();
    s.apply("hv1", next(tx, 0).bytes);
    await new Promise((r) => setTimeout(r, 5));
    pendingSince = Date.now(); // batch 2's values wait from here
    await new Promise((r) => setTimeout(r, 5));
    s.apply("hv1", next(tx, 1).bytes);
    s.close();
    assert.deepEqual(delivered(), { hv1: { stream: tx.stream, lastSeq: 1 } });
  });

  it("without undeliveredSince (no Zabbix) there is no such file", () => {
    const s = new StatsStore(silentLogger(), { dataDir: dir });
    s.apply("hv1", next(new StatsBatchSender(), 0).bytes);
    s.close();
    assert.equal(s.delivered, undefined);
    assert.throws(() => readFileSync(join(dir, "stats-delivered.json")), /ENOENT/);
  });
});

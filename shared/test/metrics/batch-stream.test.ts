import assert from "node:assert/strict";
import {
  BatchCodecError, StatsBatchReceiver, StatsBatchSender, UnknownKeyTableError, compactSamples, decodeKeyTable, makeKeyTable, metricKind,
} from "../../src/index.js";
import type { SeriesKey, StatsBatch } from "../../src/index.js";

const D1 = "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b";
const D2 = "0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d";

function batch(domains: string[], minute = 0): StatsBatch {
  const start = 1_700_000_000_000 + minute * 60_000;
  const metrics = ["cpu", "vcpu.0.time", "vcpu.0.delay", "block.vda.rd.bytes", "net.tap0.tx.bytes"];
  return {
    intervalStart: start,
    intervalMs: 60_000,
    series: domains.flatMap((domain) => metrics.map((metric, i) => ({
      domain, metric, kind: metricKind(metric), data: compactSamples([i, i + minute, 2 * i + 3], start, start + 2000),
    }))),
  };
}

describe("metrics/key table across batches", () => {
  it("a key table round-trips, has an order-independent id and changes id when its keys change", () => {
    const keys: SeriesKey[] = [
      { domain: D1, metric: "cpu", kind: "cpu" }, { domain: "", metric: "cpu", kind: "cpu" },
      { domain: "6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B", metric: "net.tap0.rx.bytes", kind: "rate" }, // upper case: kept as text
      { domain: "hv-7", metric: "mem.rss", kind: "memory" }, { domain: D2, metric: "vcpu.1.delay", kind: "cpu" },
    ];
    const t = makeKeyTable(keys);
    const back = decodeKeyTable(t.bytes);
    assert.equal(back.id, t.id);
    assert.deepEqual([...back.keys], [...t.keys]);
    assert.equal(makeKeyTable([...keys].reverse()).id, t.id);
    assert.notEqual(makeKeyTable(keys.slice(1)).id, t.id);
    assert.notEqual(makeKeyTable([...keys, { domain: D1, metric: "vcpu.1.delay", kind: "cpu" }]).id, t.id);
    assert.throws(() => makeKeyTable([keys[0], keys[0]]), RangeError);
    assert.throws(() => makeKeyTable([keys[0], { ...keys[1], kind: "rate" }]), RangeError); // one metric, two kinds
    // a non-canonical encoding of the same keys is refused (it would have another id)
    const bad = Buffer.from(t.bytes);
    bad[bad.length - 1] |= 0x80; // a bit for a key that was not there, beyond the last one
    assert.throws(() => decodeKeyTable(bad), BatchCodecError);
  });

  it("sends the table only when it changed; the receiver keeps one per host", () => {
    const tx = new StatsBatchSender();
    const rx = new StatsBatchReceiver();
    const first = tx.encode(batch([D1, D2], 0));
    assert.equal(first.tableIncluded, true);
    const second = tx.encode(batch([D1, D2], 1));
    assert.equal(second.tableIncluded, false);
    assert.equal(second.tableId, first.tableId);
    assert.ok(second.bytes.length < first.bytes.length - 40, `${second.bytes.length} vs ${first.bytes.length}`);
    assert.equal(rx.decode("hv1", first.bytes).series.length, 10);
    assert.equal(rx.decode("hv1", second.bytes).intervalStart, batch([], 1).intervalStart);
    assert.equal(rx.tableIdOf("hv1"), first.tableId);
    // another host has no table yet, even though it is the same one
    assert.throws(() => rx.decode("hv2", second.bytes), UnknownKeyTableError);
    // a domain starts: the table travels again and replaces the old one
    const D3 = "11111111-2222-4333-8444-555555555555";
    const grown = tx.encode(batch([D1, D2, D3], 2));
    assert.equal(grown.tableIncluded, true);
    assert.notEqual(grown.tableId, first.tableId);
    assert.equal(rx.decode("hv1", grown.bytes).series.length, 15);
    assert.equal(rx.tableIdOf("hv1"), grown.tableId);
    const lean = tx.encode(batch([D1, D2, D3], 3));
    assert.equal(lean.tableIncluded, false);
    assert.equal(rx.decode("hv1", lean.bytes).series.length, 15);
    // a batch naming the old table is now unknown
    assert.throws(() => rx.decode("hv1", second.bytes), UnknownKeyTableError);
  });

  it("recovers when the receiver restarts: unknown table → resend → decodes", () => {
    const tx = new StatsBatchSender();
    new StatsBatchReceiver().decode("hv1", tx.encode(batch([D1], 0)).bytes);
    const rx = new StatsBatchReceiver(); // restarted CMA
    const lean = tx.encode(batch([D1], 1));
    let unknown: unknown;
    try {
      rx.decode("hv1", lean.bytes);
    } catch (e) {
      unknown = e;
    }
    assert.ok(unknown instanceof UnknownKeyTableError);
    assert.equal(unknown.tableId, lean.tableId);
    tx.resendTable();
    const again = tx.encode(batch([D1], 2));
    assert.equal(again.tableIncluded, true);
    assert.equal(rx.decode("hv1", again.bytes).series.length, 5);
    assert.equal(rx.decode("hv1", tx.encode(batch([D1], 3)).bytes).series.length, 5);
  });

  it("refreshes the table every refreshEvery batches and ignores tables from batches that fail", () => {
    const tx = new StatsBatchSender({ refreshEvery: 3 });
    const included = Array.from({ length: 7 }, (_, i) => tx.encode(batch([D1], i)).tableIncluded);
    assert.deepEqual(included, [true, false, false, true, false, false, true]);
    const rx = new StatsBatchReceiver();
    const good = new StatsBatchSender().encode(batch([D1], 0));
    rx.decode("hv1", good.bytes);
    const other = new StatsBatchSender().encode(batch([D2], 0)).bytes;
    assert.throws(() => rx.decode("hv1", other.subarray(0, other.length - 1)), BatchCodecError);
    assert.equal(rx.tableIdOf("hv1"), good.tableId);
    rx.forget("hv1");
    assert.equal(rx.tableIdOf("hv1"), undefined);
  });
});

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Reassembler, splitPayload } from "../../src/index.js";

const limits = { maxMessageBytes: 1 << 20, maxPartialMessages: 8, maxPartialBytes: 64 * 1024, timeoutMs: 1000 };

describe("wire/fragment", () => {
  it("splits a 200 KB message and reassembles it in any order", () => {
    const msg = randomBytes(200 * 1024);
    const parts = splitPayload(msg, 1300);
    assert.equal(parts.length, Math.ceil(msg.length / 1300));
    const r = new Reassembler({ ...limits, maxPartialBytes: 1 << 20 });
    const order = parts.map((_, i) => i).sort(() => Math.random() - 0.5);
    let out: Buffer | undefined;
    for (const i of order) {
      const o = r.add("k", i, parts.length, parts[i], false, 0, 1300);
      if (o.kind === "complete") out = o.payload;
      else assert.equal(o.kind, "pending");
    }
    assert.deepEqual(out, msg);
    assert.equal(r.partialBytes, 0);
  });

  it("counts duplicates and rejects inconsistent or oversized fragments", () => {
    const r = new Reassembler(limits);
    assert.equal(r.add("k", 0, 3, Buffer.alloc(10), false, 0, 100).kind, "pending");
    assert.equal(r.add("k", 0, 3, Buffer.alloc(10), false, 0, 100).kind, "duplicate");
    assert.deepEqual(r.add("k", 1, 4, Buffer.alloc(10), false, 0, 100), { kind: "rejected", reason: "inconsistent" });
    assert.deepEqual(r.add("big", 0, 60000, Buffer.alloc(1300), false, 0, 1300), { kind: "rejected", reason: "oversized" });
  });

  it("stays within its memory bounds under a fragment flood, evicting the oldest", () => {
    const r = new Reassembler(limits);
    for (let i = 0; i < 10_000; i++) {
      r.add(`flood-${i}`, 0, 50, Buffer.alloc(1000), false, 0, 1300);
      assert.ok(r.partialBytes <= limits.maxPartialBytes);
      assert.ok(r.partialCount <= limits.maxPartialMessages);
    }
    assert.ok(r.evicted >= 10_000 - limits.maxPartialMessages);
  });

  it("expires partial messages after the timeout", () => {
    const r = new Reassembler(limits);
    r.add("old", 0, 2, Buffer.alloc(10), false, 0, 100);
    r.add("new", 0, 2, Buffer.alloc(10), false, 900, 100);
    r.expire(1500);
    assert.equal(r.partialCount, 1);
    assert.equal(r.expired, 1);
    assert.equal(r.add("new", 1, 2, Buffer.alloc(10), false, 1500, 100).kind, "complete");
  });
});

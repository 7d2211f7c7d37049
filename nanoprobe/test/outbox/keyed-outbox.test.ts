import assert from "node:assert/strict";
import { DEFAULT_OUTBOX_MAX_KEYS, KeyedOutbox } from "../../src/outbox/keyed-outbox.js";

interface Item {
  key: string;
  state: string;
}

/** An outbox whose sends the test settles one by one, like a CMA that answers or is gone. */
function harness(maxKeys?: number) {
  const inFlight: { item: Item; ack: () => void; fail: () => void }[] = [];
  const cma = { ready: true };
  const outbox = new KeyedOutbox<Item>({
    send: (item) => new Promise<void>((resolve, reject) => inFlight.push({ item, ack: resolve, fail: () => reject(new Error("not acknowledged")) })),
    ready: () => cma.ready,
    maxKeys,
  });
  /** settle the in-flight sends of these states, in this order */
  const settle = async (how: "ack" | "fail", ...states: string[]): Promise<void> => {
    for (const s of states) {
      const i = inFlight.findIndex((f) => f.item.state === s);
      assert.ok(i >= 0, `${s} in flight`);
      const [f] = inFlight.splice(i, 1);
      f[how]();
      await new Promise(setImmediate);
    }
  };
  const add = (key: string, state: string, at: number): boolean => outbox.add(key, { key, state }, at);
  const sentStates = (): string[] => inFlight.map((f) => f.item.state);
  return { outbox, cma, inFlight, settle, add, sentStates };
}

describe("nanoprobe/outbox/keyed-outbox", () => {
  it("sends at once while the CMA can take items; holds them otherwise and sends them on flush, oldest observation first", () => {
    const h = harness();
    h.add("a", "a1", 10);
    assert.deepEqual(h.sentStates(), ["a1"]);
    h.cma.ready = false;
    h.add("b", "b1", 30);
    h.add("c", "c1", 20);
    assert.deepEqual(h.sentStates(), ["a1"]);
    assert.equal(h.outbox.size, 2);
    h.outbox.flush();
    assert.deepEqual(h.sentStates(), ["a1"], "not registered: nothing goes");
    h.cma.ready = true;
    h.outbox.flush();
    assert.deepEqual(h.sentStates(), ["a1", "c1", "b1"]);
    assert.equal(h.outbox.size, 0);
    assert.equal(h.outbox.counters.sent, 3);
  });

  it("keeps only the newest observation per key; an older one added later is refused and counted", () => {
    const h = harness();
    h.cma.ready = false;
    assert.equal(h.add("a", "LATE", 10), true);
    assert.equal(h.add("a", "DEAD", 20), true);
    assert.equal(h.add("a", "ALIVE", 15), false, "observed before the DEAD that is waiting");
    assert.equal(h.outbox.peek("a")?.state, "DEAD");
    assert.equal(h.outbox.counters.stale, 1);
    assert.equal(h.add("a", "ALIVE", 20), true, "same time, added later: newer");
    assert.equal(h.outbox.peek("a")?.state, "ALIVE");
  });

  it("a DEAD that failed behind an older LATE that failed first is kept, and goes to the next CMA", async () => {
    const h = harness();
    h.add("hv2", "LATE", 5000);
    h.add("hv2", "DEAD", 10_000);
    assert.deepEqual(h.sentStates(), ["LATE", "DEAD"]);
    h.cma.ready = false; // the CMA is gone: both sends fail, in the order they were sent
    await h.settle("fail", "LATE", "DEAD");
    assert.equal(h.outbox.peek("hv2")?.state, "DEAD");
    assert.deepEqual({ requeued: h.outbox.counters.requeued, superseded: h.outbox.counters.superseded }, { requeued: 1, superseded: 1 });
    h.cma.ready = true;
    h.outbox.flush();
    assert.deepEqual(h.sentStates(), ["DEAD"]);
  });

  it("the same when the failures come in the other order", async () => {
    const h = harness();
    h.add("hv2", "LATE", 5000);
    h.add("hv2", "DEAD", 10_000);
    h.cma.ready = false;
    await h.settle("fail", "DEAD", "LATE");
    assert.equal(h.outbox.peek("hv2")?.state, "DEAD");
  });

  it("a failed item is not put back when a newer one for its key waits", async () => {
    const h = harness();
    h.add("hv2", "LATE", 5000);
    h.cma.ready = false;
    h.add("hv2", "DEAD", 10_000);
    await h.settle("fail", "LATE");
    assert.equal(h.outbox.peek("hv2")?.state, "DEAD");
    assert.equal(h.outbox.size, 1);
  });

  it("a failed item is not put back once a newer one for its key was delivered (a cleared alert stays cleared)", async () => {
    const h = harness();
    h.add("leak|vm1", "raised", 100);
    h.add("leak|vm1", "cleared", 200);
    await h.settle("ack", "cleared");
    await h.settle("fail", "raised");
    assert.equal(h.outbox.size, 0);
    h.outbox.flush();
    assert.deepEqual(h.sentStates(), []);
  });

  it("a failed item with nothing newer goes back and is sent again on the next flush", async () => {
    const h = harness();
    h.add("a", "a1", 1);
    h.cma.ready = false;
    await h.settle("fail", "a1");
    assert.equal(h.outbox.peek("a")?.state, "a1");
    assert.deepEqual(h.sentStates(), [], "not sent again until the CMA can take it");
    h.cma.ready = true;
    h.outbox.flush();
    assert.deepEqual(h.sentStates(), ["a1"]);
    await h.settle("ack", "a1");
    assert.equal(h.add("a", "a0", 0), true, "nothing held for the key any more: an older observation is news again");
  });

  it("is bounded: past maxKeys the oldest observation is dropped and counted, whatever the order it was queued in", async () => {
    assert.equal(new KeyedOutbox<Item>({ send: async () => undefined, ready: () => false }).maxKeys, DEFAULT_OUTBOX_MAX_KEYS);
    assert.throws(() => new KeyedOutbox<Item>({ send: async () => undefined, ready: () => false, maxKeys: 0 }), RangeError);
    const h = harness(2);
    h.add("k1", "k1", 30);
    h.cma.ready = false;
    h.add("k2", "k2", 10);
    h.add("k3", "k3", 20);
    await h.settle("fail", "k1"); // back in the queue, observed last: k2 goes
    assert.deepEqual([h.outbox.peek("k1")?.state, h.outbox.peek("k2")?.state, h.outbox.peek("k3")?.state], ["k1", undefined, "k3"]);
    assert.equal(h.outbox.counters.dropped, 1);
  });
});

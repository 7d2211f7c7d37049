import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Keyring, makeClusterKey } from "../../src/index.js";
import { ImpairmentProxy } from "../../src/testing/index.js";
import type { Endpoint, InboundMessage } from "../../src/index.js";
import { openEndpoint, testKeyring, waitFor } from "../helpers.js";

describe("channel: reliable delivery over real UDP", function () {
  this.timeout(120_000);
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((x) => x.close()));
  });
  async function pair(ring = testKeyring()): Promise<[Endpoint, Endpoint]> {
    const a = await openEndpoint("node-a", ring);
    const b = await openEndpoint("node-b", ring);
    opened.push(a, b);
    return [a, b];
  }

  it("delivers 10,000 messages exactly once and in order through 20% loss, reordering and duplication", async () => {
    const [a, b] = await pair();
    const proxy = await ImpairmentProxy.open(b.address(), { loss: 0.2, duplicate: 0.05, reorder: 0.1, reorderDelayMs: 5 }, 20261121);
    opened.push(proxy);
    const N = 10_000;
    const seen = new Uint8Array(N);
    let next = 0;
    let outOfOrder = 0;
    let duplicates = 0;
    b.on("message", (m) => {
      const i = m.payload.readUInt32BE(0);
      if (seen[i]) duplicates++;
      seen[i] = 1;
      if (i !== next) outOfOrder++;
      next = i + 1;
      assert.equal(m.from.id, "node-a");
      assert.equal(m.reliable, true);
    });
    const sends: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const p = randomBytes(100);
      p.writeUInt32BE(i, 0);
      sends.push(a.send(proxy.address(), p));
    }
    await Promise.all(sends); // every message acknowledged
    await waitFor(() => b.counters.messagesDelivered === N, 5000, "all deliveries");
    assert.equal(duplicates, 0);
    assert.equal(outOfOrder, 0);
    assert.equal(seen.reduce((s, x) => s + x, 0), N);
    // the impairment really happened and the channel really repaired it
    assert.ok(proxy.stats.dropped > N * 0.15, `dropped ${proxy.stats.dropped}`);
    assert.ok(proxy.stats.duplicated > 0 && proxy.stats.reordered > 0);
    assert.ok(a.counters.retransmits > 0);
    assert.ok(b.counters.duplicate > 0, "duplicates reached the receiver and were suppressed");
    assert.equal(b.counters.messagesDelivered, N);
  });

  it("fragments and reassembles a 200 KB message through loss, with compression on and off", async () => {
    const [a, b] = await pair();
    const proxy = await ImpairmentProxy.open(b.address(), { loss: 0.1, reorder: 0.1, reorderDelayMs: 3 }, 7);
    opened.push(proxy);
    const got: InboundMessage[] = [];
    b.on("message", (m) => got.push(m));
    const random = randomBytes(200 * 1024); // incompressible: sent raw in ~160 fragments
    const before = a.counters.framesSent;
    await a.send(proxy.address(), random);
    const rawFrames = a.counters.framesSent - before;
    const text = Buffer.from("cpu=0.51 mem=1024 net=0 ".repeat(8534)).subarray(0, 200 * 1024); // compressible
    const before2 = a.counters.framesSent;
    await a.send(proxy.address(), text);
    const zFrames = a.counters.framesSent - before2;
    await waitFor(() => got.length === 2, 5000, "both messages");
    assert.deepEqual(got[0].payload, random);
    assert.deepEqual(got[1].payload, text);
    assert.ok(rawFrames >= 160, `raw message took ${rawFrames} frames`);
    assert.ok(zFrames < 20, `compressed message took ${zFrames} frames`);
  });

  it("sends compressed only when compression is enabled (threshold 0 turns it off)", async () => {
    const ring = testKeyring();
    const a = await openEndpoint("a", ring, { channel: { compressThreshold: 0 } });
    const b = await openEndpoint("b", ring);
    opened.push(a, b);
    let got: Buffer | undefined;
    b.on("message", (m) => (got = m.payload));
    const text = Buffer.alloc(50_000, "x");
    await a.send(b.address(), text);
    await waitFor(() => got !== undefined, 2000, "message");
    assert.deepEqual(got, text);
    assert.ok(a.counters.framesSent >= 39, `uncompressed 50 KB must take ≥ 39 frames, took ${a.counters.framesSent}`);
  });

  it("keeps working across a rolling key rotation (accept new, send new, retire old)", async () => {
    const k1 = makeClusterKey(randomBytes(32));
    const k2 = makeClusterKey(randomBytes(32));
    const ra = new Keyring("rot", k1);
    const rb = new Keyring("rot", k1);
    const a = await openEndpoint("a", ra);
    const b = await openEndpoint("b", rb);
    opened.push(a, b);
    const got: string[] = [];
    b.on("message", (m) => got.push(m.payload.toString()));
    await a.send(b.address(), Buffer.from("one"));
    rb.rotate(k1, k2); // step 1, one host at a time: accept the new key
    await a.send(b.address(), Buffer.from("two"));
    ra.rotate(k1, k2);
    rb.rotate(k2, k1); // step 2: send with the new key
    await a.send(b.address(), Buffer.from("three"));
    ra.rotate(k2, k1);
    await a.send(b.address(), Buffer.from("four"));
    rb.rotate(k2); // step 3: retire the old key
    ra.rotate(k2);
    await a.send(b.address(), Buffer.from("five"));
    await waitFor(() => got.length === 5, 2000, "five messages");
    assert.deepEqual(got, ["one", "two", "three", "four", "five"]);
    assert.equal(b.counters.badAuth + a.counters.badAuth, 0);
  });

  it("refuses frames from a host that sends with a key its peer does not accept", async () => {
    const k1 = makeClusterKey(randomBytes(32));
    const ra = new Keyring("rot", makeClusterKey(randomBytes(32)));
    const a = await openEndpoint("a", ra, { channel: { giveUpAfterMs: 300 } });
    const b = await openEndpoint("b", new Keyring("rot", k1));
    opened.push(a, b);
    let delivered = 0;
    b.on("message", () => delivered++);
    await assert.rejects(a.send(b.address(), Buffer.from("x")), /did not acknowledge/);
    assert.equal(delivered, 0);
    assert.ok(b.counters.badAuth > 0);
  });

  it("carries fire-and-forget datagrams (also fragmented) and drops their replays", async () => {
    const [a, b] = await pair();
    const got: InboundMessage[] = [];
    b.on("message", (m) => got.push(m));
    a.sendDatagram(b.address(), Buffer.from("hb-1"));
    const big = randomBytes(5000);
    a.sendDatagram(b.address(), big);
    await waitFor(() => got.length === 2, 2000, "datagrams");
    assert.equal(got[0].reliable, false);
    assert.equal(got[0].payload.toString(), "hb-1");
    assert.deepEqual(got[1].payload, big);
    assert.equal(a.counters.retransmits, 0);
  });
});

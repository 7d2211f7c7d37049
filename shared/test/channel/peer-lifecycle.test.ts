import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import { GiveUpError, PeerRestartedError } from "../../src/index.js";
import type { Endpoint, PeerAddress } from "../../src/index.js";
import { openEndpoint, sleep, testKeyring, waitFor } from "../helpers.js";

/** A UDP socket that swallows everything: a peer that vanished without closing its port. */
function blackHole(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.on("message", () => {});
    s.bind(0, "127.0.0.1", () => resolve(s));
  });
}
const addrOf = (s: Socket): PeerAddress => ({ address: "127.0.0.1", port: s.address().port });
const closeSock = (s: Socket): Promise<void> => new Promise((r) => s.close(() => r()));
const msg = (i: number): Buffer => Buffer.from(`m${i}`);

describe("channel: restarts, give-up and back-pressure", function () {
  this.timeout(60_000);
  const ring = testKeyring();
  const opened: Endpoint[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((x) => x.close()));
  });
  const open = async (id: string, extra = {}): Promise<Endpoint> => {
    const e = await openEndpoint(id, ring, extra);
    opened.push(e);
    return e;
  };

  it("detects a receiver restarted mid-stream: pending sends fail, nothing is replayed, new sends arrive", async () => {
    const a = await open("a", { channel: { giveUpAfterMs: 60_000 } });
    const b1 = await open("b");
    const port = b1.address().port;
    const got1: string[] = [];
    b1.on("message", (m) => got1.push(m.payload.toString()));
    for (let i = 0; i < 50; i++) await a.send(b1.address(), msg(i));
    assert.equal(got1.length, 50);
    // b dies: its port goes quiet, messages pile up unacknowledged at a
    await b1.close();
    const pending = [50, 51, 52].map((i) => a.send({ address: "127.0.0.1", port }, msg(i)));
    const outcomes = Promise.allSettled(pending);
    await sleep(100);
    const restarts: unknown[] = [];
    a.on("peerRestart", (e) => restarts.push(e));
    // b restarts on the same port with a new session
    const b2 = await open("b", { port });
    const got2: string[] = [];
    b2.on("message", (m) => got2.push(m.payload.toString()));
    const settled = await outcomes;
    for (const s of settled) {
      assert.equal(s.status, "rejected");
      assert.ok((s as PromiseRejectedResult).reason instanceof PeerRestartedError);
    }
    assert.equal(restarts.length, 1);
    assert.ok(b2.counters.wrongDestination > 0, "the old stream's frames were refused by the new incarnation");
    for (let i = 100; i < 110; i++) await a.send(b2.address(), msg(i));
    await waitFor(() => got2.length === 10, 2000, "new stream");
    assert.deepEqual(got2, Array.from({ length: 10 }, (_, k) => `m${100 + k}`)); // no m50..m52 replayed
    assert.equal(a.counters.peerRestarts, 1);
  });

  it("detects a sender restarted mid-stream: the new incarnation's stream starts clean", async () => {
    const b = await open("b");
    const a1 = await open("a");
    const port = a1.address().port;
    const got: string[] = [];
    const restarts: string[] = [];
    b.on("message", (m) => got.push(`${m.from.session.random}:${m.payload.toString()}`));
    b.on("peerRestart", (e) => restarts.push(e.peer.id));
    for (let i = 0; i < 20; i++) await a1.send(b.address(), msg(i));
    await a1.close();
    await sleep(5); // the new session's start time must be later
    const a2 = await open("a", { port });
    for (let i = 0; i < 20; i++) await a2.send(b.address(), msg(i));
    await waitFor(() => got.length === 40, 2000, "both streams");
    assert.deepEqual(restarts, ["a"]);
    assert.ok(got.slice(0, 20).every((g) => g.startsWith(`${a1.session.random}:`)));
    assert.ok(got.slice(20).every((g) => g.startsWith(`${a2.session.random}:`)));
    assert.deepEqual(got.slice(20).map((g) => g.split(":")[1]), got.slice(0, 20).map((g) => g.split(":")[1]));
  });

  it("emits giveUp and rejects pending sends when a peer vanishes, then resyncs when it is back", async () => {
    const a = await open("a", { channel: { giveUpAfterMs: 400, maxRtoMs: 100 } });
    const hole = await blackHole();
    const to = addrOf(hole);
    const events: { pendingMessages: number }[] = [];
    a.on("giveUp", (e) => events.push(e));
    const t0 = Date.now();
    const r = await Promise.allSettled([a.send(to, msg(1)), a.send(to, msg(2))]);
    const took = Date.now() - t0;
    assert.ok(r.every((x) => x.status === "rejected" && x.reason instanceof GiveUpError));
    assert.equal(events.length, 1);
    assert.equal(events[0].pendingMessages, 2);
    assert.equal(a.counters.giveUps, 1);
    assert.ok(took >= 400, `gave up after ${took} ms`);
    // the peer comes back on the same port: the link resynchronises and delivers new messages
    await closeSock(hole);
    const b = await open("b", { port: to.port });
    const got: string[] = [];
    b.on("message", (m) => got.push(m.payload.toString()));
    await a.send(to, msg(3));
    await waitFor(() => got.length === 1, 2000, "delivery after give-up");
    assert.deepEqual(got, ["m3"]);
  });

  it("a second session claiming the same name from another address does not cut off the first", async () => {
    const b = await open("b");
    const a = await open("a");
    const got: string[] = [];
    b.on("message", (m) => got.push(`${m.from.port === a.address().port ? "real" : "other"}:${m.payload.toString()}`));
    await a.send(b.address(), msg(1));
    await sleep(5);
    const impostor = await open("a"); // same identity, newer session, other port
    await impostor.send(b.address(), msg(2));
    await a.send(b.address(), msg(3));
    await waitFor(() => got.length === 3, 2000, "three messages");
    assert.deepEqual(got, ["real:m1", "other:m2", "real:m3"]);
    assert.equal(b.counters.staleSession, 0);
  });

  it("applies back-pressure when the window and queue are full, and drains in order", async () => {
    const a = await open("a", { channel: { windowFrames: 4, maxQueuedBytes: 1000, giveUpAfterMs: 60_000 } });
    const hole = await blackHole();
    const to = addrOf(hole);
    const payload = (i: number): Buffer => Buffer.concat([Buffer.from(`${String(i).padStart(4, "0")}`), Buffer.alloc(196)]);
    const accepted: Promise<void>[] = [];
    let i = 0;
    for (; i < 100; i++) {
      const p = a.trySend(to, payload(i));
      if (!p) break;
      accepted.push(p);
    }
    assert.ok(i > 0 && i < 100, `trySend refused after ${i} messages`);
    assert.equal(a.trySend(to, payload(999)), undefined);
    const stats = a.linkStats(to)!;
    assert.ok(stats.queuedBytes <= 1000, `queued ${stats.queuedBytes} bytes`);
    // send() waits instead of refusing
    let waitedResolved = false;
    const waiting = a.send(to, payload(i)).then(() => (waitedResolved = true));
    await sleep(50);
    assert.equal(a.linkStats(to)!.waiting, 1);
    assert.equal(waitedResolved, false);
    // the peer appears: everything drains, in order
    await closeSock(hole);
    const b = await open("b", { port: to.port });
    const got: number[] = [];
    b.on("message", (m) => got.push(Number(m.payload.subarray(0, 4).toString())));
    await Promise.all([...accepted, waiting]);
    await waitFor(() => got.length === i + 1, 5000, "drain");
    assert.deepEqual(got, Array.from({ length: i + 1 }, (_, k) => k));
  });
});

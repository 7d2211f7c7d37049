/**
 * Fuzzing a live endpoint that speaks sealed frames: 100,000 hostile datagrams made from its
 * peer's real sealed frames, from an intruder's own keys, and from the cluster key alone. None is
 * accepted, each is counted under one reason, nothing crashes, memory stays bounded, and the
 * victim sends nothing to the attacker's address.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import {
  DROP_COUNTERS, FrameType, PairKeys, encodeFrame, generateHostKeys, newSession, publicHalf, seededRandom,
} from "../../src/index.js";
import type { Endpoint, FrameSeal } from "../../src/index.js";
import { counterDelta, openEndpoint, testKeyring, sumCounts, waitFor } from "../helpers.js";
import type { Counts } from "../helpers.js";

const delta = counterDelta;
const sum = sumCounts;

describe("channel: fuzzing a live endpoint that speaks sealed frames", function () {
  this.timeout(180_000);
  const rand = seededRandom(0x5ea1);
  const ri = (n: number): number => Math.floor(rand() * n);
  const ring = testKeyring("sealed-fuzz");
  const victimKeys = generateHostKeys();
  const senderKeys = generateHostKeys();
  let victim: Endpoint;
  let sender: Endpoint;
  let attacker: Socket;
  let repliesToAttacker = 0;
  const captured: Buffer[] = [];

  before(async () => {
    const vp = new PairKeys("sealed-fuzz", "victim", victimKeys);
    vp.trust("sender", publicHalf(senderKeys));
    const sp = new PairKeys("sealed-fuzz", "sender", senderKeys);
    sp.trust("victim", publicHalf(victimKeys));
    victim = await openEndpoint("victim", ring, { pairKeys: vp });
    sender = await openEndpoint("sender", ring, { pairKeys: sp });
    sender.expect(victim.address(), "victim");
    attacker = createSocket({ type: "udp4", sendBufferSize: 4 << 20 });
    await new Promise<void>((r) => attacker.bind(0, "127.0.0.1", () => r()));
    attacker.on("message", () => repliesToAttacker++);
    const orig = sender.socket.send.bind(sender.socket) as (...a: unknown[]) => void;
    (sender.socket as unknown as { send: (...a: unknown[]) => void }).send = (...args: unknown[]) => {
      captured.push(Buffer.from(args[0] as Buffer));
      orig(...args);
    };
    let got = 0;
    victim.on("message", (m) => {
      assert.equal(m.sealed, true);
      got++;
    });
    for (let i = 0; i < 100; i++) await sender.send(victim.address(), randomBytes(i % 10 === 0 ? 5000 : 200));
    for (let i = 0; i < 100; i++) sender.sendDatagram(victim.address(), randomBytes(i % 10 === 0 ? 3000 : 50));
    await waitFor(() => got === 200, 5000, "legitimate traffic");
    assert.ok(captured.every((b) => b[2] === 2), "the legitimate traffic is sealed");
  });
  after(async () => {
    await victim.close();
    await sender.close();
    await new Promise<void>((r) => attacker.close(() => r()));
  });

  async function blast(n: number, make: (i: number) => Buffer, via: Socket = attacker): Promise<Counts> {
    const before = { ...victim.counters };
    const to = victim.address();
    for (let i = 0; i < n; ) {
      const end = Math.min(n, i + 500);
      const target = victim.counters.datagramsReceived + (end - i);
      for (; i < end; i++) via.send(make(i), to.port, to.address);
      await waitFor(() => victim.counters.datagramsReceived >= target, 10_000, "victim to read the batch");
    }
    const d = delta(victim.counters, before);
    assert.equal(d.datagramsReceived, n);
    assert.equal(d.framesAccepted ?? 0, 0, `no fuzzed frame accepted: ${JSON.stringify(d)}`);
    assert.equal((d.messagesDelivered ?? 0) + (d.datagramsDelivered ?? 0), 0, "nothing delivered");
    assert.equal(d.internalError ?? 0, 0);
    assert.equal(sum(d, DROP_COUNTERS), n, "every datagram counted under exactly one drop reason");
    return d;
  }
  const pick = (): Buffer => Buffer.from(captured[ri(captured.length)]);
  const fields = (seq: number, type = FrameType.DATAGRAM) => ({
    type, flags: 0, sender: "sender", senderSession: newSession(), receiverSession: victim.session,
    timestampMs: Date.now(), seq, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: randomBytes(200),
  });

  it("100,000 hostile datagrams: none accepted, each counted, no crash, heap bounded, no reply to the attacker", async () => {
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const sentBefore = victim.counters.framesSent;
    let total = 0;

    // 1. bit flips in real sealed frames: the clear header's checks or the AEAD tag catch each
    let d = await blast(25_000, () => {
      const b = pick();
      const bits = new Set<number>();
      for (let k = 1 + ri(8); bits.size < k; ) bits.add(ri(b.length * 8));
      for (const bit of bits) b[bit >> 3] ^= 1 << (bit & 7);
      return b;
    });
    total += 25_000;
    assert.equal(sum(d, ["badVersion", "wrongCluster", "badAuth", "malformed", "unknownPeerKey", "truncated"]), 25_000, JSON.stringify(d));

    // 2. truncations of real sealed frames
    d = await blast(15_000, () => {
      const b = pick();
      return b.subarray(0, ri(b.length));
    });
    total += 15_000;
    assert.equal(sum(d, ["truncated", "badAuth", "malformed", "unknownPeerKey"]), 15_000, JSON.stringify(d));

    // 3. sealed as "sender" under keys the victim never agreed: random keys, random key ids
    d = await blast(15_000, (i) => {
      const seal: FrameSeal = { keyId: ri(2 ** 32), key: randomBytes(32), counter: i + 1 };
      return encodeFrame(fields(i + 1), ring, seal);
    });
    total += 15_000;
    assert.equal(d.unknownPeerKey, 15_000);

    // 4. an intruder's own pair keys, claiming to be "sender", with its (self-signed) key block
    const mallory = new PairKeys("sealed-fuzz", "sender", generateHostKeys());
    mallory.trust("victim", publicHalf(victimKeys));
    const mSession = newSession();
    d = await blast(15_000, (i) => encodeFrame({ ...fields(i + 1), senderSession: mSession }, ring, mallory.sealFor("victim", mSession, victim.session)));
    total += 15_000;
    assert.equal(d.unknownPeerKey, 15_000);

    // 5. the cluster key alone, as "sender": stream frames dropped as unsealed (datagrams would go
    //    up marked unsealed for the application to judge: not sent here, they are not refusals)
    d = await blast(15_000, (i) => encodeFrame(fields(i + 1, i % 2 ? FrameType.DATA : FrameType.RESET), ring));
    total += 15_000;
    assert.equal(d.unsealed, 15_000);

    // 6. replays of captured sealed frames from the attacker's address
    d = await blast(15_000, () => pick());
    total += 15_000;
    assert.equal(d.replay, 15_000);

    assert.ok(total >= 100_000);
    assert.equal(victim.counters.handlerErrors, 0);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(repliesToAttacker, 0, "nothing sent to the attacker's address");
    assert.equal(victim.counters.framesSent, sentBefore, "the victim sent nothing at all in reply");
    global.gc?.();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(growth < 32 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MiB`);
    let ok = false;
    victim.once("message", (m) => (ok = m.payload.toString() === "still alive" && m.sealed));
    await sender.send(victim.address(), Buffer.from("still alive"));
    await waitFor(() => ok, 2000, "legitimate message after the fuzz");
  });
});

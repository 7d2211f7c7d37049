/**
 * No state before proof (challenge.ts): an endpoint that challenges new sender sessions keeps
 * nothing and sends nothing but one bounded challenge for a frame from a session it has not heard
 * at that address, and a real peer gets through by echoing the cookie. Replays of a real peer's
 * frames from another address, with or without its cookie, get no state, no delivery and no reply
 * beyond the bounded challenges.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import { FrameType, decodeFrame, encodeFrame, newSession } from "../../src/index.js";
import type { Endpoint, InboundMessage } from "../../src/index.js";
import { openEndpoint, recordWire, sleep, testKeyring, waitFor } from "../helpers.js";


describe("channel: challenges (no state before proof)", function () {
  this.timeout(30_000);
  const ring = testKeyring("challenge");
  let cma: Endpoint;
  let host: Endpoint;
  let raw: Socket;
  const atCma: InboundMessage[] = [];
  const atRaw: Buffer[] = [];

  before(async () => {
    cma = await openEndpoint("cma", ring, { challengeNewPeers: true, channel: { challengesPerSecond: 50 } });
    host = await openEndpoint("hv1", ring);
    cma.on("message", (m) => atCma.push(m));
    raw = createSocket("udp4");
    raw.on("message", (b) => atRaw.push(b));
    await new Promise<void>((r) => raw.bind(0, "127.0.0.9", () => r()));
  });
  after(async () => {
    raw.close();
    await Promise.all([cma.close(), host.close()]);
  });

  it("a new session is challenged once, echoes the cookie, and its datagram and stream get through", async () => {
    const wire = recordWire(host);
    const proven: string[] = [];
    cma.on("proven", (p) => proven.push(`${p.sender}@${p.from.address}`));
    host.sendDatagram(cma.address(), Buffer.from("announce"));
    await waitFor(() => atCma.length === 1, 5000, "the announcement, sent again with the cookie");
    assert.equal(atCma[0].payload.toString(), "announce");
    assert.equal(cma.counters.challenged, 1, "the first copy was dropped and challenged");
    assert.equal(cma.counters.challengesSent, 1);
    assert.equal(host.counters.challengesAnswered, 1);
    const sent = wire.map((b) => decodeFrame(b, ring));
    assert.equal(sent.length, 2);
    assert.equal(sent[0].cookie, undefined);
    assert.equal(sent[1].cookie?.length, 16, "the second carries the cookie");
    await host.send(cma.address(), Buffer.from("stream"));
    await waitFor(() => atCma.length === 2, 5000, "the stream message");
    assert.equal(cma.counters.challenged, 1, "a proven session is not challenged again");
    assert.deepEqual(proven, ["hv1@127.0.0.1"], "proven once, when the cookie came back");
  });

  it("a replay of the host's frames from another address gets no state, no delivery, nothing but bounded challenges", async () => {
    // a fresh session of the host's, captured on the wire: its first frame (no cookie), then the cookie one
    const victim = await openEndpoint("hv2", ring);
    const wire = recordWire(victim);
    const before = { delivered: atCma.length, replay: cma.counters.replay, challenged: cma.counters.challenged, sent: cma.counters.challengesSent, notSent: cma.counters.challengesNotSent };
    try {
      victim.sendDatagram(cma.address(), Buffer.from("hv2 announce"));
      await waitFor(() => atCma.length === before.delivered + 1, 5000, "hv2's announcement");
      const [first, withCookie] = wire;
      assert.ok(decodeFrame(withCookie, ring).cookie, "captured a frame with hv2's cookie");
      // the attacker replays both from its own address, 400 times each, and a frame of a session nobody proved
      const other = encodeFrame({ type: FrameType.DATA, flags: 0, sender: "hv3", senderSession: newSession(), receiverSession: cma.session, timestampMs: Date.now(), seq: 1, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: Buffer.from("x") }, ring);
      const port = cma.address().port;
      for (let i = 0; i < 400; i++) {
        for (const b of [first, withCookie, other]) raw.send(b, port, "127.0.0.1");
        if (i % 50 === 49) await sleep(5);
      }
      // hv2's session speaks from hv2's address: its copies from elsewhere are replays; hv3's session was never proven: challenged
      await waitFor(() => cma.counters.replay - before.replay >= 800 && cma.counters.challenged - before.challenged >= 400, 5000, "the replays counted");
      await sleep(300);
      assert.equal(atCma.length, before.delivered + 1, "nothing replayed was delivered");
      assert.equal(cma.linkStats({ address: "127.0.0.9", port: raw.address().port }), undefined, "no state for the attacker's address");
      const challenges = cma.counters.challengesSent - before.sent;
      assert.ok(challenges <= 60, `challenges bounded by the rate (50/s, a burst of 50): ${challenges}`);
      assert.ok(cma.counters.challengesNotSent - before.notSent >= 300, "the rest were dropped without a reply");
      assert.ok(atRaw.length <= challenges, "the attacker got nothing but challenges");
      for (const b of atRaw) assert.equal(decodeFrame(b, ring).type, FrameType.CHALLENGE);
    } finally {
      await victim.close();
    }
  });

  it("a challenge for another session, or from an address we never sent to, is ignored: it makes nobody send anything", async () => {
    const lone = await openEndpoint("hv4", ring);
    try {
      const challenge = (receiverSession: ReturnType<typeof newSession>): Buffer =>
        encodeFrame({ type: FrameType.CHALLENGE, flags: 0, sender: "cma", senderSession: newSession(), receiverSession, timestampMs: Date.now(), seq: 1, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: Buffer.alloc(16, 7) }, ring);
      const before = atRaw.length;
      raw.send(challenge(newSession()), lone.address().port, "127.0.0.1");
      raw.send(challenge(lone.session), lone.address().port, "127.0.0.1");
      await waitFor(() => lone.counters.unsolicitedChallenge === 2, 3000, "both ignored");
      await sleep(200);
      assert.equal(lone.counters.framesSent, 0);
      assert.equal(atRaw.length, before);
    } finally {
      await lone.close();
    }
  });
});

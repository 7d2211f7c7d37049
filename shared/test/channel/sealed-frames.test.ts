/**
 * Sealed frames between real UDP endpoints: a "CMA" whose exchange key is vouched for by its
 * command key, a host that trusts that key, and an intruder holding the cluster key (and its own
 * host keys) who tries to speak as the host.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { FrameType, PairKeys, decodeFrame, encodeFrame, generateHostKeys, hostKeysOf, newSession, publicHalf, rawPublicKey, newKeyPair } from "../../src/index.js";
import type { Endpoint, InboundMessage } from "../../src/index.js";
import { openEndpoint, recordWire, sleep, testKeyring, waitFor } from "../helpers.js";

const SECRET = "guest web-01 uuid 5e1f0000-0000-4000-8000-000000000001 cmdline /usr/bin/secret-daemon";


describe("channel: sealed frames (pair keys)", function () {
  this.timeout(30_000);
  const ring = testKeyring("sealed");
  const commandKey = newKeyPair("ed25519");
  const cmaKeys = hostKeysOf(commandKey.privateKey);
  const hostKeys = generateHostKeys();
  let cma: Endpoint;
  let host: Endpoint;
  let intruder: Endpoint;
  const atCma: InboundMessage[] = [];
  const atHost: InboundMessage[] = [];

  before(async () => {
    const cmaPairs = new PairKeys("sealed", "cma", cmaKeys);
    cmaPairs.trust("hv1", publicHalf(hostKeys)); // as from its proven announcement
    const hostPairs = new PairKeys("sealed", "hv1", hostKeys);
    hostPairs.trustSigners([rawPublicKey(commandKey.publicKey)]); // as from cmaPublicKeyFile
    cma = await openEndpoint("cma", ring, { pairKeys: cmaPairs });
    host = await openEndpoint("hv1", ring, { pairKeys: hostPairs });
    // the intruder holds the cluster key and keys of its own, and says it is hv1
    const mallory = new PairKeys("sealed", "hv1", generateHostKeys());
    mallory.trust("cma", publicHalf(cmaKeys));
    intruder = await openEndpoint("hv1", ring, { bindAddress: "127.0.0.9", pairKeys: mallory });
    cma.on("message", (m) => atCma.push(m));
    host.on("message", (m) => atHost.push(m));
  });
  after(async () => {
    await Promise.all([cma.close(), host.close(), intruder.close()]);
  });

  it("the CMA's first frames carry its key block; the host takes it, both directions are sealed, nothing readable on the wire", async () => {
    const wire = recordWire(cma);
    const hostWire = recordWire(host);
    cma.expect(host.address(), "hv1"); // as the CMA knows a host from its announcement
    await cma.send(host.address(), Buffer.from(`command: ${SECRET}`));
    await waitFor(() => atHost.length === 1, 5000, "the command at the host");
    assert.equal(atHost[0].sealed, true);
    assert.equal(atHost[0].payload.toString(), `command: ${SECRET}`);
    assert.equal(host.pairKeys!.knows("cma"), true, "the host learnt the CMA's exchange key from its signed key block");
    await host.send(cma.address(), Buffer.from(`inventory: ${SECRET}`));
    await waitFor(() => atCma.length === 1, 5000, "the inventory at the CMA");
    assert.equal(atCma[0].sealed, true);
    assert.equal(atCma[0].from.id, "hv1");
    for (const b of [...wire, ...hostWire]) {
      assert.equal(b[2], 2, "every frame sealed (version 2)");
      assert.equal(b.includes(Buffer.from("5e1f0000")), false, "no uuid in clear");
      assert.equal(b.includes(Buffer.from("secret-daemon")), false, "no command line in clear");
    }
    assert.ok(wire.some((b) => (b[4] & 0x08) !== 0), "a key block went out");
    // the host has sealed for it: the CMA stops sending its key block
    const before = wire.length;
    await cma.send(host.address(), Buffer.from("again"));
    assert.ok(wire.slice(before).every((b) => (b[4] & 0x08) === 0), "no key block once the host proved it has the key");
  });

  it("an intruder with the cluster key speaking as hv1 is refused: unsealed stream frames dropped, its datagrams marked unsealed, its own seal opens nothing; it gets no reply", async () => {
    const replies: Buffer[] = [];
    intruder.socket.on("message", (b) => replies.push(b));
    intruder.expect(cma.address(), "cma");
    const before = { ...cma.counters };
    const delivered = atCma.length;
    // unsealed: a datagram as hv1 goes up marked unsealed (an announcement may be); stream frames are dropped
    intruder.sendDatagram(cma.address(), Buffer.from("heartbeat as hv1"), { unsealed: true });
    await waitFor(() => atCma.length === delivered + 1, 5000, "the unsealed datagram");
    assert.equal(atCma[delivered].sealed, false);
    const clusterOnly = await openEndpoint("hv1", ring, { bindAddress: "127.0.0.11" }); // no pair keys at all
    clusterOnly.socket.on("message", (b) => replies.push(b));
    void clusterOnly.send(cma.address(), Buffer.from("goodbye as hv1")).catch(() => undefined);
    void intruder.send(cma.address(), Buffer.from("goodbye as hv1, sealed by the intruder")).catch(() => undefined);
    // sealed under its own keys: no key here opens it
    intruder.sendDatagram({ ...cma.address() }, Buffer.from("x"));
    await sleep(1500);
    assert.equal(atCma.length, delivered + 1, "nothing else delivered");
    assert.ok(cma.counters.unsealed - before.unsealed >= 1, "RESET/DATA on the cluster key dropped as unsealed");
    assert.ok(cma.counters.unknownPeerKey - before.unknownPeerKey >= 1, "its own seal opened nothing");
    assert.equal(replies.length, 0, "the CMA sent nothing to the intruders' addresses");
    await clusterOnly.close();
    assert.equal(cma.pairKeys!.publicKeysOf("hv1")!.exchangePublic.equals(hostKeys.exchangePublic), true, "hv1's keys unchanged");
  });

  it("a forged key block (not signed by the command key) is never taken in; a tampered sealed frame fails its tag", async () => {
    const stranger = new PairKeys("sealed", "cma", generateHostKeys());
    stranger.trust("hv1", publicHalf(hostKeys));
    const fake = await openEndpoint("cma", ring, { bindAddress: "127.0.0.10", pairKeys: stranger });
    fake.expect(host.address(), "hv1");
    try {
      const before = { ...host.counters };
      void fake.send(host.address(), Buffer.from("setNeighbours from a fake CMA")).catch(() => undefined);
      await sleep(800);
      assert.ok(host.counters.unknownPeerKey - before.unknownPeerKey >= 1);
      assert.equal(host.pairKeys!.publicKeysOf("cma")!.exchangePublic.equals(cmaKeys.exchangePublic), true, "the real CMA's key kept");
    } finally {
      await fake.close();
    }
    const sock = createSocket("udp4");
    try {
      const seal = { keyId: 1, key: Buffer.alloc(32), counter: 1 };
      const f = encodeFrame({ type: FrameType.DATAGRAM, flags: 0, sender: "hv1", senderSession: newSession(), receiverSession: cma.session, timestampMs: Date.now(), seq: 1, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: Buffer.from("x") }, ring, seal);
      const before = { ...cma.counters };
      await new Promise<void>((r) => sock.send(f, cma.address().port, "127.0.0.1", () => r()));
      await waitFor(() => cma.counters.datagramsReceived > before.datagramsReceived, 2000, "the frame");
      assert.equal(cma.counters.unknownPeerKey - before.unknownPeerKey, 1, "a key id no pair of ours has");
    } finally {
      sock.close();
    }
  });
  it("a key block verified once opens its copies, but no longer once its signer is dropped or its sender's keys changed", () => {
    const cmaSide = new PairKeys("sealed", "cma", cmaKeys);
    const hostSide = new PairKeys("sealed", "hv1", hostKeys);
    const cmaSession = newSession();
    const hostSession = newSession();
    const frameFrom = (pk: PairKeys, sender: string, session: typeof cmaSession, to: string, toSession: typeof cmaSession): Buffer =>
      encodeFrame({ type: FrameType.DATAGRAM, flags: 0, sender, senderSession: session, receiverSession: toSession, timestampMs: Date.now(), seq: 1, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: Buffer.from("copy") }, ring, pk.sealFor(to, session, toSession));
    cmaSide.trust("hv1", publicHalf(hostKeys));
    const fromCma = frameFrom(cmaSide, "cma", cmaSession, "hv1", hostSession);
    const opens = (pk: PairKeys, f: Buffer): boolean => {
      try {
        decodeFrame(f, ring, pk.open);
        return true;
      } catch (e) {
        if (process.env.DEBUG_OPENS) console.log(e);
        return false;
      }
    };
    hostSide.trustSigners([rawPublicKey(commandKey.publicKey)]);
    assert.ok(opens(hostSide, fromCma), "the block signed by the command key opens");
    assert.ok(opens(hostSide, fromCma), "and its copy (a retransmit, before any was accepted)");
    hostSide.trustSigners([rawPublicKey(newKeyPair("ed25519").publicKey)]); // the command key replaced
    assert.equal(opens(hostSide, fromCma), false, "a block of the dropped signer no longer opens, verified before or not");

    // the CMA side: hv1's block (a new exchange key, signed by its pinned identity) verified; hv1 re-keyed: the old block opens nothing
    const hostPk = new PairKeys("sealed", "hv1", hostKeys);
    hostPk.trust("cma", publicHalf(cmaKeys));
    const hostBlock = frameFrom(hostPk, "hv1", hostSession, "cma", cmaSession);
    const viaIdentity = new PairKeys("sealed", "cma", cmaKeys);
    viaIdentity.trust("hv1", publicHalf(hostKeysOf(hostKeys.identity))); // its identity, with an exchange key of an earlier start
    assert.ok(opens(viaIdentity, hostBlock), "opened through its key block");
    assert.ok(opens(viaIdentity, hostBlock), "and its copy");
    viaIdentity.trust("hv1", publicHalf(generateHostKeys())); // re-keyed
    assert.equal(opens(viaIdentity, hostBlock), false, "a block verified under the old identity no longer opens");
  });

  it("the CMA's command key rotated: with the next key trusted too the CMA stays known; once its key is taken out it is forgotten, and a CMA on the next key is taken in", async () => {
    const next = newKeyPair("ed25519");
    const pairs = host.pairKeys!;
    pairs.trustSigners([rawPublicKey(commandKey.publicKey), rawPublicKey(next.publicKey)]); // the next key appended
    assert.equal(pairs.knows("cma"), true, "adding a key forgets nothing");
    let delivered = atHost.length;
    await cma.send(host.address(), Buffer.from("still the current key"));
    await waitFor(() => atHost.length === delivered + 1, 5000, "a frame of the CMA on the current key");
    pairs.trustSigners([rawPublicKey(next.publicKey)]); // the old key taken out
    assert.equal(pairs.knows("cma"), false, "the CMA known through the old key is forgotten");
    delivered = atHost.length;
    const before = { ...host.counters };
    void cma.send(host.address(), Buffer.from("on the old key")).catch(() => undefined);
    await waitFor(() => host.counters.unknownPeerKey > before.unknownPeerKey, 5000, "the old CMA's frame refused");
    assert.equal(atHost.length, delivered, "nothing of the old CMA delivered");
    const restarted = new PairKeys("sealed", "cma", hostKeysOf(next.privateKey));
    restarted.trust("hv1", publicHalf(hostKeys));
    const cma2 = await openEndpoint("cma", ring, { bindAddress: "127.0.0.12", pairKeys: restarted });
    try {
      cma2.expect(host.address(), "hv1");
      await cma2.send(host.address(), Buffer.from("on the next key"));
      await waitFor(() => atHost.some((m) => m.payload.toString() === "on the next key"), 5000, "the CMA on the next key heard");
      assert.equal(atHost[atHost.length - 1].sealed, true);
      assert.equal(pairs.publicKeysOf("cma")!.identityPublic.equals(rawPublicKey(next.publicKey)), true);
    } finally {
      await cma2.close();
    }
  });
});

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import type { Socket } from "node:dgram";
import {
  DROP_COUNTERS, Flag, FrameType, Keyring, MAX_FRAME_BYTES, encodeFrame, makeClusterKey, newSession, seededRandom,
} from "../../src/index.js";
import type { Endpoint, PeerAddress } from "../../src/index.js";
import { counterDelta, openEndpoint, sumCounts, waitFor } from "../helpers.js";
import type { Counts } from "../helpers.js";

const delta = counterDelta;
const sum = sumCounts;

describe("channel: fuzzing a live endpoint", function () {
  this.timeout(180_000);
  const rand = seededRandom(0x5eed);
  const ri = (n: number): number => Math.floor(rand() * n);
  const ring = new Keyring("fuzz", makeClusterKey(randomBytes(32)));
  let victim: Endpoint;
  let sender: Endpoint;
  let attacker: Socket;
  const captured: Buffer[] = [];

  before(async () => {
    victim = await openEndpoint("victim", ring);
    sender = await openEndpoint("sender", ring);
    attacker = createSocket({ type: "udp4", sendBufferSize: 4 << 20 });
    await new Promise<void>((r) => attacker.bind(0, "127.0.0.1", () => r()));
    // record every frame the legitimate sender puts on the wire: the attacker's material
    const orig = sender.socket.send.bind(sender.socket) as (...a: unknown[]) => void;
    (sender.socket as unknown as { send: (...a: unknown[]) => void }).send = (...args: unknown[]) => {
      captured.push(Buffer.from(args[0] as Buffer));
      orig(...args);
    };
    let got = 0;
    victim.on("message", () => got++);
    for (let i = 0; i < 100; i++) await sender.send(victim.address(), randomBytes(i % 10 === 0 ? 5000 : 200));
    for (let i = 0; i < 100; i++) sender.sendDatagram(victim.address(), randomBytes(i % 10 === 0 ? 3000 : 50));
    await waitFor(() => got === 200, 5000, "legitimate traffic");
    assert.ok(captured.length > 200, `captured ${captured.length} frames`);
  });
  after(async () => {
    await victim.close();
    await sender.close();
    await new Promise<void>((r) => attacker.close(() => r()));
  });

  /** Send datagrams in batches and wait until the victim has handled each batch (no kernel drops). */
  async function blast(n: number, make: (i: number) => Buffer, via: Socket = attacker, to: PeerAddress = victim.address()): Promise<Counts> {
    const before = { ...victim.counters };
    for (let i = 0; i < n; ) {
      const end = Math.min(n, i + 500);
      const target = victim.counters.datagramsReceived + (end - i);
      for (; i < end; i++) via.send(make(i), to.port, to.address);
      await waitFor(() => victim.counters.datagramsReceived >= target, 10_000, "victim to read the batch");
    }
    const d = delta(victim.counters, before);
    assert.equal(d.datagramsReceived, n, "every datagram reached the victim");
    assert.equal(d.framesAccepted ?? 0, 0, "no fuzzed frame accepted");
    assert.equal((d.messagesDelivered ?? 0) + (d.datagramsDelivered ?? 0), 0, "nothing delivered");
    assert.equal(d.internalError ?? 0, 0);
    assert.equal(sum(d, DROP_COUNTERS), n, "every datagram counted under exactly one drop reason");
    return d;
  }
  const pick = (): Buffer => Buffer.from(captured[ri(captured.length)]);

  it("sends 100,000+ hostile datagrams: none accepted, each counted, no crash, heap bounded", async () => {
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let total = 0;

    // 1. random bytes of random length, including empty and oversized
    let d = await blast(20_000, () => randomBytes(ri(1700)));
    total += 20_000;
    assert.equal(sum(d, ["truncated", "oversized", "badVersion"]), 20_000, JSON.stringify(d));

    // 2. bit flips in real frames (every byte is covered by the header checks or the tag)
    d = await blast(20_000, () => {
      const b = pick();
      const bits = new Set<number>(); // distinct bits, so flips never cancel into an exact replay
      for (let k = 1 + ri(8); bits.size < k; ) bits.add(ri(b.length * 8));
      for (const bit of bits) b[bit >> 3] ^= 1 << (bit & 7);
      return b;
    });
    total += 20_000;
    assert.equal(sum(d, ["badVersion", "wrongCluster", "badAuth"]), 20_000);

    // 3. truncations of real frames
    d = await blast(15_000, () => {
      const b = pick();
      return b.subarray(0, ri(b.length));
    });
    total += 15_000;
    assert.equal(sum(d, ["truncated", "badAuth"]), 15_000);

    // 4. forged tags, and well-formed frames made with a key the cluster does not use
    const wrongKey = new Keyring("fuzz", makeClusterKey(randomBytes(32)));
    d = await blast(15_000, (i) => {
      if (i % 2 === 0) {
        const b = pick();
        randomBytes(16).copy(b, b.length - 16);
        return b;
      }
      return encodeFrame(frameFields(victim, ri(1000) + 1), wrongKey);
    });
    total += 15_000;
    assert.equal(d.badAuth, 15_000);

    // 5. frames from another cluster (valid key of theirs)
    const otherCluster = new Keyring("other-cluster", makeClusterKey(randomBytes(32)));
    d = await blast(10_000, (i) => encodeFrame(frameFields(victim, i + 1), otherCluster));
    total += 10_000;
    assert.equal(d.wrongCluster, 10_000);

    // 6. fragment floods without the key: fragments claiming up to 65535 parts
    d = await blast(10_000, (i) => {
      const f = encodeFrame({ ...frameFields(victim, i + 1), type: FrameType.DATAGRAM, flags: Flag.FRAGMENT, fragIndex: ri(100), fragCount: 100 + ri(65_000) }, wrongKey);
      return f;
    });
    total += 10_000;
    assert.equal(d.badAuth, 10_000);

    // 7. replays of captured frames, from the sender's own address and from the attacker's
    d = await blast(5_000, () => pick(), sender.socket);
    total += 5_000;
    assert.equal(sum(d, ["duplicate", "replay"]), 5_000);
    d = await blast(5_000, () => pick());
    total += 5_000;
    assert.equal(d.replay, 5_000);

    assert.ok(total >= 100_000);
    assert.equal(victim.counters.handlerErrors, 0);
    global.gc?.();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(growth < 32 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MiB`);
    // the victim still works for its legitimate peer
    let ok = false;
    victim.once("message", (m) => (ok = m.payload.toString() === "still alive"));
    await sender.send(victim.address(), Buffer.from("still alive"));
    await waitFor(() => ok, 2000, "legitimate message after the fuzz");
  });

  it("a member holding the key cannot make it hold unbounded memory", async () => {
    const small = await openEndpoint("small", ring, { channel: { maxReceiveBufferBytes: 512 * 1024, maxPartialDatagramBytes: 256 * 1024, maxPartialDatagrams: 64 } });
    try {
      global.gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      const session = newSession();
      const base = (seq: number) => ({ ...frameFields(small, seq), senderSession: session, sender: "rogue" });
      const send = (b: Buffer): void => attacker.send(b, small.address().port, "127.0.0.1");
      // datagram fragment flood: 20,000 fragments of distinct never-completed messages
      for (let i = 0; i < 20_000; i++) {
        send(encodeFrame({ ...base(i * 3 + 1), type: FrameType.DATAGRAM, flags: Flag.FRAGMENT, fragIndex: 0, fragCount: 3, payload: randomBytes(1000) }, ring));
        if (i % 500 === 499) await waitFor(() => small.counters.datagramsReceived >= i + 1, 10_000, "flood batch");
      }
      assert.ok(small.partialDatagramBytes <= 256 * 1024, `partial datagram bytes ${small.partialDatagramBytes}`);
      assert.ok(small.counters.reassemblyEvicted > 19_000);
      // reliable-path flood from three rogue members: sync a stream each, then send only
      // out-of-order frames (never the next one), and frames far beyond the window
      const before = small.counters.datagramsReceived;
      const rogues: Socket[] = [];
      for (let r = 0; r < 3; r++) {
        const sock = createSocket("udp4");
        await new Promise<void>((res) => sock.bind(0, "127.0.0.1", () => res()));
        rogues.push(sock);
        const rs = newSession();
        const f = (seq: number) => ({ ...frameFields(small, seq), senderSession: rs, sender: `rogue-${r}`, receiverSession: small.session });
        const out = (b: Buffer): void => sock.send(b, small.address().port, "127.0.0.1");
        out(encodeFrame({ ...f(1), type: FrameType.RESET }, ring));
        for (let s = 2; s < 2 + 250; s++) out(encodeFrame({ ...f(s), type: FrameType.DATA, payload: randomBytes(1200) }, ring));
        for (let s = 0; s < 100; s++) out(encodeFrame({ ...f(1_000_000 + s), type: FrameType.DATA }, ring));
        await waitFor(() => small.counters.datagramsReceived >= before + 351 * (r + 1), 10_000, "reliable flood");
      }
      await Promise.all(rogues.map((x) => new Promise<void>((res) => x.close(() => res()))));
      assert.ok(small.receiveBufferedBytes <= 512 * 1024, `receive buffers hold ${small.receiveBufferedBytes}`);
      assert.ok(small.counters.bufferFull > 0, "frames beyond the buffer budget refused");
      assert.equal(small.counters.outOfWindow, 300);
      assert.equal(small.counters.messagesDelivered + small.counters.datagramsDelivered, 0);
      global.gc?.();
      const growth = process.memoryUsage().heapUsed - heapBefore;
      assert.ok(growth < 32 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MiB`);
    } finally {
      await small.close();
    }
  });
});

function frameFields(to: Endpoint, seq: number) {
  return {
    type: FrameType.DATAGRAM, flags: 0, sender: "mallory", senderSession: newSession(), receiverSession: to.session,
    timestampMs: Date.now(), seq, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: randomBytes(Math.min(200, MAX_FRAME_BYTES - 200)),
  };
}

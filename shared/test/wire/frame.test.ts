import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  Flag, FrameError, FrameType, Keyring, MAX_FRAME_BYTES, MAX_U48, MIN_FRAME_BYTES, NO_SESSION,
  decodeFrame, encodeFrame, makeClusterKey, payloadCapacity,
} from "../../src/index.js";
import type { FrameFields } from "../../src/index.js";

const key1 = makeClusterKey(randomBytes(32));
const key2 = makeClusterKey(randomBytes(32));
const ring = new Keyring("c1", key1);

function fields(over: Partial<FrameFields> = {}): FrameFields {
  return {
    type: FrameType.DATA, flags: 0, sender: "host-a.example", senderSession: { startMs: 1_700_000_000_000, random: 0xdeadbeef },
    receiverSession: { startMs: 1_700_000_000_001, random: 7 }, timestampMs: Date.now(), seq: 42, ack: 17,
    sack: [], fragIndex: 0, fragCount: 1, payload: Buffer.from("hello"), ...over,
  };
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof FrameError, `expected FrameError, got ${String(e)}`);
    return e.reason;
  }
  assert.fail("expected the frame to be refused");
}

describe("wire/frame", () => {
  it("round-trips every field of a DATA frame with sack blocks and a fragment header", () => {
    const f = fields({ flags: Flag.FRAGMENT | Flag.COMPRESSED, sack: [{ start: 20, end: 22 }, { start: 30, end: 30 }], fragIndex: 3, fragCount: 9, seq: MAX_U48, ack: 17 });
    const d = decodeFrame(encodeFrame(f, ring), ring);
    assert.deepEqual({ ...d, keyId: undefined }, { ...f, keyId: undefined });
    assert.equal(d.keyId, key1.id);
  });

  it("round-trips ACK, DATAGRAM and RESET frames", () => {
    for (const type of [FrameType.ACK, FrameType.DATAGRAM, FrameType.RESET]) {
      const f = fields({ type, seq: type === FrameType.ACK ? 0 : 5, payload: type === FrameType.DATAGRAM ? Buffer.from("hb") : Buffer.alloc(0), receiverSession: NO_SESSION });
      const d = decodeFrame(encodeFrame(f, ring), ring);
      assert.equal(d.type, type);
      assert.deepEqual(d.payload, f.payload);
      assert.deepEqual(d.receiverSession, NO_SESSION);
    }
  });

  it("never produces a frame over the size limit; a sealed frame with a cookie fills payloadCapacity exactly (without, it leaves the cookie's 16 bytes; a cluster-key one the nonce's 6 too)", () => {
    const cap = payloadCapacity("host-a.example", FrameType.DATA, 0, false);
    const seal = { keyId: 7, key: Buffer.alloc(32, 1), counter: 1 };
    const cookie = Buffer.alloc(16, 9);
    assert.equal(encodeFrame(fields({ payload: Buffer.alloc(cap), cookie }), ring, seal).length, MAX_FRAME_BYTES);
    assert.throws(() => encodeFrame(fields({ payload: Buffer.alloc(cap + 1), cookie }), ring, seal), RangeError);
    assert.equal(encodeFrame(fields({ payload: Buffer.alloc(cap) }), ring, seal).length, MAX_FRAME_BYTES - 16);
    assert.equal(encodeFrame(fields({ payload: Buffer.alloc(cap) }), ring).length, MAX_FRAME_BYTES - 16 - 6);
    assert.deepEqual(decodeFrame(encodeFrame(fields({ cookie }), ring), ring).cookie, cookie, "the cookie round-trips");
    // a key block rides only where it fits: a full frame goes without it
    const full = encodeFrame(fields({ payload: Buffer.alloc(cap), cookie }), ring, { ...seal, withKey: Buffer.alloc(96, 2) });
    assert.equal(full.length, MAX_FRAME_BYTES);
    assert.equal(full[4] & 0x08, 0);
  });

  it("refuses identities that are empty or longer than 64 bytes", () => {
    assert.throws(() => encodeFrame(fields({ sender: "" }), ring), RangeError);
    assert.throws(() => encodeFrame(fields({ sender: "x".repeat(65) }), ring), RangeError);
  });

  it("classifies bad datagrams in a fixed order", () => {
    const good = encodeFrame(fields(), ring);
    assert.equal(reason(() => decodeFrame(good.subarray(0, MIN_FRAME_BYTES - 1), ring)), "truncated");
    assert.equal(reason(() => decodeFrame(Buffer.alloc(MAX_FRAME_BYTES + 1), ring)), "oversized");
    const v = Buffer.from(good);
    v[2] = 9;
    assert.equal(reason(() => decodeFrame(v, ring)), "badVersion");
    assert.equal(reason(() => decodeFrame(good, new Keyring("c2", key1))), "wrongCluster");
    assert.equal(reason(() => decodeFrame(good, new Keyring("c1", key2))), "badAuth");
    const t = Buffer.from(good);
    t[t.length - 1] ^= 1;
    assert.equal(reason(() => decodeFrame(t, ring)), "badAuth");
    const p = Buffer.from(good);
    p[60] ^= 0x80; // inside identity/payload: covered by the tag
    assert.equal(reason(() => decodeFrame(p, ring)), "badAuth");
    assert.equal(reason(() => decodeFrame(good.subarray(0, good.length - 3), ring)), "badAuth");
  });

  it("refuses authenticated frames whose structure is inconsistent", () => {
    // a member holding the key can still send nonsense: build one by hand and re-tag it
    const f = encodeFrame(fields({ flags: Flag.FRAGMENT, fragIndex: 1, fragCount: 3 }), ring);
    const bad = Buffer.from(f);
    bad[4] = 0x80; // unknown flag
    assert.equal(reason(() => decodeFrame(retag(bad), ring)), "malformed");
    const badType = Buffer.from(f);
    badType[3] = 9;
    assert.equal(reason(() => decodeFrame(retag(badType), ring)), "malformed");
  });

  it("key rotation: a frame made with the previous key is accepted while both are configured", () => {
    const oldRing = new Keyring("c1", key1);
    const rotated = new Keyring("c1", key2, key1);
    const fromOld = encodeFrame(fields(), oldRing);
    assert.equal(decodeFrame(fromOld, rotated).keyId, key1.id);
    const fromNew = encodeFrame(fields(), rotated);
    assert.equal(decodeFrame(fromNew, rotated).keyId, key2.id);
    assert.equal(reason(() => decodeFrame(fromNew, oldRing)), "badAuth"); // old-only hosts cannot read new-key frames
    const after = new Keyring("c1", key2); // previous key dropped
    assert.equal(reason(() => decodeFrame(fromOld, after)), "badAuth");
    oldRing.rotate(key2, key1); // in-place rotation (SIGHUP)
    assert.equal(decodeFrame(fromNew, oldRing).keyId, key2.id);
  });
});

import { createHmac } from "node:crypto";
function retag(buf: Buffer): Buffer {
  const body = buf.subarray(0, buf.length - 16);
  createHmac("sha256", key1.secret).update(body).digest().subarray(0, 16).copy(buf, buf.length - 16);
  return buf;
}

import assert from "node:assert/strict";
import { BatchCodecError, seededRandom } from "../../src/index.js";
import { IntModel, MAX_CODED_BITS, RangeDecoder, RangeEncoder, bitLength, newProbs } from "../../src/metrics/range-coder.js";

const rand = seededRandom(0x5eed);
const ri = (n: number): number => Math.floor(rand() * n);

type Op = { kind: "bit"; ctx: number; v: number } | { kind: "direct"; n: number; v: number } | { kind: "int"; k: number; sign: number; v: number };

function randomOps(count: number): Op[] {
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand();
    if (r < 0.4) ops.push({ kind: "bit", ctx: ri(4), v: rand() < 0.1 ? 1 : 0 });
    else if (r < 0.6) {
      const n = ri(53) + 1;
      ops.push({ kind: "direct", n, v: Math.floor(rand() * 2 ** n) });
    } else {
      const bits = ri(MAX_CODED_BITS + 1);
      const mag = bits === 0 ? 0 : Math.min(Number.MAX_SAFE_INTEGER, Math.floor(2 ** (bits - 1) * (1 + rand())));
      ops.push({ kind: "int", k: ri(MAX_CODED_BITS + 1), sign: ri(9), v: rand() < 0.5 && mag !== 0 ? -mag : mag });
    }
  }
  return ops;
}

function encodeOps(ops: Op[]): Buffer {
  const enc = new RangeEncoder();
  const probs = newProbs(4);
  const model = new IntModel();
  for (const o of ops) {
    if (o.kind === "bit") enc.bit(probs, o.ctx, o.v);
    else if (o.kind === "direct") enc.direct(o.v, o.n);
    else model.encode(enc, o.v, o.k, o.sign);
  }
  return enc.finish();
}

function decodeOps(bytes: Uint8Array, ops: Op[]): number[] {
  const dec = new RangeDecoder(bytes);
  const probs = newProbs(4);
  const model = new IntModel();
  const out = ops.map((o) => (o.kind === "bit" ? dec.bit(probs, o.ctx) : o.kind === "direct" ? dec.direct(o.n) : model.decode(dec, o.k, o.sign)));
  assert.equal(dec.remaining, 0, "the decoder consumes exactly what the encoder wrote");
  return out;
}

describe("metrics/range-coder", () => {
  it("bitLength is exact up to 2^53", () => {
    assert.equal(bitLength(0), 0);
    assert.equal(bitLength(2 ** 32 - 1), 32);
    assert.equal(bitLength(2 ** 32), 33);
    assert.equal(bitLength(Number.MAX_SAFE_INTEGER), 53);
    for (let b = 1; b <= 53; b++) {
      assert.equal(bitLength(2 ** (b - 1)), b);
      assert.equal(bitLength(2 ** b - 1), b);
    }
  });

  it("round-trips adaptive bits, direct bits and integers of every length, whatever the expected length", () => {
    for (let round = 0; round < 300; round++) {
      const ops = randomOps(ri(300));
      assert.deepEqual(decodeOps(encodeOps(ops), ops), ops.map((o) => o.v));
    }
    // the extremes of the integer coder
    const edge: Op[] = [0, 1, -1, 2 ** 52, -(2 ** 52), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER].flatMap((v) =>
      [0, 1, 26, 52, 53].map((k) => ({ kind: "int" as const, k, sign: 0, v })));
    assert.deepEqual(decodeOps(encodeOps(edge), edge), edge.map((o) => o.v));
    assert.throws(() => new IntModel().encode(new RangeEncoder(), 2 ** 53, 0), RangeError);
  });

  it("skewed bits cost far less than a bit each", () => {
    const ops: Op[] = Array.from({ length: 8000 }, () => ({ kind: "bit", ctx: 0, v: rand() < 0.02 ? 1 : 0 }));
    assert.ok(encodeOps(ops).length < 200, `${encodeOps(ops).length} bytes for 8000 bits at p = 0.02`);
  });

  it("truncated input throws BatchCodecError, never reads past the end", () => {
    const ops = randomOps(200);
    const bytes = encodeOps(ops);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(() => decodeOps(bytes.subarray(0, cut), ops), BatchCodecError, `cut ${cut}`);
    }
  });
});

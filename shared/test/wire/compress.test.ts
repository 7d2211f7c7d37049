import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { decompress, maybeCompress } from "../../src/index.js";

describe("wire/compress", () => {
  it("compresses repetitive payloads and round-trips them", () => {
    const p = Buffer.from(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ domain: `vm${i}`, cpu: 0.5 }))));
    const { data, compressed } = maybeCompress(p);
    assert.ok(compressed);
    assert.ok(data.length < p.length / 3, `${data.length} vs ${p.length}`);
    assert.deepEqual(decompress(data, 1 << 20), p);
  });

  it("leaves incompressible and small payloads alone", () => {
    const r = randomBytes(4000);
    assert.deepEqual(maybeCompress(r), { data: r, compressed: false });
    const small = Buffer.from("aaaaaaaaaaaaaaaa");
    assert.equal(maybeCompress(small).compressed, false);
    assert.equal(maybeCompress(Buffer.alloc(10_000), 0).compressed, false); // threshold 0 = off
  });

  it("refuses to inflate beyond the limit (compression bomb) and rejects garbage", () => {
    const bomb = deflateRawSync(Buffer.alloc(50 * 1024 * 1024));
    assert.ok(bomb.length < 100_000);
    assert.throws(() => decompress(bomb, 4 * 1024 * 1024));
    // 0xff starts a block of the reserved type 11: invalid raw deflate whatever follows (random
    // bytes are sometimes a valid stream, which made this test flaky)
    assert.throws(() => decompress(Buffer.alloc(64, 0xff), 1024), /invalid block type/);
  });
});

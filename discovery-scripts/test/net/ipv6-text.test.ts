import assert from "node:assert/strict";
import { ipv6Text } from "../../src/net/ipv6-text.js";

/** 16 bytes from 8 words, network order. */
const bytesOf = (...words: number[]): number[] => words.flatMap((w) => [w >> 8, w & 0xff]);

describe("discovery-scripts/net/ipv6-text", () => {
  it("writes RFC 5952 text: lower case, no leading zeros", () => {
    assert.equal(ipv6Text(bytesOf(0x2001, 0x0db8, 0x00ab, 0xcdef, 0x0102, 0x0a0b, 0x1000, 0x000f)), "2001:db8:ab:cdef:102:a0b:1000:f");
  });

  it("compresses the longest zero run, the first one on a tie, never a single zero word", () => {
    assert.equal(ipv6Text(bytesOf(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5)), "2001:db8::5");
    assert.equal(ipv6Text(bytesOf(0x2001, 0xdb8, 0, 1, 0, 0, 0, 1)), "2001:db8:0:1::1");
    assert.equal(ipv6Text(bytesOf(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)), "2001:db8::1:0:0:1");
    assert.equal(ipv6Text(bytesOf(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1)), "2001:db8:0:1:1:1:1:1");
  });

  it("handles runs at either end and the all-zero address", () => {
    assert.equal(ipv6Text(bytesOf(0, 0, 0, 0, 0, 0, 0, 0)), "::");
    assert.equal(ipv6Text(bytesOf(0, 0, 0, 0, 0, 0, 0, 1)), "::1");
    assert.equal(ipv6Text(bytesOf(1, 0, 0, 0, 0, 0, 0, 0)), "1::");
    assert.equal(ipv6Text(bytesOf(0xfe80, 0, 0, 0, 0x2fc, 0x7cff, 0xfe00, 1)), "fe80::2fc:7cff:fe00:1");
  });

  it("keeps IPv4-mapped addresses in hex", () => {
    assert.equal(ipv6Text(bytesOf(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x201)), "::ffff:c000:201");
  });

  it("gives the same text for a byte array and a Uint8Array", () => {
    const b = bytesOf(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1);
    assert.equal(ipv6Text(Uint8Array.from(b)), ipv6Text(b));
  });

  it("matches the WHATWG URL host serialiser on addresses full of zero runs", () => {
    let state = 0x9e3779b9;
    const next = (): number => {
      state ^= state << 13; state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5; state >>>= 0;
      return state;
    };
    for (let n = 0; n < 3000; n++) {
      const words = Array.from({ length: 8 }, () => (next() % 5 < 3 ? 0 : next() & 0xffff));
      const full = words.map((w) => w.toString(16)).join(":");
      assert.equal(ipv6Text(bytesOf(...words)), new URL(`http://[${full}]/`).hostname.slice(1, -1), full);
    }
  });
});

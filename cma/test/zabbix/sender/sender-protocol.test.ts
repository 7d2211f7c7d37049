import assert from "node:assert/strict";
import { deflateSync, inflateSync } from "node:zlib";
import {
  FLAG_COMPRESSED, FLAG_PROTOCOL, HEADER_BYTES, ZabbixProtocolError, decodeFrame, encodeFrame, encodeSenderRequest, frameLength, parseSenderReply,
} from "../../../src/zabbix/sender/sender-protocol.js";
import { decodeValueEntry, encodeValueEntry } from "../../../src/zabbix/sender/value-entry.js";

const reply = (info: string, response = "success"): Buffer => Buffer.from(JSON.stringify({ response, info }));
const rejects = (f: () => unknown, reason: string): void =>
  assert.throws(f, (e: unknown) => e instanceof ZabbixProtocolError && e.reason === reason, `expected ${reason}`);

function header(flags: number, len: number, raw = 0): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.write("ZBXD", 0, "latin1");
  h[4] = flags;
  h.writeUInt32LE(len, 5);
  h.writeUInt32LE(raw, 9);
  return h;
}

describe("cma/zabbix/sender/sender-protocol", () => {
  it("frames a request: ZBXD, flags 0x01, little-endian length, zero reserved", () => {
    const f = encodeFrame(Buffer.from('{"a":1}'));
    assert.equal(f.subarray(0, 4).toString("latin1"), "ZBXD");
    assert.equal(f[4], FLAG_PROTOCOL);
    assert.equal(f.readUInt32LE(5), 7);
    assert.equal(f.readUInt32LE(9), 0);
    assert.equal(f.subarray(13).toString(), '{"a":1}');
    assert.equal(decodeFrame(f, 100).toString(), '{"a":1}');
  });

  it("compresses with zlib (flags 0x03, reserved = uncompressed length) when that is smaller", () => {
    const payload = Buffer.from(JSON.stringify({ data: Array.from({ length: 50 }, () => ({ host: "h", key: "k", value: "1" })) }));
    const f = encodeFrame(payload, true);
    assert.equal(f[4], FLAG_PROTOCOL | FLAG_COMPRESSED);
    assert.equal(f.readUInt32LE(9), payload.length);
    assert.ok(f.length < payload.length);
    assert.deepEqual(inflateSync(f.subarray(13)), payload);
    assert.deepEqual(decodeFrame(f, 1 << 20), payload);
    // nothing to gain on 2 bytes: sent plain
    assert.equal(encodeFrame(Buffer.from("{}"), true)[4], FLAG_PROTOCOL);
  });

  it("a sender request carries each value's own clock and ns, and no request-level clock", () => {
    const e = [encodeValueEntry({ host: "h 1", key: 'k["a,b",\\"]', value: 1.5, clock: 1_800_000_000, ns: 5 }), encodeValueEntry({ host: "h", key: "t", value: 'x"y', clock: 1, ns: 999_999_999 })];
    const doc = JSON.parse(decodeFrame(encodeSenderRequest(e), 1 << 20).toString()) as Record<string, unknown>;
    assert.deepEqual(doc, {
      request: "sender data",
      data: [{ host: "h 1", key: 'k["a,b",\\"]', value: "1.5", clock: 1_800_000_000, ns: 5 }, { host: "h", key: "t", value: 'x"y', clock: 1, ns: 999_999_999 }],
    });
    assert.equal("clock" in doc, false);
    assert.deepEqual(decodeValueEntry(e[1]!), { host: "h", key: "t", value: 'x"y', clock: 1, ns: 999_999_999 });
  });

  it("parses the server's reply counts", () => {
    assert.deepEqual(parseSenderReply(reply("processed: 3; failed: 1; total: 4; seconds spent: 0.000151")), {
      processed: 3, failed: 1, total: 4, secondsSpent: 0.000151, info: "processed: 3; failed: 1; total: 4; seconds spent: 0.000151",
    });
  });

  it("refuses malformed replies with a reason: bad magic, flags, oversized, truncated, trailing bytes, compression, JSON, info", () => {
    const good = encodeFrame(reply("processed: 1; failed: 0; total: 1; seconds spent: 0.1"));
    rejects(() => decodeFrame(Buffer.concat([Buffer.from("HTTP"), good.subarray(4)]), 1000), "badMagic");
    rejects(() => decodeFrame(Buffer.concat([header(0x05, 2), Buffer.from("{}")]), 1000), "badFlags");
    rejects(() => decodeFrame(Buffer.concat([header(0x00, 2), Buffer.from("{}")]), 1000), "badFlags");
    rejects(() => frameLength(header(0x01, 5000), 1000), "oversized");
    rejects(() => frameLength(header(0x03, 10, 5000), 1000), "oversized");
    rejects(() => decodeFrame(good.subarray(0, 20), 1000), "truncated");
    rejects(() => decodeFrame(good.subarray(0, 7), 1000), "truncated");
    rejects(() => decodeFrame(Buffer.concat([good, Buffer.from("x")]), 1000), "trailingBytes");
    rejects(() => decodeFrame(Buffer.concat([header(0x03, 4, 10), Buffer.from("nope")]), 1000), "badCompression");
    const z = deflateSync(Buffer.from("{}"));
    rejects(() => decodeFrame(Buffer.concat([header(0x03, z.length, 9), z]), 1000), "badCompression"); // wrong announced size
    rejects(() => parseSenderReply(Buffer.from("<html>")), "notJson");
    rejects(() => parseSenderReply(Buffer.from("[1]")), "badReply");
    rejects(() => parseSenderReply(Buffer.from('{"response":"success"}')), "badReply");
    rejects(() => parseSenderReply(Buffer.from('{"response":"success","info":42}')), "badReply");
    rejects(() => parseSenderReply(reply("processed: x; failed: 0; total: 1; seconds spent: 0.1")), "badReply");
    rejects(() => parseSenderReply(reply("processed: 1; failed: 1; total: 1; seconds spent: 0.1")), "badReply");
    assert.throws(() => parseSenderReply(reply("cannot parse request", "failed")), /refused the request.*cannot parse request/);
    rejects(() => parseSenderReply(reply("cannot parse request", "failed")), "refused");
    rejects(() => parseSenderReply(reply("x", "maybe")), "badReply");
  });
});

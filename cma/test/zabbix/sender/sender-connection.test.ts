/**
 * The connection against real TCP peers on loopback that answer what each case needs (a good
 * reply, garbage, nothing): this tests our reading of replies, not Zabbix's behaviour (that is in
 * test/zabbix-sender.test.ts against the real server).
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { encodeFrame, encodeSenderRequest } from "../../../src/zabbix/sender/sender-protocol.js";
import { ZabbixNoReplyError, ZabbixUnreachableError, parseSenderEndpoint, sendRequest } from "../../../src/zabbix/sender/sender-connection.js";
import { encodeValueEntry } from "../../../src/zabbix/sender/value-entry.js";

const timeouts = { connectTimeoutMs: 2000, replyTimeoutMs: 300 };
const frame = encodeSenderRequest([encodeValueEntry({ host: "h", key: "k", value: 1, clock: 1, ns: 2 })]);
const okReply = Buffer.from(JSON.stringify({ response: "success", info: "processed: 1; failed: 0; total: 1; seconds spent: 0.000100" }));

/** A server that waits for one whole request frame, then does `answer` with the socket. */
async function peer(answer: (s: Socket, request: Buffer) => void): Promise<{ server: Server; port: number; requests: Buffer[] }> {
  const requests: Buffer[] = [];
  const server = createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 13 && buf.length >= 13 + buf.readUInt32LE(5)) {
        requests.push(buf);
        answer(s, buf);
      }
    });
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

async function outcome(answer: (s: Socket) => void): Promise<unknown> {
  const p = await peer(answer);
  try {
    return await sendRequest({ host: "127.0.0.1", port: p.port }, frame, timeouts).catch((e: unknown) => e);
  } finally {
    p.server.close();
  }
}

describe("cma/zabbix/sender/sender-connection", () => {
  it("sends one frame on one connection and reads the reply, plain or compressed", async () => {
    for (const compress of [false, true]) {
      const p = await peer((s) => s.end(encodeFrame(Buffer.concat([okReply, Buffer.from(" ".repeat(200))]), compress)));
      const r = await sendRequest({ host: "127.0.0.1", port: p.port }, frame, timeouts);
      p.server.close();
      assert.equal(r.processed, 1);
      assert.deepEqual(p.requests, [frame]);
    }
  });

  it("a reply split into many small TCP segments is reassembled", async () => {
    const r = await outcome((s) => {
      const f = encodeFrame(okReply);
      let i = 0;
      const t = setInterval(() => {
        s.write(f.subarray(i, i + 3));
        i += 3;
        if (i >= f.length) {
          clearInterval(t);
          s.end();
        }
      }, 1);
    });
    assert.equal((r as { processed: number }).processed, 1);
  });

  const cases: [string, (s: Socket) => void, string][] = [
    ["garbage", (s) => s.end("HTTP/1.1 400 Bad Request\r\n\r\n"), "badMagic"],
    ["close without reply", (s) => s.end(), "truncated"],
    ["half a reply", (s) => s.end(encodeFrame(okReply).subarray(0, 20)), "truncated"],
    ["an oversized announced length", (s) => s.write(Buffer.concat([Buffer.from("ZBXD\x01"), Buffer.from([0, 0, 0, 0x10, 0, 0, 0, 0])])), "oversized"],
    ["not JSON", (s) => s.end(encodeFrame(Buffer.from("processed: 1"))), "notJson"],
    ["no info", (s) => s.end(encodeFrame(Buffer.from('{"response":"success"}'))), "badReply"],
    ["the server refusing the request", (s) => s.end(encodeFrame(Buffer.from('{"response":"failed","info":"cannot parse"}'))), "refused"],
    ["bytes after the reply", (s) => s.end(Buffer.concat([encodeFrame(okReply), Buffer.from("ZBXD")])), "trailingBytes"],
  ];
  for (const [what, answer, reason] of cases) {
    it(`a peer answering ${what}: no reply (${reason}), never a crash`, async () => {
      const e = await outcome(answer);
      assert.ok(e instanceof ZabbixNoReplyError, String(e));
      assert.equal(e.protocol?.reason, reason);
    });
  }

  it("a peer that never answers: no reply after the reply timeout", async () => {
    const e = await outcome(() => undefined);
    assert.ok(e instanceof ZabbixNoReplyError);
    assert.match(e.message, /no reply within 300 ms/);
    assert.equal(e.protocol, undefined);
  });

  it("nobody listening: unreachable (nothing was sent, resending is safe)", async () => {
    const p = await peer(() => undefined);
    const port = p.port;
    await new Promise((r) => p.server.close(r));
    const e = await sendRequest({ host: "127.0.0.1", port }, frame, timeouts).catch((x: unknown) => x);
    assert.ok(e instanceof ZabbixUnreachableError, String(e));
    assert.match(e.message, /ECONNREFUSED/);
  });

  it("parses host:port and refuses anything else", () => {
    assert.deepEqual(parseSenderEndpoint("127.0.0.1:10051"), { host: "127.0.0.1", port: 10051 });
    assert.deepEqual(parseSenderEndpoint("zabbix.example:10051"), { host: "zabbix.example", port: 10051 });
    assert.deepEqual(parseSenderEndpoint("[::1]:10051"), { host: "::1", port: 10051 });
    for (const bad of ["", "zabbix", "zabbix:", "zabbix:0", "zabbix:70000", "a b:1", "::1:10051"]) assert.throws(() => parseSenderEndpoint(bad), /host:port/, bad);
  });
});

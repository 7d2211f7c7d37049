/**
 * The sender's own bookkeeping with Zabbix unreachable (a real closed port on loopback): what is
 * accepted, refused, spooled, kept across a restart and dropped past the bound. Delivery to the
 * real Zabbix server is tested in test/zabbix-sender.test.ts and test/zabbix-outage.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil, unusedTcpPort } from "@ringwatch/shared/testing";
import { DurableSender, durableSenderOptions } from "../../../src/zabbix/sender/durable-sender.js";
import type { DurableSenderOptions, SenderDropEvent } from "../../../src/zabbix/sender/durable-sender.js";
import { cmaConfig } from "../../../src/config.js";
import type { ZabbixValue } from "../../../src/zabbix/sender/zabbix-value.js";


const value = (i: number): ZabbixValue => ({ host: "hv-1", key: `ringwatch.test[${i % 7}]`, value: i, clock: 1_800_000_000 + i, ns: i });

async function options(over: Partial<DurableSenderOptions> = {}): Promise<DurableSenderOptions> {
  return {
    server: { host: "127.0.0.1", port: await unusedTcpPort() }, spoolDir: mkdtempSync(join(tmpdir(), "rw-sender-")), spoolMaxBytes: 64 << 20,
    batchMax: 100, batchMs: 10, connectTimeoutMs: 1000, replyTimeoutMs: 1000, backoffMaxMs: 200, unknownHoldMs: 60_000, compress: false, ...over,
  };
}

describe("cma/zabbix/sender/durable-sender", () => {
  it("refuses invalid values with a counter, spools valid ones while Zabbix is unreachable, and a new sender on the same directory has them", async () => {
    const o = await options();
    const a = DurableSender.start(o, silentLogger());
    const reach: boolean[] = [];
    a.on("reachable", (r) => reach.push(r));
    a.push([value(1), { ...value(2), ns: 1e9 }, value(3), { ...value(4), host: "" }, value(5)]);
    assert.equal(a.counters.accepted, 3);
    assert.equal(a.counters.rejected, 2);
    await waitUntil(() => a.counters.connectFailures >= 2, 10_000, "retries against the closed port");
    assert.deepEqual(reach, [false]);
    assert.equal(a.counters.outages, 1);
    assert.equal(a.backlog, 3);
    assert.equal(a.counters.sent, 0);
    await a.stop();
    a.push([value(6)]);
    assert.equal(a.counters.rejected, 3, "after stop(): refused loudly, not lost quietly");
    const b = DurableSender.start(o, silentLogger());
    assert.equal(b.backlog, 3);
    await b.stop();
  });

  it("past spoolMaxBytes drops the oldest values with a counter and a drop event", async () => {
    const o = await options({ spoolMaxBytes: 1 << 20 });
    const s = DurableSender.start(o, silentLogger());
    const drops: SenderDropEvent[] = [];
    s.on("drop", (e) => drops.push(e));
    for (let i = 0; i < 200; i++) s.push(Array.from({ length: 100 }, (_, j) => value(i * 100 + j)));
    assert.ok(drops.length > 0 && drops.every((d) => d.reason === "spoolFull"));
    const dropped = drops.reduce((n, d) => n + d.values, 0);
    assert.equal(s.counters.dropped.spoolFull, dropped);
    const st = s.status() as { spool: { bytes: number } };
    assert.ok(st.spool.bytes <= 1 << 20);
    assert.equal(s.backlog + dropped, 20_000);
    await s.stop();
  });

  it("a peer answering garbage: bad replies are counted, the values stay spooled and are retried, nothing crashes", async () => {
    const peer = createServer((sock) => {
      sock.on("data", () => sock.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
      sock.on("error", () => undefined);
    });
    await new Promise<void>((r) => peer.listen(0, "127.0.0.1", r));
    try {
      const s = DurableSender.start(await options({ server: { host: "127.0.0.1", port: (peer.address() as AddressInfo).port } }), silentLogger());
      s.push([value(1), value(2), value(3)]);
      await waitUntil(() => (s.counters.badReplies.badMagic ?? 0) >= 9, 10_000, "three rounds answered with garbage");
      assert.equal(s.backlog, 3);
      assert.equal(s.counters.processed, 0);
      assert.equal(s.counters.outages, 1);
      assert.ok(s.counters.reconnects >= 2, `reconnects ${s.counters.reconnects}`);
      assert.ok(s.counters.noReply >= 9);
      await s.stop();
    } finally {
      peer.close();
    }
  });

  it("takes its options from the CMA configuration; no zabbixServer means no sender", () => {
    assert.equal(durableSenderOptions(cmaConfig({})), undefined);
    const o = durableSenderOptions(cmaConfig({ zabbixServer: "127.0.0.1:10051", dataDir: "/var/lib/rw" }))!;
    assert.deepEqual(o.server, { host: "127.0.0.1", port: 10051 });
    assert.equal(o.spoolDir, "/var/lib/rw/zabbix-spool");
    assert.equal(o.batchMax, 1000);
    assert.equal(o.batchMs, 1000);
    assert.throws(() => durableSenderOptions(cmaConfig({ zabbixServer: "zabbix" })), /host:port/);
  });
});

/**
 * The durable sender against the real Zabbix 6.0 server (scripts/zabbix.sh): values land in
 * history exactly as pushed (clock, ns, value), unknown items are held and arrive once after they
 * are created, values of items that never appear are dropped and counted, and a restarted sender
 * delivers what the old one had not sent. "None twice" is checked with the server's own reply
 * counts: history alone cannot show it, since Zabbix 6.0 stores a duplicate (itemid, clock, ns) once.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cma, DurableSender, cmaConfig } from "@ringwatch/cma";
import type { DurableSenderOptions, SenderDropEvent, ZabbixPair, ZabbixValue } from "@ringwatch/cma";
import { Keyring, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import {
  ValueType, addTrapperItems, api, reloadZabbixConfig, createTrapperHost, deleteHosts, ensureZabbix, historyCount, historyGet, uniqueHostName,
} from "./support/zabbix.js";
import type { TrapperHost, ValueTypeCode, ZabbixSettings } from "./support/zabbix.js";

const PREFIX = "rwt-zsend";

/** Wait until these items hold `count` values in history (the history syncer writes about once a second). */
async function historyReaches(itemids: string[], count: number, type: ValueTypeCode = ValueType.float, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let n = 0;
  while ((n = await historyCount(itemids, type)) < count) {
    if (Date.now() > end) throw new Error(`history has ${n} of ${count} values after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** history rows as [clock, ns, value] per key, sorted, for exact comparison with what was pushed */
async function stored(h: TrapperHost, type: ValueTypeCode = ValueType.float): Promise<Map<string, [number, number, string][]>> {
  const byId = new Map([...h.items].map(([k, id]) => [id, k]));
  const out = new Map<string, [number, number, string][]>();
  for (const r of await historyGet([...h.items.values()], type)) {
    const k = byId.get(r.itemid)!;
    out.set(k, [...(out.get(k) ?? []), [r.clock, r.ns, r.value]]);
  }
  return out;
}

function expected(values: ZabbixValue[], format: (v: ZabbixValue) => string = (v) => String(v.value)): Map<string, [number, number, string][]> {
  const out = new Map<string, [number, number, string][]>();
  for (const v of values) out.set(v.key, [...(out.get(v.key) ?? []), [v.clock, v.ns, format(v)]]);
  for (const rows of out.values()) rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return out;
}

describe("Zabbix sender → real Zabbix 6.0", function () {
  this.timeout(180_000);
  let zbx: ZabbixSettings;
  const hosts: string[] = [];
  const senders: DurableSender[] = [];
  const log = silentLogger();

  before(async () => {
    zbx = await ensureZabbix();
  });
  afterEach(async () => {
    for (const s of senders.splice(0)) await s.stop();
  });
  after(async () => {
    await deleteHosts(hosts);
  });

  function start(over: Partial<DurableSenderOptions> = {}): DurableSender {
    const s = DurableSender.start({
      server: { host: zbx.serverHost, port: zbx.serverPort }, spoolDir: mkdtempSync(join(tmpdir(), "rw-zsend-")), spoolMaxBytes: 64 << 20,
      batchMax: 1000, batchMs: 100, connectTimeoutMs: 5000, replyTimeoutMs: 30_000, backoffMaxMs: 1000, unknownHoldMs: 120_000,
      unknownRetryMinMs: 500, unknownRetryMaxMs: 2000, compress: false, ...over,
    }, log);
    senders.push(s);
    return s;
  }

  async function host(keys: string[], type: ValueTypeCode = ValueType.float): Promise<TrapperHost> {
    const name = uniqueHostName(PREFIX);
    hosts.push(name);
    return createTrapperHost(name, keys, type);
  }

  for (const compress of [false, true]) {
    it(`values keep their exact clock, ns and value in history.get${compress ? " (zlib-compressed requests, flags 0x03)" : ""}`, async () => {
      const nums = await host(["f1", "f2"]);
      const texts = await host(["t"], ValueType.text);
      const now = Math.floor(Date.now() / 1000) - 120;
      const numValues: ZabbixValue[] = [];
      const textValues: ZabbixValue[] = [];
      for (let i = 0; i < 300; i++) {
        numValues.push({ host: nums.host, key: i % 2 ? "f2" : "f1", value: i * 1.25 - 100, clock: now + (i % 97), ns: (i * 7_919_113 + 17) % 1_000_000_000 });
      }
      for (let i = 0; i < 50; i++) textValues.push({ host: texts.host, key: "t", value: `ünïcødé "q" \\ 😀 #${i}`, clock: now + i, ns: 999_999_999 - i });
      const s = start({ compress });
      s.push(numValues.slice(0, 100));
      s.push([...numValues.slice(100), ...textValues]);
      await waitUntil(() => s.backlog === 0, 60_000, "everything delivered", 50);
      await historyReaches([...nums.items.values()], numValues.length);
      await historyReaches([...texts.items.values()], textValues.length, ValueType.text);
      assert.deepEqual(await stored(nums), expected(numValues, (v) => String(v.value)));
      assert.deepEqual(await stored(texts, ValueType.text), expected(textValues));
      assert.equal(s.counters.processed, numValues.length + textValues.length, "the server processed each value once");
      assert.equal(s.counters.rejected + s.counters.dropped.unknownPair + s.counters.dropped.refused, 0);
    });
  }

  it("an unknown item: onUnknown is told, other items go on, and once the item exists its held values arrive once, in order", async () => {
    const h = await host(["known"]);
    const unknownCalls: ZabbixPair[][] = [];
    const s = start({ onUnknown: (p) => unknownCalls.push(p) });
    const now = Math.floor(Date.now() / 1000) - 60;
    const values: ZabbixValue[] = [];
    for (let i = 0; i < 40; i++) values.push({ host: h.host, key: i % 2 ? "later" : "known", value: i, clock: now + i, ns: i * 1000 });
    s.push(values.slice(0, 20));
    // "known" too may be unknown for up to a second: the server's configuration cache syncs every second
    await waitUntil(() => unknownCalls.flat().some((p) => p.key === "later"), 30_000, "onUnknown for the unknown item");
    assert.ok(unknownCalls.flat().every((p) => p.host === h.host && ["known", "later"].includes(p.key)));
    s.push(values.slice(20));
    // the known item is not held up by the unknown one
    await historyReaches([h.items.get("known")!], 20);
    const held = s.status().held as { pairs: number; values: number };
    assert.equal(held.pairs, 1, JSON.stringify(s.status()));
    assert.equal(s.backlog, 20, "the 20 values of the unknown item wait");
    await addTrapperItems(h, ["later"]);
    await waitUntil(() => s.backlog === 0, 60_000, "held values delivered after the item was created", 50);
    await historyReaches([h.items.get("later")!], 20);
    const got = await stored(h);
    assert.deepEqual(got, expected(values));
    assert.equal(s.counters.processed, 40, "each value processed once");
    assert.ok([1, 2].includes(s.counters.unknownPairs), `unknown pairs: ${s.counters.unknownPairs}`);
    assert.equal(s.counters.dropped.unknownPair, 0);
  });

  it("values of an item that never appears are dropped after unknownHoldMs, counted and reported; others arrive", async () => {
    const h = await host(["ok"]);
    const drops: SenderDropEvent[] = [];
    const s = start({ unknownHoldMs: 2000, unknownRetryMinMs: 300, unknownRetryMaxMs: 600 });
    s.on("drop", (e) => drops.push(e));
    const now = Math.floor(Date.now() / 1000) - 60;
    s.push(Array.from({ length: 10 }, (_, i) => ({ host: h.host, key: i < 5 ? "ok" : "never[x]", value: i, clock: now + i, ns: 5 })));
    await waitUntil(() => s.backlog === 0, 30_000, "unknown values given up", 50);
    assert.equal(s.counters.dropped.unknownPair, 5);
    assert.deepEqual(drops.map((d) => [d.reason, d.values, d.pairs]), [["unknownPair", 5, [{ host: h.host, key: "never[x]" }]]]);
    await historyReaches([h.items.get("ok")!], 5);
  });

  it("an item deleted after it was confirmed: the batch's failure is detected, its values resent one by one; the rest is stored once", async () => {
    const h = await host(["a", "b", "gone"]);
    const unknownCalls: ZabbixPair[][] = [];
    const s = start({ unknownHoldMs: 3000, unknownRetryMinMs: 500, unknownRetryMaxMs: 1000, onUnknown: (p) => unknownCalls.push(p) });
    const now = Math.floor(Date.now() / 1000) - 100;
    const first: ZabbixValue[] = ["a", "b", "gone"].map((key) => ({ host: h.host, key, value: 0, clock: now, ns: 0 }));
    s.push(first);
    await waitUntil(() => s.counters.processed === 3, 30_000, "the three pairs confirmed", 50);
    await api("item.delete", [h.items.get("gone")]);
    await reloadZabbixConfig();
    await new Promise((r) => setTimeout(r, 2500)); // the configuration cache forgets the item
    const later: ZabbixValue[] = Array.from({ length: 30 }, (_, i) => ({ host: h.host, key: ["a", "b", "gone"][i % 3]!, value: i + 1, clock: now + 1 + i, ns: i }));
    s.push(later);
    await waitUntil(() => s.backlog === 0, 60_000, "delivered or given up", 50);
    assert.ok(s.counters.partialFailures >= 1);
    assert.ok(unknownCalls.flat().some((p) => p.key === "gone"));
    assert.equal(s.counters.dropped.unknownPair, 10);
    h.items.delete("gone");
    await historyReaches([...h.items.values()], 22);
    // values processed in the failed batch and again one by one are stored once (primary key (itemid, clock, ns))
    assert.deepEqual(await stored(h), expected([...first, ...later].filter((v) => v.key !== "gone")));
  });

  it("a restarted sender on the same spool directory delivers what the old one had not sent, and nothing it had", async () => {
    const h = await host(["a", "b"]);
    const dir = mkdtempSync(join(tmpdir(), "rw-zsend-restart-"));
    const now = Math.floor(Date.now() / 1000) - 100;
    const values: ZabbixValue[] = Array.from({ length: 1500 }, (_, i) => ({ host: h.host, key: i % 3 ? "a" : "b", value: i, clock: now + (i % 90), ns: i }));
    // a long batch wait: the first 1,000 fill a batch and go, the other 500 wait for more
    const a = start({ spoolDir: dir, batchMs: 600_000 });
    a.push(values.slice(0, 1000));
    await waitUntil(() => a.counters.processed === 1000, 30_000, "first batch processed");
    a.push(values.slice(1000));
    await a.stop();
    assert.equal(a.counters.processed, 1000);
    const b = start({ spoolDir: dir });
    assert.equal(b.backlog, 500);
    await waitUntil(() => b.backlog === 0, 30_000, "the rest delivered by the new sender", 50);
    assert.equal(b.counters.processed, 500, "only what the old sender had not sent");
    assert.equal(b.counters.replayed, 500);
    assert.equal(b.counters.singleRequests, 0, "pairs confirmed by the old sender are not probed again");
    await historyReaches([...h.items.values()], 1500);
    assert.deepEqual(await stored(h), expected(values));
  });

  it("the CMA starts the sender from its configuration (zabbixServer, spool under dataDir) and reports its counters in status()", async () => {
    const h = await host(["k"]);
    const dataDir = mkdtempSync(join(tmpdir(), "rw-zsend-cma-"));
    // The CMA also sends its own heartbeat to zabbixCmaHost; a name no Zabbix host has keeps those
    // values out of `processed` whatever else the shared server holds (a default "ringwatch-cma"
    // host left by the demo made this count 2 in CI).
    const cmaHost = uniqueHostName(`${PREFIX}-cma`);
    const cfg = cmaConfig({ cluster: "zs", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", dataDir, zabbixServer: `${zbx.serverHost}:${zbx.serverPort}`, zabbixCmaHost: cmaHost, senderBatchMs: 100, httpListen: "off" });
    const cma = await Cma.start(cfg, { keyring: new Keyring("zs", makeClusterKey(randomBytes(32))), commandKey: newKeyPair("ed25519").privateKey, log });
    try {
      const sender = cma.zabbixSender!;
      assert.ok(existsSync(join(dataDir, "zabbix-spool", "queue")));
      sender.push([{ host: h.host, key: "k", value: 42, clock: Math.floor(Date.now() / 1000), ns: 7 }]);
      await waitUntil(() => (cma.status().zabbixSender as { processed: number }).processed === 1, 30_000, "processed, as status() tells", 50);
    } finally {
      await cma.stop();
    }
    const off = await Cma.start(cmaConfig({ cluster: "zs", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", dataDir, httpListen: "off" }), { keyring: new Keyring("zs", makeClusterKey(randomBytes(32))), commandKey: newKeyPair("ed25519").privateKey, log });
    assert.equal(off.zabbixSender, undefined);
    assert.equal(off.status().zabbixSender, undefined);
    await off.stop();
  });
});

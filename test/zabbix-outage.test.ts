/**
 * Zabbix stopped for a minute while values keep flowing, and the CMA restarted in the middle of
 * that minute: every value pushed arrives in history.get exactly once, with its own clock and ns.
 * Stops only zabbix_server (scripts/zabbix.sh stop-server; PostgreSQL and the frontend stay up) and
 * always starts it again, also when the test fails: the server is shared with other tests.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DurableSender } from "@ringwatch/cma";
import type { DurableSenderOptions, ZabbixValue } from "@ringwatch/cma";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import {
  createTrapperHost, deleteHosts, ensureZabbix, historyCount, historyGet, startZabbixServer, stopZabbixServer, uniqueHostName,
} from "./support/zabbix.js";
import type { TrapperHost } from "./support/zabbix.js";

const OUTAGE_MS = 60_000;
const PUSH_EVERY_MS = 100;
const VALUES_PER_PUSH = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("Zabbix outage (real Zabbix 6.0 stopped for a minute)", function () {
  this.timeout(360_000);
  const hostNames: string[] = [];
  let serverStopped = false;

  after(async () => {
    if (serverStopped) await startZabbixServer();
    await deleteHosts(hostNames);
  });

  it("every value pushed while Zabbix is down and across a CMA restart arrives once, with its original clock and ns", async () => {
    const zbx = await ensureZabbix();
    const keys = Array.from({ length: 10 }, (_, i) => `ringwatch.test.metric[${i}]`);
    const hosts: TrapperHost[] = [];
    for (let i = 0; i < 2; i++) {
      const name = uniqueHostName("rwt-zsend-outage");
      hostNames.push(name);
      hosts.push(await createTrapperHost(name, keys));
    }
    const opts: DurableSenderOptions = {
      server: { host: zbx.serverHost, port: zbx.serverPort }, spoolDir: mkdtempSync(join(tmpdir(), "rw-zsend-outage-")), spoolMaxBytes: 256 << 20,
      batchMax: 1000, batchMs: 200, connectTimeoutMs: 2000, replyTimeoutMs: 10_000, backoffMaxMs: 2000, unknownHoldMs: 300_000,
      unknownRetryMinMs: 500, unknownRetryMaxMs: 2000, compress: false,
    };
    const log = silentLogger();
    const a = DurableSender.start(opts, log);
    let current: DurableSender | undefined = a;
    const pushed: ZabbixValue[] = [];
    let seq = 0;
    // like the bridge: samples stamped when taken, pushed as they come
    const pusher = setInterval(() => {
      if (!current) return; // the CMA is restarting
      const ms = Date.now();
      const batch: ZabbixValue[] = [];
      for (let i = 0; i < VALUES_PER_PUSH; i++, seq++) {
        const h = hosts[seq % hosts.length]!;
        batch.push({ host: h.host, key: keys[Math.floor(seq / hosts.length) % keys.length]!, value: seq, clock: Math.floor(ms / 1000), ns: (ms % 1000) * 1_000_000 + (seq % 1_000_000) });
      }
      current.push(batch);
      pushed.push(...batch);
    }, PUSH_EVERY_MS);
    let b: DurableSender | undefined;
    try {
      await waitUntil(() => a.counters.processed > 1000, 30_000, "values flowing before the outage", 50);
      await stopZabbixServer();
      serverStopped = true;
      const down = Date.now();
      const pushedAtStop = pushed.length;
      await waitUntil(() => a.counters.connectFailures > 0, 20_000, "the sender noticing the outage", 50);
      // half way through the outage the CMA restarts: a new sender on the same spool
      await sleep(OUTAGE_MS / 2 - (Date.now() - down));
      current = undefined;
      await a.stop();
      b = DurableSender.start(opts, log);
      current = b;
      await sleep(OUTAGE_MS - (Date.now() - down));
      assert.ok(pushed.length - pushedAtStop > (OUTAGE_MS / PUSH_EVERY_MS) * VALUES_PER_PUSH * 0.5, "values kept flowing during the outage");
      assert.ok(b.backlog > 0, "values waited in the spool");
      await startZabbixServer();
      serverStopped = false;
      await sleep(3000); // values keep flowing after the restart too
    } finally {
      clearInterval(pusher);
      if (serverStopped) {
        await startZabbixServer();
        serverStopped = false;
      }
    }
    const sender = b!;
    await waitUntil(() => sender.backlog === 0, 120_000, "the spool replayed", 100);
    const itemids = hosts.flatMap((h) => [...h.items.values()]);
    const deadline = Date.now() + 60_000;
    while ((await historyCount(itemids)) < pushed.length && Date.now() < deadline) await sleep(500);

    // every value, with its clock and ns, exactly once
    const keyOf = new Map(hosts.flatMap((h) => [...h.items].map(([k, id]) => [id, `${h.host} ${k}`] as const)));
    const got = (await historyGet(itemids)).map((r) => `${keyOf.get(r.itemid)} ${r.clock} ${r.ns} ${r.value}`).sort();
    const want = pushed.map((v) => `${v.host} ${v.key} ${v.clock} ${v.ns} ${v.value}`).sort();
    assert.equal(got.length, want.length, `history has ${got.length} of ${want.length} values`);
    assert.deepEqual(got, want);

    // none twice by the server's own count; only a request whose reply was lost can be resent, and
    // then history keeps one copy (primary key (itemid, clock, ns))
    const processed = a.counters.processed + sender.counters.processed;
    assert.ok(processed >= pushed.length);
    assert.ok(processed - pushed.length <= a.counters.resent + sender.counters.resent, `processed ${processed} of ${pushed.length} pushed`);
    assert.equal(a.counters.partialFailures + sender.counters.partialFailures, 0);
    assert.ok(a.counters.outages >= 1);
    assert.ok(sender.counters.replayed > 0);
    assert.equal(Object.values(sender.counters.dropped).reduce((x, y) => x + y, 0), 0);
    await sender.stop();
  });
});

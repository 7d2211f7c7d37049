import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { GraphQueryError } from "../../src/graph/graph-store.js";
import type { GraphParams, GraphStore, ReadLimits, ReadResult } from "../../src/graph/graph-store.js";
import { KuzuStore } from "../../src/graph/kuzu-store.js";
import { Feed, captured } from "./graph-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "ringwatch-ingestor-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
async function kuzu(): Promise<KuzuStore> {
  const s = new KuzuStore({ path: join(dir, `g${n++}`), bufferPoolMb: 64, log: silentLogger() });
  await s.init();
  return s;
}

/** The real Kuzu store, refusing (as malformed) any write batch that contains a marked statement. */
class RefusingStore implements GraphStore {
  readonly kind = "kuzu";
  refused = 0;
  constructor(readonly inner: GraphStore, private readonly marker: string) {}
  init(): Promise<void> {
    return this.inner.init();
  }
  async write(statements: readonly { cypher: string; params?: GraphParams }[]): Promise<void> {
    if (statements.some((s) => JSON.stringify(s.params ?? {}).includes(this.marker))) {
      this.refused++;
      throw new GraphQueryError("syntax", "refused for the test");
    }
    return this.inner.write(statements);
  }
  read(cypher: string, params?: GraphParams, limits?: Partial<ReadLimits>): Promise<ReadResult> {
    return this.inner.read(cypher, params, limits);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe("cma/graph/graph-ingestor", function () {
  this.timeout(120_000);

  it("loses nothing when the graph engine dies in the middle of a write: the batch is retried", async () => {
    const store = await kuzu();
    const feed = new Feed(store);
    try {
      for (let i = 0; i < 100; i++) feed.host(`hv${i}`, `10.9.${i}.1`, "alive");
      for (let i = 0; i < 100; i++) feed.doc(`hv${i}`, captured("libvirt-domains"), 1_763_700_000_000 + i);
      // the same 30 guests on 100 hosts: each document moves them; the last one written wins
      await feed.ingestor.ready; // its start-up read done: the kill below hits the write
      const pid = store.workerPid!;
      const flushing = feed.flush();
      await waitUntil(() => store.inFlight > 0, 10_000, "the write sent", 1);
      process.kill(pid, "SIGKILL");
      await flushing;
      await waitUntil(() => feed.ingestor.pendingItems === 0, 30_000, "retried", 100);
      await feed.ingestor.flush();
      assert.ok(feed.ingestor.counters.writeFailures >= 1, "the kill hit a write");
      assert.ok(feed.ingestor.counters.retries >= 1);
      assert.equal(store.counters.workerCrashes, 1);
      const hosts = (await store.read("MATCH (h:Host) RETURN count(h) AS n")).rows[0].n;
      assert.equal(hosts, 100);
      const runs = (await store.read("MATCH (h:Host)-[:RUNS]->(d:Domain) RETURN h.name AS host, count(d) AS n")).rows;
      assert.deepEqual(runs, [{ host: "hv99", n: 30 }], "every guest on the host that reported it last");
    } finally {
      await feed.stop();
      await store.close();
    }
  });

  it("a batch the store refuses as malformed is split: only the bad item is dropped, the rest is written", async () => {
    const store = new RefusingStore(await kuzu(), "poison-host");
    const feed = new Feed(store);
    try {
      feed.host("good1", "10.8.0.1", "alive");
      feed.doc("good1", captured("os"));
      feed.doc("poison-host", captured("os"));
      feed.doc("good2", captured("cpu-memory"));
      await feed.flush();
      assert.ok(store.refused >= 2, "the whole batch, then the poisoned item alone");
      assert.equal(feed.ingestor.counters.droppedItems, 1);
      const names = (await store.read("MATCH (h:Host) RETURN h.name AS name ORDER BY name")).rows.map((r) => r.name);
      assert.deepEqual(names, ["good1", "good2"]);
      assert.equal(feed.ingestor.pendingItems, 0);
    } finally {
      await feed.stop();
      await store.close();
    }
  });

  it("keeps only the newest pending document per host and type, and writes on its own after flushMs", async () => {
    const store = await kuzu();
    const feed = new Feed(store);
    try {
      const a = captured("os"), b = captured("os");
      a.data.kernelRelease = "6.1-old";
      b.data.kernelRelease = "6.2-new";
      feed.doc("hv1", a);
      feed.doc("hv1", b);
      assert.equal(feed.ingestor.pendingItems, 2, "one document and the initial host sync");
      await feed.flush();
      assert.deepEqual((await store.read("MATCH (h:Host {name: 'hv1'}) RETURN h.kernel AS k")).rows, [{ k: "6.2-new" }]);
      assert.equal(feed.ingestor.counters.itemsWritten, 1);
    } finally {
      await feed.stop();
      await store.close();
    }
    // with a short flushMs nobody needs to call flush()
    const store2 = await kuzu();
    const { GraphIngestor } = await import("../../src/graph/graph-ingestor.js");
    const { DiscoveryStore } = await import("../../src/intake/discovery-store.js");
    const discovery = new DiscoveryStore(silentLogger());
    const ing = new GraphIngestor(store2, { discovery }, { flushMs: 50, maxItems: 1000, maxRows: 1000, retryMaxMs: 1000 }, silentLogger());
    ing.start();
    try {
      discovery.apply("hv9", { script: "os", documentJson: JSON.stringify(captured("os")), atMs: 1 });
      await waitUntil(() => ing.counters.itemsWritten === 1, 10_000, "written by the timer", 50);
      assert.equal((await store2.read("MATCH (h:Host {name: 'hv9'}) RETURN count(h) AS n")).rows[0].n, 1);
    } finally {
      await ing.stop();
      await store2.close();
    }
  });

  it("writes what is pending at stop, and ignores discovertypes it has no plugin for", async () => {
    const store = await kuzu();
    const feed = new Feed(store);
    feed.doc("hv1", captured("os"));
    const other = captured("os");
    other.discovertype = "something-else";
    feed.doc("hv1", other);
    await feed.stop();
    assert.equal(feed.ingestor.counters.ignoredDocuments, 1);
    try {
      assert.equal((await store.read("MATCH (h:Host {name: 'hv1'}) RETURN count(h) AS n")).rows[0].n, 1);
    } finally {
      await store.close();
    }
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { silentLogger } from "@ringwatch/shared";
import { KuzuStore } from "../../src/graph/kuzu-store.js";
import type { KuzuStoreOptions } from "../../src/graph/kuzu-store.js";
import { mergeNodes } from "../../src/graph/write-batch.js";
import { conformanceSuite, expectQueryError } from "./store-conformance.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freshPath(): string {
  const d = mkdtempSync(join(tmpdir(), "ringwatch-kuzu-"));
  dirs.push(d);
  return join(d, "graph");
}

export async function makeKuzuStore(path = freshPath(), options: Partial<KuzuStoreOptions> = {}): Promise<KuzuStore> {
  const s = new KuzuStore({ path, bufferPoolMb: 64, log: silentLogger(), ...options });
  await s.init();
  return s;
}

conformanceSuite("kuzu", () => makeKuzuStore(), { writeProcedureCall: "CALL create_fts_index('Host', 'host_names', ['name'])" });

describe("cma/graph/kuzu-store", function () {
  this.timeout(120_000);

  it("keeps the graph on disk: a store reopened at the same path has the data", async () => {
    const path = freshPath();
    const a = await makeKuzuStore(path);
    await a.write(mergeNodes("Host", [{ name: "hv1", state: "dead" }]));
    await a.close();
    const b = await makeKuzuStore(path);
    try {
      const r = await b.read("MATCH (h:Host) RETURN h.name AS name, h.state AS state");
      assert.deepEqual(r.rows, [{ name: "hv1", state: "dead" }]);
    } finally {
      await b.close();
    }
  });

  it("opens a store written by an older schema: adds the tables and properties it lacks, keeps the data", async () => {
    const path = freshPath();
    // the graph as an earlier version wrote it: IPAddr without owned, no OFFERS table (in a process
    // of its own; a query result left open when its database closes crashes the process at exit)
    const old = spawnSync(process.execPath, ["--input-type=module", "-e", `
      import kuzu from "kuzu";
      const db = new kuzu.Database(${JSON.stringify(path)});
      const c = new kuzu.Connection(db);
      (await c.query("CREATE NODE TABLE IPAddr(address STRING, family STRING, firstSeen INT64, updatedAt INT64, PRIMARY KEY(address))")).close();
      (await c.query("CREATE (:IPAddr {address: '10.1.1.1', family: 'IPv4'})")).close();
      await c.close();
      await db.close();`], { cwd: fileURLToPath(new URL("../../..", import.meta.url)), encoding: "utf8", timeout: 60_000 });
    assert.equal(old.status, 0, old.stderr);
    const s = await makeKuzuStore(path);
    try {
      assert.deepEqual((await s.read("MATCH (a:IPAddr) RETURN a.address AS a, a.family AS f, a.owned AS owned")).rows, [{ a: "10.1.1.1", f: "IPv4", owned: null }]);
      assert.deepEqual((await s.read("MATCH ()-[x:OFFERS]->() RETURN count(x) AS n")).rows, [{ n: 0 }]);
    } finally {
      await s.close();
    }
  });

  it("under steady ingestion (a write every 200 ms) each query right after a write sees it, and no database is opened again", async () => {
    const s = await makeKuzuStore();
    try {
      for (let i = 0; i < 15; i++) {
        await s.write(mergeNodes("Host", [{ name: `hv${i}`, state: "alive" }]));
        const r = await s.read("MATCH (h:Host) RETURN count(h) AS n, max(h.name) AS last");
        assert.equal(r.rows[0].n, i + 1, `write ${i} seen at once`);
        await new Promise((res) => setTimeout(res, 200));
      }
      const stats = await s.engineStats();
      assert.equal(stats.databaseOpens, 1, "only the worker's own open");
      assert.equal(stats.reads, 15);
      assert.equal(stats.writes >= 15, true);
    } finally {
      await s.close();
    }
  });

  it("a checkpoint waits for the running queries: no write fails, no query fails, nothing is lost", async () => {
    // every write is followed by a checkpoint; a query that runs ~0.1–0.5 s is always in flight
    const s = await makeKuzuStore(freshPath(), { checkpointWalBytes: 1 });
    try {
      let stop = false;
      const slowReads = (async () => {
        let n = 0;
        while (!stop) {
          const r = await s.read("UNWIND range(1, 300000) AS x RETURN count(x) AS n", undefined, { timeoutMs: 20_000, maxRows: 10 });
          assert.equal(r.rows[0].n, 300_000);
          n++;
        }
        return n;
      })();
      for (let i = 0; i < 12; i++) {
        await new Promise((res) => setTimeout(res, 50));
        await s.write(mergeNodes("Host", [{ name: `hv${i}` }]));
      }
      stop = true;
      assert.ok((await slowReads) >= 1);
      assert.equal((await s.read("MATCH (h:Host) RETURN count(h) AS n")).rows[0].n, 12);
      const stats = await s.engineStats();
      assert.equal(stats.checkpointFailures, 0);
      assert.ok(stats.checkpoints >= 12, `checkpoints: ${stats.checkpoints}`);
      assert.ok(stats.checkpointWaitMsMax > 0, "at least one checkpoint waited for a running query");
    } finally {
      await s.close();
    }
  });

  it("a read begun before a write never makes a later read miss that write", async () => {
    const s = await makeKuzuStore();
    try {
      for (let i = 0; i < 5; i++) {
        const early = s.read("MATCH (h:Host) RETURN count(h) AS n"); // opens a snapshot for the current generation
        await s.write(mergeNodes("Host", [{ name: `hv${i}` }]));
        const later = await s.read("MATCH (h:Host) RETURN count(h) AS n");
        assert.equal(later.rows[0].n, i + 1);
        await early;
      }
    } finally {
      await s.close();
    }
  });

  it("survives a query that crashes the Kuzu engine: the caller gets code store, the next request works", async () => {
    const s = await makeKuzuStore();
    try {
      await s.write(mergeNodes("Host", [{ name: "hv1" }]));
      // kuzu 0.11.3 dies with SIGSEGV on this; it runs in the worker process, not in the CMA
      await expectQueryError(s.read("RETURN 1 IN NULL AS x"), "store", /graph engine stopped/);
      assert.equal(s.counters.workerCrashes, 1);
      const r = await s.read("MATCH (h:Host) RETURN h.name AS name");
      assert.deepEqual(r.rows, [{ name: "hv1" }]);
      await s.write(mergeNodes("Host", [{ name: "hv2" }]));
      assert.equal((await s.read("MATCH (h:Host) RETURN count(h) AS n")).rows[0].n, 2);
      assert.equal(s.counters.workerStarts, 2);
    } finally {
      await s.close();
    }
  });

  it("a query Kuzu's own timeout does not stop: code timeout, the worker replaced, and the very next read works", async () => {
    const s = await makeKuzuStore(freshPath(), { hardTimeoutGraceMs: 300 });
    try {
      await s.write(mergeNodes("Host", [{ name: "hv1" }]));
      await expectQueryError(s.read("UNWIND range(1, 1000000000) AS x RETURN sum(x) AS s", {}, { timeoutMs: 200 }), "timeout");
      // sent at once, while the old worker is being killed: it must go to a fresh worker
      assert.deepEqual((await s.read("MATCH (h:Host) RETURN h.name AS name")).rows, [{ name: "hv1" }]);
      assert.equal(s.counters.workerStarts, 2);
    } finally {
      await s.close();
    }
  });

  it("waits for another process to let go of the database (a CMA restarted at once) instead of failing", async () => {
    const path = freshPath();
    const a = await makeKuzuStore(path);
    await a.write(mergeNodes("Host", [{ name: "hv1" }]));
    const b = new KuzuStore({ path, bufferPoolMb: 64, log: silentLogger() });
    let opened = false;
    const opening = b.init().then(() => (opened = true));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(opened, false, "the first store still holds the lock");
    await a.close();
    await opening;
    try {
      assert.deepEqual((await b.read("MATCH (h:Host) RETURN h.name AS name")).rows, [{ name: "hv1" }]);
    } finally {
      await b.close();
    }
  });

  it("refuses requests after close with code store", async () => {
    const s = await makeKuzuStore();
    await s.close();
    await expectQueryError(s.read("RETURN 1 AS x"), "store", /closed/);
  });
});

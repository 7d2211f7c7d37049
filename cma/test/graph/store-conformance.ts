/**
 * One conformance suite for every GraphStore: called once per store (Kuzu always; Neo4j when
 * NEO4J_URI is set). Each test starts from an empty store made by makeStore(). It covers the
 * store itself (here), ingestion (ingest-conformance.ts) and the named root-cause queries on
 * constructed scenarios (queries-conformance.ts).
 */
import assert from "node:assert/strict";
import { GraphQueryError } from "../../src/graph/graph-store.js";
import type { GraphStore } from "../../src/graph/graph-store.js";
import { chunk, mergeNodes, mergeRels } from "../../src/graph/write-batch.js";
import { ingestConformance } from "./ingest-conformance.js";
import { queriesConformance } from "./queries-conformance.js";
import { derivedConformance } from "./derived-conformance.js";
import { actionsConformance } from "./actions-conformance.js";
import { guestFlowsConformance } from "./guest-flows-conformance.js";
import { addressScopeConformance } from "./address-scope-conformance.js";

export interface ConformanceOptions {
  /** a procedure call that would write if the read path allowed it */
  writeProcedureCall: string;
}

export async function expectQueryError(p: Promise<unknown>, code: string, message?: RegExp): Promise<GraphQueryError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof GraphQueryError, `expected a GraphQueryError, got ${String(e)}`);
    assert.equal(e.code, code, `code of: ${e.message}`);
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected GraphQueryError ${code}, but the call succeeded`);
}

const uuid = (i: number): string => `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;

export function conformanceSuite(name: string, makeStore: () => Promise<GraphStore>, o: ConformanceOptions): void {
  describe(`graph store conformance: ${name}`, function () {
    this.timeout(180_000);
    let store: GraphStore;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store?.close();
    });

    const count = async (cypher: string, params?: Record<string, unknown>): Promise<number> => {
      const r = await store.read(cypher, params);
      return r.rows[0]?.n as number;
    };

    it("init is idempotent and writes come back as plain JSON: integers, strings, booleans, nodes as property maps", async () => {
      await store.init();
      await store.write(mergeNodes("Host", [{ name: "hv1", port: 1984, state: "alive", representative: true, since: 1_763_700_000_123 }]));
      const r = await store.read("MATCH (h:Host {name: $name}) RETURN h.name AS name, h.port AS port, h.representative AS rep, h.since AS since, h.version AS version, h", { name: "hv1" });
      assert.deepEqual(r.columns, ["name", "port", "rep", "since", "version", "h"]);
      assert.deepEqual(r.rows, [{ name: "hv1", port: 1984, rep: true, since: 1_763_700_000_123, version: null, h: { _label: "Host", name: "hv1", port: 1984, state: "alive", representative: true, since: 1_763_700_000_123 } }]);
      assert.equal(r.truncated, false);
      assert.ok(r.elapsedMs >= 0);
    });

    it("binds every relationship to the right nodes when hosts and domains are created in the same batch (Kuzu MERGE-in-UNWIND pitfall)", async () => {
      // 2,000 domains over 20 hosts, all new: the single-statement MERGE form attached most
      // domains to one host on Kuzu 0.11; the store must end with each domain on its own host.
      const rows = Array.from({ length: 2000 }, (_, i) => ({ host: `hv${i % 20}`, uuid: uuid(i) }));
      for (const part of chunk(rows, 500)) {
        await store.write([
          ...mergeNodes("Host", part.map((r) => ({ name: r.host }))),
          ...mergeNodes("Domain", part.map((r) => ({ uuid: r.uuid, name: `vm-${r.uuid.slice(-4)}`, present: true }))),
          ...mergeRels("RUNS", "Host", "Domain", part.map((r) => ({ from: r.host, to: r.uuid }))),
        ]);
      }
      const r = await store.read("MATCH (h:Host)-[:RUNS]->(d:Domain) RETURN h.name AS host, count(d) AS n ORDER BY host", {}, { maxRows: 100 });
      assert.equal(r.rows.length, 20);
      for (const row of r.rows) assert.equal(row.n, 100, `${String(row.host)} runs ${String(row.n)} domains`);
      const wrong = await store.read("MATCH (h:Host)-[:RUNS]->(d:Domain) RETURN h.name AS host, d.uuid AS uuid", {}, { maxRows: 5000 });
      const expected = new Map(rows.map((x) => [x.uuid, x.host]));
      assert.equal(wrong.rows.length, 2000);
      for (const row of wrong.rows) assert.equal(row.host, expected.get(row.uuid as string));
    });

    it("writing the same batch twice changes nothing", async () => {
      const batch = [
        ...mergeNodes("Host", [{ name: "a", state: "alive", port: 1 }, { name: "b", state: "dead", port: 2 }]),
        ...mergeNodes("Segment", [{ name: "10.0.0.0/24" }]),
        ...mergeRels("IN_SEGMENT", "Host", "Segment", [{ from: "a", to: "10.0.0.0/24" }, { from: "b", to: "10.0.0.0/24" }]),
        ...mergeRels("WATCHES", "Host", "Host", [{ from: "a", to: "b", ring: "segment" }]),
      ];
      const snapshot = async (): Promise<unknown> => (await store.read(
        "MATCH (x) OPTIONAL MATCH (x)-[e]->(y) RETURN x, e, y ORDER BY x.name, y.name", {}, { maxRows: 100 })).rows;
      await store.write(batch);
      const once = await snapshot();
      await store.write(batch);
      assert.deepEqual(await snapshot(), once);
      assert.equal(await count("MATCH (n) RETURN count(n) AS n"), 3);
      assert.equal(await count("MATCH ()-[e]->() RETURN count(e) AS n"), 3);
    });

    it("a null field is written as null and a row's missing field leaves the property alone", async () => {
      await store.write(mergeNodes("Host", [{ name: "a", version: "1", kernel: "6.1" }, { name: "b", version: "2", kernel: "6.2" }]));
      await store.write(mergeNodes("Host", [{ name: "a", version: null }, { name: "b", version: "3" }]));
      const r = await store.read("MATCH (h:Host) RETURN h.name AS name, h.version AS version, h.kernel AS kernel ORDER BY name");
      assert.deepEqual(r.rows, [{ name: "a", version: null, kernel: "6.1" }, { name: "b", version: "3", kernel: "6.2" }]);
    });

    it("a batch is all or nothing: a failing statement leaves nothing of it behind", async () => {
      await assert.rejects(store.write([
        ...mergeNodes("Host", [{ name: "kept-out" }]),
        { cypher: "MATCH (h:Host {name: 'kept-out'}) SET h.port = h.name + 1 + h" },
      ]), GraphQueryError);
      assert.equal(await count("MATCH (h:Host) RETURN count(h) AS n"), 0);
      await store.write(mergeNodes("Host", [{ name: "after" }]));
      assert.equal(await count("MATCH (h:Host) RETURN count(h) AS n"), 1);
    });

    it("reads see every committed write (a read after a write is never stale)", async () => {
      for (let i = 1; i <= 5; i++) {
        await store.write(mergeNodes("Host", [{ name: `h${i}` }]));
        assert.equal(await count("MATCH (h:Host) RETURN count(h) AS n"), i);
      }
    });

    it("refuses parameters Kuzu cannot type, with clear messages, on both stores", async () => {
      await store.write(mergeNodes("Host", [{ name: "a" }]));
      await expectQueryError(store.read("MATCH (h:Host) WHERE h.name IN $names RETURN h.name", { names: [] }), "syntax", /empty list/);
      await expectQueryError(store.read("RETURN $x AS x", { x: null }), "syntax", /null/);
      await expectQueryError(store.read("RETURN $x AS x", { x: [1, "a"] }), "syntax", /mixes/);
      await expectQueryError(store.read("RETURN $x AS x", { x: { a: 1 } }), "syntax");
      await expectQueryError(store.write([{ cypher: "UNWIND $rows AS r MERGE (h:Host {name: r.name}) SET h.port = r.port", params: { rows: [{ name: "x", port: 1 }, { name: "y", port: 1.5 }] } }]), "syntax", /integer|fraction|float/);
      await expectQueryError(store.write([{ cypher: "UNWIND $rows AS r MERGE (h:Host {name: r.name}) SET h.port = r.port", params: { rows: [{ name: "x", port: null }] } }]), "syntax", /null in every row/);
      const r = await store.read("MATCH (h:Host) WHERE h.name IN $names RETURN h.name AS name", { names: ["a", "b"] });
      assert.deepEqual(r.rows, [{ name: "a" }]);
      // an empty UNWIND is a no-op, not an error
      await store.write([{ cypher: "UNWIND $rows AS r MERGE (h:Host {name: r.name})", params: { rows: [] } }]);
    });

    describe("the read path cannot write", () => {
      beforeEach(async () => {
        await store.write(mergeNodes("Host", [{ name: "a", port: 1 }]));
      });
      for (const [what, cypher] of [
        ["CREATE", "CREATE (h:Host {name: 'evil'})"],
        ["MERGE", "MERGE (h:Host {name: 'evil'})"],
        ["SET", "MATCH (h:Host {name: 'a'}) SET h.port = 666"],
        ["DELETE", "MATCH (h:Host {name: 'a'}) DELETE h"],
        ["DETACH DELETE", "MATCH (h:Host) DETACH DELETE h"],
        ["MERGE after a read", "MATCH (h:Host) WITH h MERGE (x:Host {name: h.name + '-copy'}) RETURN x.name"],
        ["a write procedure call", "<proc>"],
        ["a file export", "COPY (MATCH (h:Host) RETURN h.name) TO '/tmp/ringwatch-graph-export.csv'"],
        ["a file read", "LOAD FROM '/etc/hostname' RETURN *"],
        ["LOAD CSV", "LOAD CSV FROM 'file:///etc/hostname' AS line RETURN line"],
        ["a settings change", "CALL timeout=100000000"],
        ["a second statement", "MATCH (h:Host) RETURN h.name; CREATE (h:Host {name: 'evil'})"],
      ] as const) {
        it(`refuses ${what}`, async () => {
          const q = cypher === "<proc>" ? o.writeProcedureCall : cypher;
          await expectQueryError(store.read(q), what === "a second statement" ? "syntax" : "write-refused");
          const r = await store.read("MATCH (h:Host) RETURN h.name AS name, h.port AS port");
          assert.deepEqual(r.rows, [{ name: "a", port: 1 }]);
        });
      }
      it("keywords inside strings, names and comments are not mistaken for writes", async () => {
        const r = await store.read("MATCH (h:Host) // CREATE nothing\nRETURN 'CREATE (x) SET DELETE; LOAD' AS `set`, h.name AS name");
        assert.deepEqual(r.rows, [{ set: "CREATE (x) SET DELETE; LOAD", name: "a" }]);
      });
    });

    it("stops a query at its timeout with code timeout, and the store keeps working", async () => {
      await store.write(mergeNodes("Host", Array.from({ length: 3000 }, (_, i) => ({ name: `h${i}` }))));
      const e = await expectQueryError(store.read(
        "MATCH (a:Host), (b:Host), (c:Host) WHERE a.name + b.name + c.name = 'nothing' RETURN count(*) AS n", {}, { timeoutMs: 300 }), "timeout");
      assert.match(e.message, /time/);
      assert.equal(await count("MATCH (h:Host) RETURN count(h) AS n"), 3000);
    });

    it("returns at most maxRows rows and says when there were more", async () => {
      await store.write(mergeNodes("Host", Array.from({ length: 50 }, (_, i) => ({ name: `h${String(i).padStart(2, "0")}` }))));
      const few = await store.read("MATCH (h:Host) RETURN h.name AS name ORDER BY name", {}, { maxRows: 10 });
      assert.equal(few.rows.length, 10);
      assert.equal(few.truncated, true);
      assert.deepEqual(few.rows[0], { name: "h00" });
      const all = await store.read("MATCH (h:Host) RETURN h.name AS name ORDER BY name", {}, { maxRows: 50 });
      assert.equal(all.rows.length, 50);
      assert.equal(all.truncated, false);
      const none = await store.read("MATCH (h:Host) RETURN h.name AS name", {}, { maxRows: 0 });
      assert.deepEqual([none.rows.length, none.truncated, none.columns], [0, true, ["name"]]);
    });

    it("reports syntax errors and bad limits as code syntax, oversized queries as too-large", async () => {
      await expectQueryError(store.read("MATCH (h:Host RETURN h"), "syntax");
      await expectQueryError(store.read("   "), "syntax");
      await expectQueryError(store.read("RETURN 1 AS x", {}, { maxRows: -1 }), "syntax");
      await expectQueryError(store.read("RETURN 1 AS x", {}, { timeoutMs: 0 }), "syntax");
      await expectQueryError(store.read(`RETURN '${"x".repeat(70_000)}' AS x`), "too-large");
    });

    it("answers reads while writes go on", async () => {
      const writes = Array.from({ length: 10 }, (_, i) => store.write(mergeNodes("Host", [{ name: `w${i}` }])));
      const reads = Array.from({ length: 10 }, () => store.read("MATCH (h:Host) RETURN count(h) AS n"));
      await Promise.all(writes);
      for (const r of await Promise.all(reads)) assert.ok((r.rows[0].n as number) <= 10);
      assert.equal(await count("MATCH (h:Host) RETURN count(h) AS n"), 10);
    });

    ingestConformance(makeStore);
    queriesConformance(makeStore);
    derivedConformance(makeStore);
    actionsConformance(makeStore);
    guestFlowsConformance(makeStore);
    addressScopeConformance(makeStore);
  });
}

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, silentLogger } from "@ringwatch/shared";
import { openGraphStore } from "../../src/graph/open-store.js";
import { KuzuStore } from "../../src/graph/kuzu-store.js";
import { Neo4jStore } from "../../src/graph/neo4j-store.js";

describe("cma/graph/open-store", function () {
  this.timeout(60_000);
  const log = silentLogger();
  const base = { graphStore: "kuzu", graphBufferPoolMb: 32, dataDir: "" };

  it("chooses Neo4j from the environment, Kuzu otherwise, nothing when disabled", async () => {
    assert.equal(openGraphStore({ ...base, graphStore: "none" }, { NEO4J_URI: "bolt://127.0.0.1:1" }, log), undefined);
    const neo = openGraphStore(base, { NEO4J_URI: "bolt://127.0.0.1:1", NEO4J_USER: "u", NEO4J_PASSWORD: "p" }, log);
    assert.ok(neo instanceof Neo4jStore);
    await neo.close();
    assert.throws(() => openGraphStore(base, { NEO4J_URI: "bolt://127.0.0.1:1" }, log), ConfigError);
    assert.throws(() => openGraphStore({ ...base, graphStore: "neo4j" }, {}, log), ConfigError);
  });

  it("keeps Kuzu in <dataDir>/graph, or in a temporary directory removed at close", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-open-"));
    try {
      const s = openGraphStore({ ...base, dataDir }, {}, log)!;
      assert.ok(s instanceof KuzuStore);
      await s.init();
      await s.close();
      assert.ok(existsSync(join(dataDir, "graph")));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
    const t = openGraphStore(base, {}, log) as KuzuStore;
    await t.init();
    await t.write([{ cypher: "MERGE (h:Host {name: 'x'})" }]);
    const path = (t as unknown as { o: { path: string } }).o.path;
    assert.ok(existsSync(path));
    await t.close();
    assert.ok(!existsSync(path));
  });
});

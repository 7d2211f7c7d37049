/**
 * Neo4jStore: the conformance suite runs whenever NEO4J_URI (with NEO4J_USER and NEO4J_PASSWORD)
 * points at a server, against that server's database, emptied before each test. A Neo4j server
 * cannot be installed on the build machines (FACTS.md), so without NEO4J_URI only the parts
 * that need no server run here: value and parameter conversion, error sorting, and what the
 * store does when its server cannot be reached (a real driver on a closed loopback port).
 */
import assert from "node:assert/strict";
import neo4j from "neo4j-driver";
import { silentLogger } from "@ringwatch/shared";
import { Neo4jStore, fromNeo4j, neo4jError, toNeo4jParam } from "../../src/graph/neo4j-store.js";
import { conformanceSuite, expectQueryError } from "./store-conformance.js";

const { NEO4J_URI: uri, NEO4J_USER: user, NEO4J_PASSWORD: password } = process.env;

if (uri) {
  conformanceSuite("neo4j", async () => {
    assert.ok(user && password, "NEO4J_USER and NEO4J_PASSWORD must be set with NEO4J_URI");
    const s = new Neo4jStore({ uri, user, password, database: process.env.NEO4J_DATABASE || undefined, log: silentLogger() });
    await s.init();
    await s.write([{ cypher: "MATCH (n) DETACH DELETE n" }]);
    return s;
  }, { writeProcedureCall: "CALL db.createLabel('Evil')" });
}

describe("cma/graph/neo4j-store (no server needed)", function () {
  this.timeout(60_000);

  it("sends whole numbers as Neo4j integers and keeps fractions as floats", () => {
    const p = toNeo4jParam({ a: 5, b: 2.5, rows: [{ port: 22, name: "x", up: true }], list: [1, 2] }) as Record<string, unknown>;
    assert.ok(neo4j.isInt(p.a) && (p.a as { toNumber(): number }).toNumber() === 5);
    assert.equal(p.b, 2.5);
    const row = (p.rows as Record<string, unknown>[])[0];
    assert.ok(neo4j.isInt(row.port));
    assert.equal(row.name, "x");
    assert.ok((p.list as unknown[]).every((x) => neo4j.isInt(x)));
  });

  it("turns driver values into the same plain JSON the Kuzu store gives", () => {
    const node = new neo4j.types.Node(neo4j.int(1), ["Host"], { name: "hv1", port: neo4j.int(1984) }, "4:x:1");
    const rel = new neo4j.types.Relationship(neo4j.int(2), neo4j.int(1), neo4j.int(3), "RUNS", { since: neo4j.int(7) }, "5:x:2");
    assert.deepEqual(fromNeo4j(node), { _label: "Host", name: "hv1", port: 1984 });
    assert.deepEqual(fromNeo4j(rel), { _type: "RUNS", since: 7 });
    assert.equal(fromNeo4j(neo4j.int("9007199254740993")), "9007199254740993", "never a rounded number");
    assert.deepEqual(fromNeo4j([neo4j.int(1), null, { a: neo4j.int(2) }]), [1, null, { a: 2 }]);
    const end = new neo4j.types.Node(neo4j.int(3), ["Domain"], { uuid: "u" }, "4:x:3");
    const path = new neo4j.types.Path(node, end, [new neo4j.types.PathSegment(node, rel, end)]);
    assert.deepEqual(fromNeo4j(path), { nodes: [{ _label: "Host", name: "hv1", port: 1984 }, { _label: "Domain", uuid: "u" }], rels: [{ _type: "RUNS", since: 7 }] });
    assert.equal(fromNeo4j(new neo4j.types.Date(2026, 11, 21)), "2026-11-21");
  });

  it("sorts server errors into the GraphQueryError codes", () => {
    const err = (code: string, message: string): Error => Object.assign(new Error(message), { code });
    assert.equal(neo4jError(err("Neo.ClientError.Statement.AccessMode", "Writing in read access mode not allowed.")).code, "write-refused");
    assert.equal(neo4jError(err("Neo.ClientError.Security.Forbidden", "Create new label is not allowed")).code, "write-refused");
    assert.equal(neo4jError(err("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration", "The transaction has been terminated.")).code, "timeout");
    assert.equal(neo4jError(err("Neo.ClientError.Statement.SyntaxError", "Invalid input 'RETRUN'")).code, "syntax");
    assert.equal(neo4jError(err("Neo.ClientError.Statement.ParameterMissing", "Expected parameter(s): x")).code, "syntax");
    assert.equal(neo4jError(err("ServiceUnavailable", "Could not perform discovery")).code, "store");
  });

  it("reports an unreachable server as code store, and checks queries before sending them", async () => {
    const s = new Neo4jStore({ uri: "bolt://127.0.0.1:1", user: "neo4j", password: "x", log: silentLogger() });
    try {
      await expectQueryError(s.init(), "store");
      await expectQueryError(s.read("RETURN 1 AS x", {}, { timeoutMs: 2000 }), "store");
      await expectQueryError(s.read("LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l"), "write-refused");
      await expectQueryError(s.read("RETURN $x AS x", { x: [] }), "syntax");
      await expectQueryError(s.write([{ cypher: "UNWIND $rows AS r MERGE (h:Host {name: r.n})", params: { rows: [{ n: 1 }, { n: "a" }] } }]), "syntax");
    } finally {
      await s.close();
    }
  });
});

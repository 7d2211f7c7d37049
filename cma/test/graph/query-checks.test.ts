import assert from "node:assert/strict";
import { checkParams, checkReadQuery, codeOnly, isEmptyUnwind, resolveLimits, usedParams } from "../../src/graph/query-checks.js";

describe("cma/graph/query-checks", () => {
  it("blanks strings, backtick names and comments, keeping positions", () => {
    const q = "MATCH (n) // CREATE\nWHERE n.x = 'a;b' AND `SET` = \"x\\\"y\" /* LOAD */ RETURN n";
    const c = codeOnly(q);
    assert.equal(c.length, q.length);
    assert.ok(!/CREATE|SET|LOAD|;/.test(c));
    assert.ok(c.includes("RETURN n"));
  });

  it("refuses what a read-only engine would still do, and lets reads through", () => {
    for (const q of ["EXPORT DATABASE '/tmp/x'", "COPY Host FROM '/tmp/x.csv'", "LOAD FROM 'x.csv' RETURN *", "LOAD CSV FROM 'file:///x' AS l RETURN l",
      "INSTALL algo", "ATTACH '/tmp/db' AS other", "USE other", "CHECKPOINT", "BEGIN TRANSACTION", "CALL threads = 4", "CALL read_csv('/etc/passwd') RETURN *"]) {
      assert.equal(checkReadQuery(q)?.code, "write-refused", q);
    }
    for (const q of ["MATCH (n) RETURN n.load AS load, n.use", "MATCH (n:Copy) RETURN n", "RETURN {load: 1} AS m", "MATCH (h)-[:X]->(d) DETACH DELETE d", "CALL show_tables() RETURN *", "RETURN 'COPY; LOAD' AS x;"]) {
      assert.equal(checkReadQuery(q), undefined, q);
    }
    assert.equal(checkReadQuery("RETURN 1; RETURN 2")?.code, "syntax");
    assert.equal(checkReadQuery("")?.code, "syntax");
    assert.equal(checkReadQuery(42)?.code, "syntax");
    assert.equal(checkReadQuery("RETURN 1 AS x".padEnd(70_000, " "))?.code, "too-large");
  });

  it("accepts only parameters Kuzu can type: scalars, non-empty uniform lists, uniform rows for writes", () => {
    assert.equal(checkParams({ a: "x", b: 1, c: 2.5, d: true, e: [1, 2], f: ["a"] }, "read"), undefined);
    assert.equal(checkParams({ rows: [{ a: 1, b: "x" }, { a: 2, b: "y" }] }, "write"), undefined);
    for (const [p, mode] of [
      [{ a: null }, "read"], [{ a: [] }, "read"], [{ a: [1, 2.5] }, "read"], [{ a: [1, null] }, "read"], [{ a: { b: 1 } }, "read"],
      [{ a: Number.NaN }, "read"], [{ "bad name": 1 }, "read"], [{ rows: [{ a: 1 }] }, "read"],
      [{ rows: [{ a: 1 }, { b: 1 }] }, "write"], [{ rows: [{ a: 1 }, { a: "1" }] }, "write"], [{ rows: [{ a: null }, { a: null }] }, "write"],
      [{ rows: [{ a: [1] }] }, "write"], [{ rows: [{ a: 1 }, 5] }, "write"],
    ] as const) {
      assert.equal(checkParams(p as Record<string, unknown>, mode)?.code, "syntax", JSON.stringify(p));
    }
    assert.equal(checkParams({ big: "x".repeat(1_100_000) }, "read")?.code, "too-large");
  });

  it("finds empty UNWINDs, the parameters a statement uses, and completes limits", () => {
    assert.ok(isEmptyUnwind("UNWIND $rows AS r MERGE (n:Host {name: r.name})", { rows: [] }));
    assert.ok(!isEmptyUnwind("UNWIND $rows AS r MERGE (n:Host {name: r.name})", { rows: [{ name: "a" }] }));
    assert.deepEqual(usedParams("MATCH (n) WHERE n.a = $a AND n.b = '$b' RETURN $c", { a: 1, b: 2, c: 3, d: 4 }), { a: 1, c: 3 });
    assert.deepEqual(resolveLimits({ maxRows: 5 }), { timeoutMs: 10_000, maxRows: 5 });
    assert.throws(() => resolveLimits({ timeoutMs: -1 }), /timeoutMs/);
    assert.throws(() => resolveLimits({ maxRows: 1.5 }), /maxRows/);
  });
});

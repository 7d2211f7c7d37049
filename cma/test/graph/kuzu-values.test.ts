import assert from "node:assert/strict";
import { toGraphValue } from "../../src/graph/kuzu-values.js";

describe("cma/graph/kuzu-values", () => {
  it("turns Kuzu values into plain JSON shaped like the Neo4j store's", () => {
    assert.equal(toGraphValue(5n), 5);
    assert.equal(toGraphValue(2n ** 60n), "1152921504606846976", "never a rounded number");
    assert.equal(toGraphValue(new Date(Date.UTC(2026, 10, 21))), "2026-11-21T00:00:00.000Z");
    assert.equal(toGraphValue(Number.POSITIVE_INFINITY), "Infinity");
    assert.deepEqual(toGraphValue({ _label: "Host", _id: { offset: 1, table: 0 }, name: "hv1", port: null, state: "dead" }), { _label: "Host", name: "hv1", state: "dead" });
    assert.deepEqual(toGraphValue({ _label: "RUNS", _id: { offset: 1, table: 5 }, _src: { offset: 1, table: 0 }, _dst: { offset: 2, table: 1 }, since: 3 }), { _type: "RUNS", since: 3 });
    assert.deepEqual(toGraphValue({ _nodes: [{ _label: "Host", _id: { offset: 0, table: 0 }, name: "a" }], _rels: [] }), { nodes: [{ _label: "Host", name: "a" }], rels: [] });
    assert.equal(toGraphValue({ offset: 7, table: 2 }), "2:7");
    assert.deepEqual(toGraphValue({ a: [1, null, { b: 2n }] }), { a: [1, null, { b: 2 }] });
  });
});

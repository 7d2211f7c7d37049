import assert from "node:assert/strict";
import { chunk, mergeNodes, mergeRels } from "../../src/graph/write-batch.js";
import { checkParams } from "../../src/graph/query-checks.js";

describe("cma/graph/write-batch", () => {
  it("groups rows by shape so every UNWIND can be typed; null fields are written as NULL", () => {
    const st = mergeNodes("Host", [
      { name: "a", port: 1, version: "1" },
      { name: "b", port: null, version: "2" },
      { name: "c", port: "3", version: null },
      { name: "", port: 4 }, // no key: nothing to merge on
    ]);
    assert.equal(st.length, 3);
    for (const s of st) assert.equal(checkParams(s.params, "write"), undefined, s.cypher);
    const b = st.find((s) => s.cypher.includes("n.port = NULL"))!;
    assert.deepEqual(b.params!.rows, [{ name: "b", version: "2" }]);
    const c = st.find((s) => s.cypher.includes("n.version = NULL"))!;
    assert.deepEqual(c.params!.rows, [{ name: "c", port: 3 }], "coerced to the schema's INT64");
  });

  it("sets first-seen fields only on create, and refuses properties the schema lacks", () => {
    const [s] = mergeNodes("IPAddr", [{ address: "10.0.0.1", firstSeen: 5, updatedAt: 6 }], ["firstSeen"]);
    assert.equal(s.cypher, "UNWIND $rows AS r WITH r, r.address AS kv MERGE (n:IPAddr {address: kv}) ON CREATE SET n.firstSeen = r.firstSeen SET n.updatedAt = r.updatedAt");
    assert.throws(() => mergeNodes("Host", [{ name: "a", colour: "red" }]), /no property colour/);
  });

  it("merges relationships between nodes matched by key, only for pairs the schema allows", () => {
    const [s] = mergeRels("RUNS", "Host", "Domain", [{ from: "hv1", to: "u1" }], "to");
    assert.equal(s.cypher, "UNWIND $rows AS r WITH r, r.from AS kv MATCH (a:Host {name: kv}) WITH r, a, r.to AS kv2 MATCH (b:Domain {uuid: kv2}) MERGE (a)-[e:RUNS]->(b)");
    assert.equal(s.unique, "to");
    assert.throws(() => mergeRels("RUNS", "Domain", "Host", [{ from: "u1", to: "hv1" }]), /does not join/);
    assert.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  });
});

import assert from "node:assert/strict";
import { cellText, textTable } from "../../src/http/text-table.js";

describe("cma/http/text-table", () => {
  it("pads columns to their widest cell and shows non-strings as JSON", () => {
    const t = textTable(["host", "n"], [["hv1", 3], ["hypervisor-22", null], ["hv3", { a: [1] }]]);
    assert.equal(t, ["host          | n", "--------------+----------", "hv1           | 3", "hypervisor-22 |", 'hv3           | {"a":[1]}'].join("\n"));
  });

  it("keeps every row on one line and cuts long cells", () => {
    assert.equal(cellText("a\nb\tc\u001b[31m"), "a b c [31m");
    const long = cellText("x".repeat(500));
    assert.equal(long.length, 80);
    assert.ok(long.endsWith("…"));
  });

  it("shows a graph node by its name or key and a path of nodes as names in order", () => {
    const path = [{ _label: "Domain", uuid: "u1", name: "web", key: null }, { _label: "Service", name: null, key: "10.0.0.2:8080" }, { _label: "Domain", uuid: "u2", name: "api" }];
    assert.equal(cellText(path), "web › 10.0.0.2:8080 › api");
    assert.equal(cellText(path[1]), "10.0.0.2:8080");
    assert.equal(cellText([1, 2]), "[1,2]", "a list of other things stays JSON");
    assert.equal(cellText([]), "[]");
  });
});

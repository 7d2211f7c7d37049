import assert from "node:assert/strict";
import { splitJsonArray } from "../../src/guest-addresses/json-array.js";

describe("discovery-scripts/guest-addresses/json-array", () => {
  it("splits a well-formed array into element texts that JSON.parse alone", () => {
    const values = [
      { dst: "192.0.2.5", state: ["PERMANENT"], nested: { a: [1, { b: "]}" }] } },
      { s: "a \"quoted\" ], and a \\ backslash, {", t: "\\" },
      "plain, string ]",
      42, null, true, [1, [2, []]],
    ];
    const text = JSON.stringify(values, null, 2);
    const r = splitJsonArray(text);
    assert.equal(r.problem, null);
    assert.equal(r.more, false);
    assert.deepEqual(r.items.map((t) => JSON.parse(t) as unknown), values);
    assert.deepEqual(splitJsonArray(JSON.stringify(values)).items.map((t) => JSON.parse(t) as unknown), values);
  });

  it("takes empty text and empty arrays as no elements", () => {
    for (const t of ["", "  \n", "[]", " [ \n ] \n"]) assert.deepEqual(splitJsonArray(t), { items: [], problem: null, more: false }, JSON.stringify(t));
  });

  it("says when the text is not an array", () => {
    for (const t of ["{}", "null", "garbage", "Object \"neigh\" is unknown, try \"ip help\".", "\"[1]\""]) {
      assert.deepEqual(splitJsonArray(t), { items: [], problem: "not a JSON array", more: false }, t);
    }
  });

  it("keeps the complete elements of text cut short", () => {
    const text = JSON.stringify([{ a: 1 }, { b: "two" }, { c: "three" }]);
    const cut = splitJsonArray(text.slice(0, text.indexOf("three")));
    assert.deepEqual(cut.items, ['{"a":1}', '{"b":"two"}']);
    assert.equal(cut.problem, "ends inside the array after 2 complete elements");
    // cut right after a comma, and right after the "["
    assert.deepEqual(splitJsonArray('[{"a":1},').items, ['{"a":1}']);
    assert.equal(splitJsonArray("[").problem, "ends inside the array after 0 complete elements");
  });

  it("reports stray text and empty elements, keeping what came before", () => {
    assert.deepEqual(splitJsonArray('[{"a":1}] trailing'), { items: ['{"a":1}'], problem: "unexpected text after the array at offset 10", more: false });
    assert.deepEqual(splitJsonArray('[{"a":1},]'), { items: ['{"a":1}'], problem: "empty element at offset 9", more: false });
    assert.deepEqual(splitJsonArray("[,1]"), { items: [], problem: "empty element at offset 1", more: false });
  });

  it("cuts out malformed elements as they are, for JSON.parse to refuse one by one", () => {
    const r = splitJsonArray('[{"a":1}, {bad json}, {"b":2}, nope]');
    assert.equal(r.problem, null);
    assert.deepEqual(r.items, ['{"a":1}', "{bad json}", '{"b":2}', "nope"]);
  });

  it("stops after maxItems and says whether more followed", () => {
    assert.deepEqual(splitJsonArray("[1,2,3,4]", 2), { items: ["1", "2"], problem: null, more: true });
    assert.deepEqual(splitJsonArray("[1,2]", 2), { items: ["1", "2"], problem: null, more: false });
  });
});

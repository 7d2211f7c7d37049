import assert from "node:assert/strict";
import { AddressProblems, MAX_PROBLEMS, quote } from "../../src/guest-addresses/problems.js";

describe("discovery-scripts/guest-addresses/problems", () => {
  it("keeps the first MAX_PROBLEMS messages and counts the rest in one line", () => {
    const p = new AddressProblems();
    for (let i = 0; i < MAX_PROBLEMS; i++) p.add(`problem ${i}`);
    assert.deepEqual(p.list(), Array.from({ length: MAX_PROBLEMS }, (_, i) => `problem ${i}`));
    for (let i = 0; i < 1000; i++) p.add("more");
    const list = p.list();
    assert.equal(list.length, MAX_PROBLEMS + 1);
    assert.equal(list[MAX_PROBLEMS - 1], `problem ${MAX_PROBLEMS - 1}`);
    assert.equal(list[MAX_PROBLEMS], "1000 more problems not listed");
    assert.equal(p.count, MAX_PROBLEMS + 1000);
  });

  it("quotes values briefly", () => {
    assert.equal(quote("192.0.2.300"), '"192.0.2.300"');
    assert.equal(quote(undefined), "nothing");
    assert.equal(quote(null), "null");
    assert.equal(quote({ a: 1 }), '{"a":1}');
    assert.equal(quote(() => 1), "() => 1");  // JSON.stringify gives undefined
    assert.equal(quote("y".repeat(200)), `"${"y".repeat(44)}...`);
  });
});

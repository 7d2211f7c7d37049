import assert from "node:assert/strict";
import { UnexpectedHeartbeats } from "../../src/ring/unexpected-heartbeats.js";

describe("nanoprobe/ring/unexpected-heartbeats", () => {
  const warn = 5000;

  it("reports a source only once its heartbeats kept coming for warntime, then at most once a minute", () => {
    const u = new UnexpectedHeartbeats();
    const heard = (t: number): boolean => u.heard("x@10.0.0.2:1984", t, warn);
    assert.equal(heard(0), false);
    assert.equal(heard(1000), false);
    assert.equal(heard(4999), false, "not yet warntime");
    assert.equal(heard(5000), true);
    assert.equal(heard(6000), false, "reported a moment ago");
    const reports: number[] = [];
    for (let t = 7000; t <= 70_000; t += 1000) if (heard(t)) reports.push(t);
    assert.deepEqual(reports, [65_000]);
  });

  it("a gap longer than warntime starts over", () => {
    const u = new UnexpectedHeartbeats();
    u.heard("x", 0, warn);
    assert.equal(u.heard("x", 5001, warn), false, "silent longer than warntime: a new run");
    assert.equal(u.heard("x", 9000, warn), false);
    assert.equal(u.heard("x", 10_001, warn), true);
    assert.equal(u.heard("y", 10_001, warn), false, "each source on its own");
  });
});

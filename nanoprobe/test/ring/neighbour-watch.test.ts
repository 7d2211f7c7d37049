import assert from "node:assert/strict";
import { NeighbourWatch } from "../../src/ring/neighbour-watch.js";

const n = (name: string) => ({ name, address: "127.0.0.1", port: 1 });

describe("nanoprobe/ring/neighbour-watch", () => {
  it("reports LATE at warntime, DEAD at deadtime, once each, and ALIVE when heartbeats resume", () => {
    const w = new NeighbourWatch({ heartbeatMs: 1000, warntimeMs: 5000, deadtimeMs: 10000 });
    w.assign([n("a"), n("b")], 0);
    assert.deepEqual(w.check(4999), []);
    w.heard("b", 4000);
    assert.deepEqual(w.check(5000).map((v) => `${v.kind}:${v.neighbour.name}`), ["LATE:a"]);
    assert.deepEqual(w.check(6000), []);
    assert.deepEqual(w.check(10_000).map((v) => `${v.kind}:${v.neighbour.name}:${v.silentMs}`), ["DEAD:a:10000", "LATE:b:6000"]);
    assert.deepEqual(w.check(30_000).map((v) => `${v.kind}:${v.neighbour.name}`), ["DEAD:b"]);
    assert.equal(w.heard("a", 31_000)?.kind, "ALIVE");
    assert.equal(w.heard("a", 32_000), undefined);
    assert.equal(w.heard("stranger", 32_000), undefined);
  });

  it("gives a newly assigned neighbour a full grace period and keeps history of kept ones", () => {
    const w = new NeighbourWatch({ heartbeatMs: 1000, warntimeMs: 5000, deadtimeMs: 10000 });
    w.assign([n("a")], 0);
    w.assign([n("a"), n("c")], 9000);
    assert.deepEqual(w.check(10_000).map((v) => v.neighbour.name), ["a"]);
    assert.deepEqual(w.check(18_999).filter((v) => v.neighbour.name === "c" && v.kind === "DEAD"), []);
    assert.equal(w.check(19_000).find((v) => v.neighbour.name === "c")?.kind, "DEAD");
  });
});

import assert from "node:assert/strict";
import { planRings, segmentOf } from "../../src/index.js";
import type { PlanHost } from "../../src/index.js";

const hosts = (segs: Record<string, number>): PlanHost[] =>
  Object.entries(segs).flatMap(([seg, n]) => Array.from({ length: n }, (_, i) => ({ name: `${seg}-h${String(i).padStart(2, "0")}`, address: `10.0.${seg}.${i + 1}`, port: 1984, segment: seg })));
const names = (l: { name: string }[]): string[] => l.map((n) => n.name);

describe("cma/membership/ring-plan", () => {
  it("puts each segment in its own ring: every host watches its predecessor and successor", () => {
    const p = planRings(hosts({ a: 5 }), 1);
    assert.deepEqual(p.segmentRings.get("a"), ["a-h00", "a-h01", "a-h02", "a-h03", "a-h04"]);
    assert.deepEqual(names(p.neighbours.get("a-h02")!), ["a-h01", "a-h03"]);
    assert.deepEqual(names(p.neighbours.get("a-h04")!), ["a-h00", "a-h03"]);
    // every host is watched by exactly two others
    const watchedBy = new Map<string, number>();
    for (const l of p.neighbours.values()) for (const n of l) watchedBy.set(n.name, (watchedBy.get(n.name) ?? 0) + 1);
    assert.ok([...watchedBy.values()].every((c) => c === 2));
  });

  it("links segments through a ring of representatives (the first host of each segment)", () => {
    const p = planRings(hosts({ a: 4, b: 4, c: 4 }), 1);
    assert.deepEqual([...p.representatives.values()], ["a-h00", "b-h00", "c-h00"]);
    assert.deepEqual(p.representativeRing, ["a-h00", "b-h00", "c-h00"]);
    // a representative watches its segment neighbours and the neighbouring representatives
    assert.deepEqual(names(p.neighbours.get("b-h00")!), ["a-h00", "b-h01", "b-h03", "c-h00"]);
    // a non-representative only its segment
    assert.deepEqual(names(p.neighbours.get("b-h02")!), ["b-h01", "b-h03"]);
    // traffic stays inside segments except between representatives
    let cross = 0;
    for (const [h, l] of p.neighbours) for (const n of l) if (n.name[0] !== h[0]) cross++;
    assert.equal(cross, 6);
  });

  it("with two rings per segment gives four distinct neighbours (enough hosts)", () => {
    for (const n of [5, 6, 12, 50]) {
      const p = planRings(hosts({ a: n }), 2);
      for (const [h, l] of p.neighbours) {
        assert.equal(l.length, 4, `${n} hosts, ${h}: ${names(l)}`);
        assert.ok(!names(l).includes(h));
      }
    }
    assert.deepEqual(names(planRings(hosts({ a: 12 }), 2).neighbours.get("a-h05")!), ["a-h03", "a-h04", "a-h06", "a-h07"]);
  });

  it("re-chooses the representative when it leaves and is deterministic", () => {
    const all = hosts({ a: 3, b: 3 });
    const p1 = planRings(all.filter((h) => h.name !== "a-h00"), 1);
    assert.equal(p1.representatives.get("a"), "a-h01");
    assert.deepEqual(planRings([...all].reverse(), 1).neighbours, planRings(all, 1).neighbours);
  });

  it("handles one and two hosts", () => {
    assert.deepEqual(planRings(hosts({ a: 1 }), 1).neighbours.get("a-h00"), []);
    assert.deepEqual(names(planRings(hosts({ a: 2 }), 2).neighbours.get("a-h00")!), ["a-h01"]);
  });

  it("groups addresses by subnet", () => {
    assert.equal(segmentOf("10.1.2.3", 24), "10.1.2.0/24");
    assert.equal(segmentOf("10.1.2.3", 16), "10.1.0.0/16");
    assert.equal(segmentOf("10.1.2.3", 0), "0.0.0.0/0");
    assert.equal(segmentOf("::1", 24), "host:::1");
  });
});

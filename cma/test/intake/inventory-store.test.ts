import assert from "node:assert/strict";
import { silentLogger } from "@ringwatch/shared";
import type { GuestDomain } from "@ringwatch/shared";
import { InventoryStore, validateInventory } from "../../src/index.js";
import type { InventoryEvent } from "../../src/index.js";

const dom = (i: number, state = "running"): GuestDomain => ({
  uuid: `00000000-0000-0000-0000-${String(i).padStart(12, "0")}`, name: `vm${i}`, state, vcpus: 1, memoryKib: 65536,
  disks: [{ target: "vda", source: `/d/vm${i}.raw` }], nics: [{ target: "tap0", mac: "52:54:00:00:00:01", bridge: "br0", network: "" }],
});

describe("cma/intake/inventory-store", () => {
  it("full sets replace, changes patch, and each difference is one event", () => {
    const s = new InventoryStore(silentLogger());
    const ev: InventoryEvent[] = [];
    s.on("event", (e) => ev.push(e));
    s.apply("hv1", { full: true, domains: [dom(1), dom(2)], removed: [], atMs: 1 });
    s.apply("hv1", { full: false, domains: [dom(2, "shutoff")], removed: [dom(1).uuid], atMs: 2 });
    s.apply("hv1", { full: true, domains: [dom(2, "shutoff"), dom(3)], removed: [], atMs: 3 });
    s.apply("hv1", { full: true, domains: [dom(3)], removed: [], atMs: 4 });
    assert.deepEqual(ev.map((e) => `${e.type}:${e.type === "domainRemoved" ? e.name : e.domain.name}`), [
      "domainAppeared:vm1", "domainAppeared:vm2", "domainChanged:vm2", "domainRemoved:vm1", "domainAppeared:vm3", "domainRemoved:vm2",
    ]);
    assert.deepEqual(s.domains("hv1").map((d) => d.name), ["vm3"]);
    assert.equal(s.hostOf(dom(3).uuid), "hv1");
  });

  it("refuses malformed inventories without touching what it holds", () => {
    const s = new InventoryStore(silentLogger());
    s.apply("hv1", { full: true, domains: [dom(1)], removed: [], atMs: 1 });
    assert.equal(s.apply("hv1", { full: true, domains: [{ ...dom(2), uuid: "not-a-uuid" }], removed: [], atMs: 2 }), false);
    assert.equal(s.apply("hv1", { full: false, domains: [], removed: ["../../x"], atMs: 2 }), false);
    assert.equal(s.apply("hv1", { full: true, domains: [{ ...dom(2), name: "" }], removed: [], atMs: 2 }), false);
    assert.equal(s.apply("hv1", { full: true, domains: [{ ...dom(2), state: "x".repeat(5000) }], removed: [], atMs: 2 }), false);
    assert.equal(s.apply("hv1", { full: true, domains: [{ ...dom(2), tags: ["ok", "not a tag"] }], removed: [], atMs: 2 }), false);
    assert.equal(s.apply("hv1", { full: true, domains: [{ ...dom(2), tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }], removed: [], atMs: 2 }), false);
    assert.equal(s.counters.refused, 6);
    assert.deepEqual(s.domains("hv1").map((d) => d.name), ["vm1"]);
    assert.match(validateInventory({ full: true, domains: Array.from({ length: 10_001 }, (_, i) => dom(i)), removed: [], atMs: 0 })!, /too many domains/);
  });
});

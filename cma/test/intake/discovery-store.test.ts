import assert from "node:assert/strict";
import { silentLogger } from "@ringwatch/shared";
import { DiscoveryStore } from "../../src/index.js";

const doc = (over: object = {}) => JSON.stringify({ discovertype: "os", description: "OS", host: "hv1", source: "os", data: { kernel: "6.1" }, ...over });

describe("cma/intake/discovery-store", () => {
  it("keeps the latest document per host and type, each arrival an event", () => {
    const s = new DiscoveryStore(silentLogger());
    const seen: string[] = [];
    s.on("event", (e) => seen.push(`${e.host}:${e.document.discovertype}`));
    assert.ok(s.apply("hv1", { script: "os", documentJson: doc(), atMs: 1 }));
    assert.ok(s.apply("hv1", { script: "os", documentJson: doc({ data: { kernel: "6.2" } }), atMs: 2 }));
    assert.deepEqual(s.latest("hv1", "os")!.data, { kernel: "6.2" });
    assert.deepEqual(seen, ["hv1:os", "hv1:os"]);
  });

  it("refuses garbage, wrong shapes, bad script names and oversized documents", () => {
    const s = new DiscoveryStore(silentLogger());
    for (const bad of [
      { script: "os", documentJson: "{garbage" },
      { script: "os", documentJson: "[1,2]" },
      { script: "os", documentJson: JSON.stringify({ discovertype: "os", data: {} }) },
      { script: "../../bin/sh", documentJson: doc() },
      { script: "os", documentJson: `{"x":"${"a".repeat(5 * 1024 * 1024)}"}` },
    ]) assert.equal(s.apply("hv1", { ...bad, atMs: 0 }), false);
    assert.equal(s.counters.refused, 5);
    assert.deepEqual(s.types("hv1"), []);
  });
});

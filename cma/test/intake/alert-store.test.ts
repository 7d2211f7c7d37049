import assert from "node:assert/strict";
import { silentLogger } from "@ringwatch/shared";
import { AlertStore } from "../../src/index.js";
import type { AlertEvent } from "../../src/index.js";

const alert = (over: object = {}) => ({ kind: "memoryLeak", subject: "u1", subjectName: "vm1", active: true, evidenceJson: '{"slopeKiBPerMin":2000}', atMs: 1, ...over });

describe("cma/intake/alert-store", () => {
  it("keeps the active set; raise and clear are events; bursts and stalls never stay active", () => {
    const s = new AlertStore(silentLogger());
    const ev: AlertEvent[] = [];
    s.on("event", (e) => ev.push(e));
    s.apply("hv1", alert());
    s.apply("hv1", alert({ kind: "microBurst", subject: "u2" }));
    s.apply("hv1", alert({ kind: "localStall", subject: "host", subjectName: "", evidenceJson: '{"stallMs":5012}' }));
    assert.deepEqual(s.active().map((x) => x.alert.kind), ["memoryLeak"]);
    s.apply("hv1", alert({ active: false }));
    s.apply("hv1", alert({ active: false })); // clearing twice is one event
    assert.deepEqual(ev.map((e) => `${e.alert.kind}:${e.change}`), ["memoryLeak:raised", "microBurst:raised", "localStall:raised", "memoryLeak:cleared"]);
    assert.equal(s.active().length, 0);
  });

  it("refuses unknown kinds, bad subjects and evidence that is not a small JSON object", () => {
    const s = new AlertStore(silentLogger());
    for (const bad of [{ kind: "rm -rf" }, { subject: "" }, { evidenceJson: "{nope" }, { evidenceJson: "42" }, { evidenceJson: `{"x":"${"a".repeat(20000)}"}` }]) {
      assert.equal(s.apply("hv1", alert(bad)), false, JSON.stringify(bad).slice(0, 40));
    }
    assert.equal(s.counters.refused, 5);
    assert.equal(s.active().length, 0);
  });
});

import assert from "node:assert/strict";
import { api, emptyParts } from "./api-fixture.js";

describe("cma/http/monitoring-errors-plugin", () => {
  it("active monitoring errors with host, source, subject, evidence and times; filters; the cleared ones on request; bad queries refused", async () => {
    const p = emptyParts();
    let now = Date.parse("2026-12-05T07:00:00Z");
    const errors = p.monitoringErrors;
    const at = () => now;
    errors.raise("hv1", "discoveryError", "lldp", { exit: 3 }, at());
    errors.raise("cma", "graphWrite", "", { error: "disk full", code: "store" }, at());
    now += 1000;
    errors.raise("hv2", "statsRefused", "", { error: "bad table" }, at());
    errors.clear("hv2", "statsRefused", "", now + 500);
    const { app, counters } = await api(p);
    try {
      const all = (await app.inject("/api/monitoring-errors")).json();
      assert.equal(all.active, 2);
      assert.deepEqual(all.errors, [
        { host: "hv1", source: "discoveryError", subject: "lldp", evidence: { exit: 3 }, since: "2026-12-05T07:00:00.000Z", lastSeen: "2026-12-05T07:00:00.000Z", active: true },
        { host: "cma", source: "graphWrite", subject: "", evidence: { error: "disk full", code: "store" }, since: "2026-12-05T07:00:00.000Z", lastSeen: "2026-12-05T07:00:00.000Z", active: true },
      ]);
      assert.deepEqual((await app.inject("/api/monitoring-errors?host=cma")).json().errors.map((e: { source: string }) => e.source), ["graphWrite"]);
      assert.deepEqual((await app.inject("/api/monitoring-errors?source=discoveryError")).json().errors.map((e: { host: string }) => e.host), ["hv1"]);
      const cleared = (await app.inject("/api/monitoring-errors?state=cleared")).json();
      assert.deepEqual(cleared.errors.map((e: { host: string; active: boolean; clearedAt: string }) => [e.host, e.active, e.clearedAt]), [["hv2", false, "2026-12-05T07:00:01.500Z"]]);
      assert.equal((await app.inject("/api/monitoring-errors?state=all")).json().errors.length, 3);
      const before = counters.rejected;
      for (const q of ["source=meteor", "state=some", "host=..bad", "colour=red"]) {
        const r = await app.inject(`/api/monitoring-errors?${q}`);
        assert.equal(r.statusCode, 400, q);
        assert.ok(r.json().error, q);
      }
      assert.equal(counters.rejected, before + 4);
    } finally {
      await app.close();
    }
  });
});

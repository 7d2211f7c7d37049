import assert from "node:assert/strict";
import { UUID1, api, scenarioParts } from "./api-fixture.js";

describe("cma/http/alerts-plugin", () => {
  it("active alerts with their evidence, filtered by host and kind; a cleared alert is gone", async () => {
    const p = scenarioParts();
    const { app } = await api(p);
    try {
      const all = (await app.inject("/api/alerts")).json();
      assert.deepEqual(all.alerts, [{ host: "hv1", kind: "vcpuAbuse", subject: UUID1, subjectName: "web1", at: 5000, evidence: { busy: 0.99 } }]);
      assert.equal((await app.inject("/api/alerts?host=hv2")).json().alerts.length, 0);
      assert.equal((await app.inject("/api/alerts?kind=memoryLeak")).json().alerts.length, 0);
      assert.equal((await app.inject("/api/alerts?host=hv1&kind=vcpuAbuse")).json().alerts.length, 1);
      assert.equal((await app.inject("/api/alerts?kind=meteor")).statusCode, 400);
      p.alerts.apply("hv1", { kind: "vcpuAbuse", subject: UUID1, subjectName: "web1", active: false, evidenceJson: "{}", atMs: 6000 });
      assert.equal((await app.inject("/api/alerts")).json().alerts.length, 0);
    } finally {
      await app.close();
    }
  });
});

import assert from "node:assert/strict";
import { UUID1, api, scenarioParts } from "./api-fixture.js";

describe("cma/http/stats-plugin", () => {
  it("a summary of the latest batch per host, and one host's series in their own units", async () => {
    const { app } = await api(scenarioParts());
    try {
      assert.deepEqual((await app.inject("/api/stats")).json(), { hosts: [{ host: "hv1", intervalStart: 1_700_000_000_000, intervalMs: 60_000, series: 4, domains: 2 }] });
      const one = (await app.inject(`/api/stats/hv1?domain=${UUID1}&metric=cpu`)).json();
      // cpu samples 250, 500, 1500 were sent in per-mille of a CPU: back in CPUs here
      assert.deepEqual(one.series, [{ domain: UUID1, metric: "cpu", kind: "cpu", count: 3, min: 0.25, max: 1.5, avg: 0.75 }]);
      const net = (await app.inject("/api/stats/hv1?metric=net")).json();
      assert.deepEqual(net.series.map((s: { metric: string; avg: number }) => `${s.metric}=${s.avg}`), ["net.tap0.tx.bytes=20", "net.tap0.tx.bytes=20"]);
      assert.equal((await app.inject("/api/stats/hv2")).statusCode, 404);
      assert.equal((await app.inject("/api/stats/hv1?series=all")).statusCode, 400);
    } finally {
      await app.close();
    }
  });
});

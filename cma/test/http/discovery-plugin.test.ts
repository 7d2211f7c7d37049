import assert from "node:assert/strict";
import { api, scenarioParts } from "./api-fixture.js";

describe("cma/http/discovery-plugin", () => {
  it("the types a host sent and the latest document of one type; 404 for what was never sent", async () => {
    const { app } = await api(scenarioParts());
    try {
      assert.deepEqual((await app.inject("/api/discovery/hv1")).json(), { host: "hv1", types: ["os"] });
      const doc = (await app.inject("/api/discovery/hv1/os")).json();
      assert.equal(doc.discovertype, "os");
      assert.deepEqual(doc.data, { kernel: "6.1" });
      const noType = await app.inject("/api/discovery/hv1/lldp");
      assert.equal(noType.statusCode, 404);
      assert.deepEqual(noType.json(), { error: "not-found", message: "no lldp document from host hv1" });
      assert.equal((await app.inject("/api/discovery/hv2")).statusCode, 404);
      assert.equal((await app.inject(`/api/discovery/hv1/${"x".repeat(65)}`)).statusCode, 400);
    } finally {
      await app.close();
    }
  });
});

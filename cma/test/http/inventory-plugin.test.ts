import assert from "node:assert/strict";
import { UUID1, UUID2, api, scenarioParts } from "./api-fixture.js";

describe("cma/http/inventory-plugin", () => {
  it("domain counts per host, one host's domains, and where a domain runs", async () => {
    const { app } = await api(scenarioParts());
    try {
      assert.deepEqual((await app.inject("/api/inventory")).json(), { hosts: [{ host: "hv1", domains: 2, running: 1 }] });
      const hv1 = (await app.inject("/api/inventory/hv1")).json();
      assert.deepEqual(hv1.domains.map((d: { name: string }) => d.name), ["db1", "web1"]);
      assert.equal(hv1.domains[1].disks[0].target, "vda");
      const where = (await app.inject(`/api/domains/${UUID2.toUpperCase()}`)).json();
      assert.equal(where.host, "hv1");
      assert.equal(where.domain.uuid, UUID2);
      assert.equal((await app.inject(`/api/domains/${UUID1}`)).json().domain.name, "web1");
      const none = await app.inject("/api/inventory/hv2");
      assert.equal(none.statusCode, 404);
      assert.equal(none.json().error, "not-found");
      assert.equal((await app.inject("/api/domains/00000000-0000-4000-8000-000000000000")).statusCode, 404);
      assert.equal((await app.inject("/api/domains/not-a-uuid")).statusCode, 400);
    } finally {
      await app.close();
    }
  });
});

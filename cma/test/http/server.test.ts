import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { ConfigError, silentLogger } from "@ringwatch/shared";
import { HttpServer } from "../../src/http/server.js";
import { API_OPTIONS, api, scenarioParts, sources } from "./api-fixture.js";
import { tokenStore } from "../support/access.js";

describe("cma/http/server", () => {
  it("answers unknown routes with 404 JSON and counts every refusal", async () => {
    const { app, counters } = await api(scenarioParts());
    try {
      const r = await app.inject({ method: "GET", url: "/api/nope?x=1" });
      assert.equal(r.statusCode, 404);
      assert.match(r.headers["content-type"] as string, /application\/json/);
      assert.deepEqual(r.json(), { error: "not-found", message: "no route GET /api/nope" });
      assert.equal((await app.inject({ method: "DELETE", url: "/api/hosts" })).statusCode, 404);
      assert.equal((await app.inject({ method: "GET", url: "/api/hosts" })).statusCode, 200);
      assert.deepEqual(counters, { requests: 3, rejected: 2, failed: 0 });
      const st = (await app.inject({ method: "GET", url: "/api/status" })).json();
      assert.deepEqual(st.http, { requests: 3, rejected: 2, failed: 0 }, "the counters are part of the status");
      assert.equal(st.hosts.alive, 2);
    } finally {
      await app.close();
    }
  });

  it("refuses bad input with 400 JSON naming what was wrong: unknown or mistyped query parameters", async () => {
    const { app, counters } = await api(scenarioParts());
    try {
      const unknown = await app.inject({ method: "GET", url: "/api/hosts?stat=dead" });
      assert.equal(unknown.statusCode, 400);
      assert.equal(unknown.json().error, "bad-request");
      assert.match(unknown.json().message, /querystring must NOT have additional properties/);
      const typed = await app.inject({ method: "GET", url: "/api/events?limit=lots" });
      assert.equal(typed.statusCode, 400);
      assert.match(typed.json().message, /querystring\/limit must be integer/);
      const twice = await app.inject({ method: "GET", url: "/api/events?limit=1&limit=2" });
      assert.equal(twice.statusCode, 400, "a repeated parameter is not silently one of its values");
      const noQuery = await app.inject({ method: "GET", url: "/api/health?verbose=1" });
      assert.equal(noQuery.statusCode, 400, "routes without parameters refuse them too");
      assert.equal(counters.rejected, 4);
    } finally {
      await app.close();
    }
  });

  it("URLs that cannot be decoded or are absurdly long are refused as JSON and counted too", async () => {
    const { app, counters } = await api(scenarioParts());
    try {
      for (const url of ["/api/hosts/%zz", "/%E0%A4%A", `/api/discovery/hv1/${"x".repeat(500)}`]) {
        const r = await app.inject(url);
        assert.equal(r.statusCode, 400, url);
        assert.equal(r.json().error, "bad-url");
        assert.ok(r.json().message.length <= 300);
      }
      assert.deepEqual(counters, { requests: 3, rejected: 3, failed: 0 });
    } finally {
      await app.close();
    }
  });

  it("without a graph store the graph routes answer 503 unavailable, not 404", async () => {
    const { app, counters } = await api(scenarioParts());
    try {
      for (const [method, url] of [["GET", "/api/queries"], ["GET", "/api/queries/deadHostImpact"], ["POST", "/api/cypher"]] as const) {
        const r = await app.inject({ method, url });
        assert.equal(r.statusCode, 503, url);
        assert.deepEqual(r.json(), { error: "unavailable", message: "this CMA has no graph store: graph queries cannot run" });
      }
      assert.equal(counters.failed, 3);
    } finally {
      await app.close();
    }
  });

  it("listens on 127.0.0.1 port 0 for real, reports its URL, and closes", async () => {
    const access = tokenStore("viewer");
    const s = await HttpServer.start({ host: "127.0.0.1", port: 0 }, sources(scenarioParts(), undefined, access), API_OPTIONS, silentLogger());
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(s.address.port, 0);
    const res = await fetch(`${s.url}/api/hosts?state=dead`, { headers: access.auth });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { hosts: { name: string }[] }).hosts.map((h) => h.name), ["hv3"]);
    await s.close();
    await assert.rejects(fetch(`${s.url}/api/hosts`), "nothing listens after close");
  });

  it("an address already in use is a configuration error naming httpListen", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      await assert.rejects(HttpServer.start({ host: "127.0.0.1", port }, sources(scenarioParts()), API_OPTIONS, silentLogger()),
        (e: Error) => e instanceof ConfigError && /httpListen: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/.test(e.message));
    } finally {
      blocker.close();
    }
  });
});

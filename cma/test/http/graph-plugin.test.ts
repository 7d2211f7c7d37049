/**
 * The graph routes against the real Kuzu store (a temp directory, filled through its write()):
 * named queries with checked parameters, the ad-hoc endpoint with clamped limits, every kind of
 * write refused through HTTP, and bad bodies refused before the store is asked anything.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, InjectOptions } from "fastify";
import type { KuzuStore } from "../../src/graph/kuzu-store.js";
import { namedQueries } from "../../src/graph/named-queries.js";
import type { NamedQuery } from "../../src/graph/named-queries.js";
import type { HttpCounters } from "../../src/http/status-plugin.js";
import { UUID1, api, scenarioParts } from "./api-fixture.js";
import { filledKuzuStore, hostsSince } from "./graph-fixture.js";

describe("cma/http/graph-plugin (real Kuzu store)", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-http-graph-"));
  let store: KuzuStore;
  let app: FastifyInstance;
  let counters: HttpCounters;
  const json = { "content-type": "application/json" };
  const hostCount = async (): Promise<number> => (await store.read("MATCH (h:Host) RETURN count(h) AS n")).rows[0].n as number;

  before(async () => {
    store = await filledKuzuStore(dir);
    ({ app, counters } = await api(scenarioParts(), { maxRows: 2, queryTimeoutMs: 500, maxBodyBytes: 4096 }, { store, queries: { ...namedQueries, hostsSince } }));
  });
  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists the named queries with their parameters and Cypher", async () => {
    const r = (await app.inject("/api/queries")).json();
    const names = r.queries.map((q: NamedQuery) => q.name);
    assert.deepEqual(names, [...Object.keys(namedQueries), "hostsSince"]);
    const impact = r.queries.find((q: NamedQuery) => q.name === "deadHostImpact");
    assert.deepEqual(impact.params, namedQueries.deadHostImpact.params);
    assert.equal(impact.cypher, namedQueries.deadHostImpact.cypher);
  });

  it("runs a named query by GET with its parameters, or with their defaults", async () => {
    const one = await app.inject("/api/queries/deadHostImpact?host=hv1");
    assert.equal(one.statusCode, 200, one.body);
    const body = one.json();
    assert.equal(body.name, "deadHostImpact");
    assert.deepEqual(body.rows.map((r: { host: string; domain: string; uuid: string }) => [r.host, r.domain, r.uuid]), [["hv1", "web1", UUID1]]);
    assert.deepEqual(body.limits, { timeoutMs: 500, maxRows: 2 });
    assert.equal((await app.inject("/api/queries/deadHostImpact?host=hv2")).json().rows.length, 0, "hv2 is alive: takes nothing with it");
    assert.equal((await app.inject("/api/queries/deadHostImpact")).json().rows.length, 1, "default: every host that is down");
    const verdict = (await app.inject("/api/queries/switchVersusHost")).json().rows;
    assert.deepEqual(verdict, [{ kind: "segment", name: "10.0.1.0/24", downHosts: ["hv1"], upHosts: 1, hosts: 2, suspect: "host" }]);
    // query strings are text: an int parameter is converted, and must be an integer
    assert.deepEqual((await app.inject("/api/queries/hostsSince?since=2000")).json().rows, [{ host: "hv1" }, { host: "hv3" }]);
    assert.deepEqual((await app.inject("/api/queries/hostsSince?since=0&state=dead")).json().rows, [{ host: "hv1" }]);
  });

  it("runs a named query by POST with typed JSON parameters and lower limits", async () => {
    const post = (payload: unknown) => app.inject({ method: "POST", url: "/api/queries/hostsSince", headers: json, payload: JSON.stringify(payload) });
    const r = await post({ params: { since: 0 }, maxRows: 1 });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json().rows, [{ host: "hv1" }]);
    assert.equal(r.json().truncated, true);
    assert.deepEqual(r.json().limits, { timeoutMs: 500, maxRows: 1 });
    const noBody = await app.inject({ method: "POST", url: "/api/queries/deadHostImpact" });
    assert.equal(noBody.statusCode, 400, "a POST without a body: the parameters object is required");
    const empty = await app.inject({ method: "POST", url: "/api/queries/deadHostImpact", headers: json, payload: "{}" });
    assert.equal(empty.statusCode, 200);
    assert.equal(empty.json().rows.length, 1, "an empty body runs with the defaults");
  });

  it("refuses wrong parameter types, unknown or missing parameters (400) and unknown queries (404)", async () => {
    const bad = async (req: string | InjectOptions, status: number, error: string, message: RegExp): Promise<void> => {
      const r = await app.inject(req);
      assert.equal(r.statusCode, status, JSON.stringify(req));
      assert.equal(r.json().error, error);
      assert.match(r.json().message, message);
    };
    await bad("/api/queries/hostsSince?since=yesterday", 400, "bad-request", /querystring\/since must be integer/);
    await bad("/api/queries/hostsSince?since=1.5", 400, "bad-request", /querystring\/since must be integer/);
    await bad("/api/queries/hostsSince", 400, "bad-request", /must have required property 'since'/);
    await bad("/api/queries/deadHostImpact?hots=hv1", 400, "bad-request", /must NOT have additional properties/);
    await bad({ method: "POST", url: "/api/queries/hostsSince", headers: json, payload: '{"params":{"since":"2000"}}' }, 400, "bad-request", /body\/params\/since must be integer/);
    await bad({ method: "POST", url: "/api/queries/deadHostImpact", headers: json, payload: '{"params":{"host":5}}' }, 400, "bad-request", /body\/params\/host must be string/);
    await bad({ method: "POST", url: "/api/queries/deadHostImpact", headers: json, payload: '{"params":{"host":"hv1","extra":1}}' }, 400, "bad-request", /must NOT have additional properties/);
    await bad({ method: "POST", url: "/api/queries/deadHostImpact", headers: json, payload: '{"params":{},"maxRows":0}' }, 400, "bad-request", /body\/maxRows must be >= 1/);
    // a depth outside what the query follows is refused, not silently capped or emptied
    await bad("/api/queries/blastRadiusHost?name=hv1&depth=4", 400, "bad-request", /querystring\/depth must be <= 3/);
    await bad({ method: "POST", url: "/api/queries/servicesWithDownDependencies", headers: json, payload: '{"params":{"depth":0}}' }, 400, "bad-request", /body\/params\/depth must be >= 1/);
    await bad("/api/queries/whoKilledKenny", 404, "unknown-query", /no named query "whoKilledKenny" \(known: addressConflicts, blastRadiusGuest, .*deadHostImpact, .*GET \/api\/queries lists them\)/);
    await bad({ method: "POST", url: "/api/queries/whoKilledKenny", headers: json, payload: "{}" }, 404, "unknown-query", /whoKilledKenny/);
  });

  it("runs ad-hoc read-only Cypher with parameters; limits are clamped to the configured maximum", async () => {
    const cypher = (payload: unknown) => app.inject({ method: "POST", url: "/api/cypher", headers: json, payload: JSON.stringify(payload) });
    const r = await cypher({ query: "MATCH (h:Host) WHERE h.state = $s RETURN h.name AS host ORDER BY host", params: { s: "alive" } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json().columns, ["host"]);
    assert.deepEqual(r.json().rows, [{ host: "hv2" }, { host: "hv3" }]);
    const asksMore = (await cypher({ query: "MATCH (h:Host) RETURN h.name AS host ORDER BY host", maxRows: 1000, timeoutMs: 3_600_000 })).json();
    assert.deepEqual(asksMore.limits, { timeoutMs: 500, maxRows: 2 }, "never above the configured maximum");
    assert.equal(asksMore.rows.length, 2);
    assert.equal(asksMore.truncated, true);
    const asksLess = (await cypher({ query: "MATCH (h:Host) RETURN h.name AS host", maxRows: 1, timeoutMs: 200 })).json();
    assert.deepEqual(asksLess.limits, { timeoutMs: 200, maxRows: 1 });
  });

  it("refuses every write through HTTP with 403 write-refused, and the graph is unchanged", async () => {
    const before = await hostCount();
    const writes = [
      "CREATE (h:Host {name: 'intruder'}) RETURN h",
      "MERGE (h:Host {name: 'intruder'}) RETURN h",
      "MATCH (h:Host {name: 'hv1'}) SET h.state = 'alive' RETURN h.state",
      "MATCH (h:Host {name: 'hv2'}) DELETE h",
      "MATCH (h:Host) DETACH DELETE h",
      "CALL create_fts_index('Host', 'host_names', ['name'])", // a procedure that writes
      "CREATE NODE TABLE Intruder(id INT64, PRIMARY KEY(id))",
      "DROP TABLE Host",
      "COPY (MATCH (h:Host) RETURN h.name) TO '/tmp/ringwatch-http-leak.csv'",
      "EXPORT DATABASE '/tmp/ringwatch-http-export'",
      "LOAD FROM '/etc/passwd' RETURN *",
    ];
    const rejected0 = counters.rejected;
    for (const query of writes) {
      const r = await app.inject({ method: "POST", url: "/api/cypher", headers: json, payload: JSON.stringify({ query }) });
      assert.equal(r.statusCode, 403, `${query}: ${r.body}`);
      assert.equal(r.json().error, "write-refused");
      assert.match(r.json().message, /read-only/);
    }
    assert.equal(counters.rejected - rejected0, writes.length, "each refusal counted");
    assert.equal(await hostCount(), before);
    const hv1 = await store.read("MATCH (h:Host {name: 'hv1'}) RETURN h.state AS state");
    assert.deepEqual(hv1.rows, [{ state: "dead" }]);
  });

  it("maps store errors to statuses: syntax 400, too large 413", async () => {
    const r = await app.inject({ method: "POST", url: "/api/cypher", headers: json, payload: JSON.stringify({ query: "MATCH (h:Host RETURN h" }) });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error, "syntax");
    assert.match(r.json().message, /Parser exception/);
    const list = await app.inject({ method: "POST", url: "/api/cypher", headers: json, payload: JSON.stringify({ query: "RETURN $xs AS xs", params: { xs: [] } }) });
    assert.equal(list.statusCode, 400, "parameters the store cannot type are the caller's error");
    assert.equal(list.json().error, "syntax");
    // a body limit above the store's query limit: the store's own refusal comes through as 413
    const roomy = await api(scenarioParts(), { maxBodyBytes: 200_000 }, { store, queries: namedQueries });
    try {
      const big = await roomy.app.inject({ method: "POST", url: "/api/cypher", headers: json, payload: JSON.stringify({ query: `RETURN 1 AS x // ${"x".repeat(70_000)}` }) });
      assert.equal(big.statusCode, 413, big.body);
      assert.equal(big.json().error, "too-large");
      assert.match(big.json().message, /characters; at most/);
    } finally {
      await roomy.app.close();
    }
  });

  it("refuses malformed, oversized, non-JSON and ill-shaped bodies before the store is asked", async () => {
    const reads0 = store.counters.reads;
    const post = (payload: string, headers: Record<string, string> = json) => app.inject({ method: "POST", url: "/api/cypher", headers, payload });
    const expect = async (p: ReturnType<typeof post>, status: number, error: string): Promise<void> => {
      const r = await p;
      assert.equal(r.statusCode, status, r.body);
      assert.equal(r.json().error, error, r.body);
      assert.equal(typeof r.json().message, "string");
    };
    await expect(post('{"query": "MATCH (n) RETURN n"'), 400, "bad-json");
    await expect(post(""), 400, "bad-json");
    await expect(post(JSON.stringify({ query: `RETURN '${"x".repeat(5000)}' AS x` })), 413, "body-too-large");
    await expect(post("<query>MATCH (n) RETURN n</query>", { "content-type": "application/xml" }), 415, "unsupported-media-type");
    await expect(post("MATCH (n) RETURN n", { "content-type": "text/plain" }), 400, "bad-request"); // text is parsed, and is not an object
    await expect(post("{}"), 400, "bad-request");
    await expect(post('{"query": 42}'), 400, "bad-request");
    await expect(post('{"query": ""}'), 400, "bad-request");
    await expect(post('{"query": "   "}'), 400, "bad-request");
    await expect(post('{"query": "RETURN 1", "params": [1]}'), 400, "bad-request");
    await expect(post('{"query": "RETURN 1", "params": {"bad name": 1}}'), 400, "bad-request");
    await expect(post('{"query": "RETURN 1", "timeoutMs": "soon"}'), 400, "bad-request");
    await expect(post('{"query": "RETURN 1", "sudo": true}'), 400, "bad-request");
    await expect(post('{"query": "RETURN 1", "__proto__": {"x": 1}}'), 400, "bad-json");
    assert.equal(store.counters.reads, reads0, "none of these reached the store");
  });

  it("a query that runs out of time is 504 timeout", async () => {
    const failed0 = counters.failed;
    const r = await app.inject({ method: "POST", url: "/api/cypher", headers: json, payload: JSON.stringify({ query: "UNWIND range(1, 1000000000) AS x RETURN sum(x) AS s", timeoutMs: 100 }) });
    assert.equal(r.statusCode, 504, r.body);
    assert.equal(r.json().error, "timeout");
    assert.equal(counters.failed, failed0 + 1);
  });
});

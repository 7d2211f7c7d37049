import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { silentLogger } from "@ringwatch/shared";
import { fastify } from "fastify";
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { seriesPlugin, seriesUnavailablePlugin } from "../../src/http/series-plugin.js";
import { buildApi } from "../../src/http/server.js";
import type { HttpCounters } from "../../src/http/status-plugin.js";
import type { HistoryStore } from "../../src/index.js";
import { API_OPTIONS, emptyParts, sources } from "./api-fixture.js";
import { signedIn, tokenStore } from "../support/access.js";
import { GUEST, HOUR, Host, MIN, T0, intake, tempDir } from "../history/history-fixture.js";

describe("cma/http/series-plugin", () => {
  let dir: string, history: HistoryStore, app: FastifyInstance, counters: HttpCounters;
  const NOW = T0 + 2 * HOUR;

  before(async () => {
    dir = tempDir();
    const parts = emptyParts();
    const i = intake(dir);
    history = i.history;
    const hv1 = new Host("hv1");
    // two hours of a guest's cpu; the first interval's samples 250, 500, 1500 per-mille of a CPU
    for (let k = 0; k < 120; k++) i.stats.apply("hv1", hv1.batch(T0 + k * MIN, { cpu: k === 0 ? [250, 500, 1500] : [k, 2 * k], "net.tap0.rx.bytes": [k * 10] }));
    parts.stats = i.stats;
    const viewer = tokenStore("viewer"); // the routes' role: a viewer reads history
    const built = await buildApi({ ...sources(parts, undefined, viewer), history: { store: history, fullDays: 7, hourlyDays: 90, maxPoints: 500, now: () => NOW } }, API_OPTIONS, silentLogger());
    app = signedIn(built.app, viewer.auth.authorization);
    counters = built.counters;
  });
  after(async () => {
    await app.close();
    history.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (q: string) => app.inject(`/api/series?${q}`);

  it("answers a batch's exact min/avg/max, from ISO times or ms since the epoch", async () => {
    const iso = new Date(T0).toISOString();
    const r = await get(`host=hv1&domain=${GUEST}&metric=cpu&from=${iso}&to=${new Date(T0 + MIN).toISOString()}`);
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), {
      host: "hv1", domain: GUEST, metric: "cpu", kind: "cpu", unit: "CPU", from: T0, to: T0 + MIN, resolution: "interval", bucketMs: null,
      rows: [{ t: T0, count: 3, min: 0.25, avg: 0.75, max: 1.5 }],
    });
    const ms = await get(`host=hv1&domain=${GUEST}&metric=cpu&from=${T0}&to=${T0 + MIN}`);
    assert.deepEqual(ms.json().rows, r.json().rows);
  });

  it("aggregates when the range holds more intervals than points, up to now by default", async () => {
    const r = (await get(`host=hv1&domain=${GUEST}&metric=net.tap0.rx.bytes&from=${T0}&points=4`)).json();
    assert.equal(r.to, NOW);
    assert.equal(r.bucketMs, 30 * MIN);
    assert.deepEqual(r.rows.map((b: { t: number; min: number; max: number; avg: number; count: number }) => [b.t, b.count, b.min, b.max, b.avg]),
      [0, 1, 2, 3].map((i) => [T0 + i * 30 * MIN, 30, i * 300, (i * 30 + 29) * 10, (i * 30 + 14.5) * 10]));
    const all = (await get(`host=hv1&domain=${GUEST}&metric=net.tap0.rx.bytes&from=${T0}`)).json();
    assert.equal(all.rows.length, 120); // fits the default points: the intervals themselves
  });

  it("answers several series of a host over one range in one request, each as /api/series would, an unknown one marked", async () => {
    const q = `host=hv1&from=${T0}&to=${T0 + HOUR}&points=10`;
    const r = await app.inject(`/api/series/batch?${q}&series=${GUEST}/cpu&series=${GUEST}/net.tap0.rx.bytes&series=${GUEST}/balloon.rss`);
    assert.equal(r.statusCode, 200);
    const [cpu, net, none] = r.json().series;
    assert.deepEqual(cpu, (await get(`${q}&domain=${GUEST}&metric=cpu`)).json());
    assert.deepEqual(net, (await get(`${q}&domain=${GUEST}&metric=net.tap0.rx.bytes`)).json());
    assert.equal(net.rows.length, 6); // an hour in 10-minute buckets (the round length that fits 10 points)
    assert.deepEqual(none, { host: "hv1", domain: GUEST, metric: "balloon.rss", error: "not-found", message: `no history for series "balloon.rss" of guest ${GUEST}` });
    const one = await app.inject(`/api/series/batch?${q}&series=${GUEST}/cpu`);
    assert.deepEqual(one.json().series, [cpu], "a single series is a list of one");
    for (const bad of [`${q}`, `${q}&series=cpu`, `${q}&series=${GUEST}/`, `${q}&series=a/b/c`, `${q}${"&series=x/cpu".repeat(101)}`]) {
      assert.equal((await app.inject(`/api/series/batch?${bad}`)).statusCode, 400, bad.slice(0, 120));
    }
  });

  it("lists the series with history; an unknown series is 404", async () => {
    assert.deepEqual((await app.inject(`/api/series/list?host=hv1`)).json(), {
      host: "hv1", series: [{ domain: GUEST, metric: "cpu", kind: "cpu", unit: "CPU" }, { domain: GUEST, metric: "net.tap0.rx.bytes", kind: "rate", unit: "B/s" }],
    });
    assert.deepEqual((await app.inject(`/api/series/list?host=hv1&domain=other`)).json(), { host: "hv1", series: [] });
    const r = await get(`host=hv2&domain=${GUEST}&metric=cpu&from=${T0}`);
    assert.equal(r.statusCode, 404);
    assert.match(r.json().message, /no history for series "cpu"/);
  });

  it("refuses bad parameters with 400 and a clear message, and counts them", async () => {
    const before = counters.rejected;
    const bad: [string, RegExp][] = [
      [`domain=${GUEST}&metric=cpu&from=${T0}`, /host/],
      [`host=hv1&domain=${GUEST}&from=${T0}`, /metric/],
      [`host=hv1&metric=cpu`, /from/],
      [`host=hv1&metric=cpu&from=yesterday`, /querystring\/from must be an ISO 8601 time/],
      [`host=hv1&metric=cpu&from=2026-11-02T00:00:00`, /querystring\/from must be an ISO 8601 time with a zone/],
      [`host=hv1&metric=cpu&from=${T0}&to=2026-13-45T00:00:00Z`, /querystring\/to must be/],
      [`host=hv1&metric=cpu&from=${T0 + MIN}&to=${T0}`, /from must be before to/],
      [`host=hv1&metric=cpu&from=${T0}&points=0`, /points/],
      [`host=hv1&metric=cpu&from=${T0}&points=501`, /points/],
      [`host=hv1&metric=cpu&from=${T0}&points=ten`, /points/],
      [`host=hv1&metric=cpu&from=${T0}&step=60`, /additional properties/],
      [`host=bad/name&metric=cpu&from=${T0}`, /host/],
      [`host=hv1&from=${T0}&metric=`, /metric/],
    ];
    for (const [q, message] of bad) {
      const r = await get(q);
      assert.equal(r.statusCode, 400, q);
      assert.equal(r.json().error, "bad-request", q);
      assert.match(r.json().message, message, q);
    }
    assert.equal((await app.inject("/api/series/list")).statusCode, 400);
    assert.equal(counters.rejected - before, bad.length + 1);
  });

  it("without a history store: 503 with a clear error", async () => {
    const viewer = tokenStore("viewer");
    const none = signedIn((await buildApi(sources(emptyParts(), undefined, viewer), API_OPTIONS, silentLogger())).app, viewer.auth.authorization);
    try {
      for (const url of [`/api/series?host=hv1&metric=cpu&from=${T0}`, "/api/series/list?host=hv1"]) {
        const r = await none.inject(url);
        assert.equal(r.statusCode, 503);
        assert.deepEqual(r.json(), { error: "unavailable", message: 'this CMA keeps no metric history (historyStore is "none"): series cannot be charted' });
      }
    } finally {
      await none.close();
    }
  });

  it("declares every series route a viewer route (with and without a store)", async () => {
    for (const [plugin, o] of [[seriesPlugin, { store: history, fullDays: 7, hourlyDays: 90, maxPoints: 500 }], [seriesUnavailablePlugin, {}]] as const) {
      const f = fastify();
      const seen: string[] = [];
      f.addHook("onRoute", (r) => {
        if (r.method === "GET") seen.push(`${r.url} ${(r.config as { role?: string } | undefined)?.role}`);
      });
      await f.register(plugin as FastifyPluginAsync<typeof o>, o);
      await f.close();
      assert.deepEqual(seen.sort(), ["/api/series viewer", "/api/series/batch viewer", "/api/series/list viewer"]);
    }
  });
});

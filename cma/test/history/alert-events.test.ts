import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { silentLogger } from "@ringwatch/shared";
import type { FastifyInstance } from "fastify";
import { AlertEventLog } from "../../src/index.js";
import type { AlertEventRow } from "../../src/history/alert-events.js";
import { buildApi } from "../../src/http/server.js";
import { API_OPTIONS, emptyParts, sources } from "../http/api-fixture.js";
import { signedIn, tokenStore } from "../support/access.js";
import { HistoryStore } from "../../src/index.js";
import { GUEST, HOUR, MIN, T0, tempDir } from "./history-fixture.js";

const OTHER = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const ev = (over: Partial<AlertEventRow>): AlertEventRow => ({ host: "hv1", subject: GUEST, subjectName: "web1", kind: "vcpuAbuse", change: "raised", t: T0, ...over });

describe("cma/history/alert-events (chart markers)", () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps each change across a reopen; a guest's read holds its own and the host-wide events only", () => {
    const log = new AlertEventLog(dir, silentLogger());
    log.add(ev({ t: T0 }));
    log.add(ev({ t: T0 + 5 * MIN, change: "cleared" }));
    log.add(ev({ t: T0 + 2 * MIN, subject: OTHER, subjectName: "db1", kind: "memoryLeak" }));
    log.add(ev({ t: T0 + 3 * MIN, subject: "hv1", subjectName: "hv1", kind: "libvirtUnreachable" }));
    log.add(ev({ t: T0 + 4 * MIN, host: "hv2" }));
    log.close();
    const again = new AlertEventLog(dir, silentLogger());
    const all = again.read({ host: "hv1", from: T0, to: T0 + HOUR, limit: 100 });
    assert.deepEqual(all.map((e) => [e.t - T0, e.subject, e.kind, e.change]), [
      [0, GUEST, "vcpuAbuse", "raised"], [2 * MIN, OTHER, "memoryLeak", "raised"], [3 * MIN, "hv1", "libvirtUnreachable", "raised"], [5 * MIN, GUEST, "vcpuAbuse", "cleared"],
    ]);
    assert.deepEqual(again.read({ host: "hv1", subject: GUEST, from: T0, to: T0 + HOUR, limit: 100 }).map((e) => e.t - T0), [0, 3 * MIN, 5 * MIN]);
    assert.deepEqual(again.read({ host: "hv1", from: T0 + MIN, to: T0 + 5 * MIN, limit: 100 }).map((e) => e.t - T0), [2 * MIN, 3 * MIN], "[from, to)");
    assert.equal(again.read({ host: "hv1", from: T0, to: T0 + HOUR, limit: 2 }).length, 2);
    again.close();
  });

  it("expires by age, and past a count the oldest first", () => {
    const log = new AlertEventLog(dir, silentLogger());
    for (let i = 0; i < 10; i++) log.add(ev({ t: T0 + i * MIN }));
    assert.equal(log.expire(T0 + 2 * MIN), 2);
    assert.equal(log.expire(0, 5), 3);
    assert.deepEqual(log.read({ host: "hv1", from: 0, to: T0 + HOUR, limit: 100 }).map((e) => (e.t - T0) / MIN), [5, 6, 7, 8, 9]);
    log.close();
  });

  describe("GET /api/alerts/history", () => {
    let app: FastifyInstance, history: HistoryStore, events: AlertEventLog;
    beforeEach(async () => {
      history = new HistoryStore(dir, silentLogger());
      events = new AlertEventLog(dir, silentLogger());
      events.add(ev({ t: T0 }));
      events.add(ev({ t: T0 + MIN, subject: OTHER }));
      const viewer = tokenStore("viewer");
      const built = await buildApi({ ...sources(emptyParts(), undefined, viewer), history: { store: history, alertEvents: events, fullDays: 7, hourlyDays: 90, maxPoints: 500, now: () => T0 + HOUR } }, API_OPTIONS, silentLogger());
      app = signedIn(built.app, viewer.auth.authorization);
    });
    afterEach(async () => {
      await app.close();
      history.close();
      events.close();
    });

    it("answers a viewer the host's or a guest's events up to now", async () => {
      const r = await app.inject(`/api/alerts/history?host=hv1&from=${new Date(T0).toISOString()}`);
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().to, T0 + HOUR);
      assert.deepEqual(r.json().events.map((e: AlertEventRow) => e.subject), [GUEST, OTHER]);
      const g = await app.inject(`/api/alerts/history?host=hv1&domain=${GUEST}&from=${T0}&to=${T0 + HOUR}`);
      assert.deepEqual(g.json().events, [{ host: "hv1", subject: GUEST, subjectName: "web1", kind: "vcpuAbuse", change: "raised", t: T0 }]);
    });

    it("refuses bad parameters with 400", async () => {
      for (const q of ["from=0", `host=hv1&from=${T0 + 1}&to=${T0}`, "host=hv1&from=yesterday", "host=hv1&from=0&limit=0", "host=hv1&from=0&limit=100000", "host=hv1&from=0&color=red", "host=a%20b&from=0"]) {
        const r = await app.inject(`/api/alerts/history?${q}`);
        assert.equal(r.statusCode, 400, q);
      }
    });
  });
});

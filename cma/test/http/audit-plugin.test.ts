/**
 * GET /api/audit and /api/audit/export on their own fastify instance, built with the API's own
 * validation and error handlers (as buildApi does), over a real audit log in a temp dir. Who may
 * call them is the access control's business: here only that both routes declare role admin.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fastify } from "fastify";
import type { FastifyInstance } from "fastify";
import { silentLogger } from "@ringwatch/shared";
import { AuditLog } from "../../src/audit/audit-log.js";
import type { AuditEntry } from "../../src/audit/audit-log.js";
import { auditPlugin } from "../../src/http/audit-plugin.js";
import { installErrorHandlers } from "../../src/http/errors.js";
import { validatorCompiler } from "../../src/http/validation.js";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

describe("cma/http: the audit log's routes", () => {
  const dir = mkdtempSync(join(tmpdir(), "rw-audit-http-"));
  const clock = { now: T0 };
  const audit = AuditLog.open(dir, { retentionDays: 400, now: () => clock.now }, silentLogger());
  const roles: Record<string, unknown> = {};
  let app: FastifyInstance;

  before(async () => {
    // 30 entries over 3 days: alice signs in, bob puts hosts in maintenance, a failed sign-in each day
    for (let d = 0; d < 3; d++) {
      for (let i = 0; i < 10; i++) {
        clock.now = T0 + d * DAY + i * 60_000;
        if (i === 9) audit.record({ actor: "mallory", via: "anonymous", from: "192.0.2.9", action: "signIn", outcome: "denied" });
        else if (i % 2) audit.record({ actor: "bob", via: "token", from: "10.0.0.2", action: "hostMaintenance", target: `hv${i}`, outcome: "ok", detail: { reason: "kernel" } });
        else audit.record({ actor: "alice", via: "session", from: "10.0.0.1", action: "signIn", outcome: "ok" });
      }
    }
    app = fastify();
    app.setValidatorCompiler(validatorCompiler);
    installErrorHandlers(app);
    app.addHook("onRoute", (r) => {
      roles[`${String(r.method)} ${r.url}`] = (r.config as { role?: unknown } | undefined)?.role;
    });
    await app.register(auditPlugin, { audit });
    await app.ready();
  });

  after(async () => {
    await app.close();
    audit.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const list = async (qs: string): Promise<AuditEntry[]> => {
    const r = await app.inject({ method: "GET", url: `/api/audit${qs}` });
    assert.equal(r.statusCode, 200, r.body);
    return (r.json() as { entries: AuditEntry[] }).entries;
  };

  it("both routes declare role admin (the access control's hook enforces it)", () => {
    assert.equal(roles["GET /api/audit"], "admin");
    assert.equal(roles["GET /api/audit/export"], "admin");
  });

  it("GET /api/audit: newest first, 100 by default, filtered by actor, action and time, bounded by limit", async () => {
    const all = await list("");
    assert.equal(all.length, 30);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 30 }, (_, i) => 30 - i));
    assert.deepEqual(all[0], { seq: 30, time: new Date(T0 + 2 * DAY + 9 * 60_000).toISOString(), actor: "mallory", via: "anonymous", from: "192.0.2.9", action: "signIn", outcome: "denied" });
    assert.deepEqual(all[2].detail, { reason: "kernel" }, "detail kept by the response schema");
    assert.deepEqual((await list("?limit=3")).map((e) => e.seq), [30, 29, 28]);
    const bob = await list("?actor=bob");
    assert.equal(bob.length, 12);
    assert.ok(bob.every((e) => e.actor === "bob"));
    assert.deepEqual((await list("?action=signIn&actor=mallory")).map((e) => e.seq), [30, 20, 10]);
    // the second day only: since inclusive, until exclusive
    const day2 = await list(`?since=${T0 + DAY}&until=${T0 + 2 * DAY}`);
    assert.deepEqual(day2.map((e) => e.seq), [20, 19, 18, 17, 16, 15, 14, 13, 12, 11]);
    assert.deepEqual((await list(`?since=${T0 + DAY + 9 * 60_000}&until=${T0 + 2 * DAY + 60_000}&limit=2`)).map((e) => e.seq), [21, 20]);
    assert.deepEqual(await list("?actor=nobody"), []);
  });

  it("GET /api/audit/export: JSON lines, oldest first, the same filters, streamed as application/x-ndjson", async () => {
    const r = await app.inject({ method: "GET", url: "/api/audit/export" });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers["content-type"]), /^application\/x-ndjson/);
    assert.match(String(r.headers["content-disposition"]), /attachment/);
    assert.ok(r.body.endsWith("\n"));
    const lines = r.body.split("\n").slice(0, -1);
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as AuditEntry).seq), Array.from({ length: 30 }, (_, i) => i + 1));
    const f = await app.inject({ method: "GET", url: `/api/audit/export?action=signIn&since=${T0 + DAY}&limit=4` });
    assert.deepEqual(f.body.split("\n").slice(0, -1).map((l) => (JSON.parse(l) as AuditEntry).seq), [11, 13, 15, 17]);
    const none = await app.inject({ method: "GET", url: "/api/audit/export?actor=nobody" });
    assert.deepEqual([none.statusCode, none.body], [200, ""]);
  });

  it("bad query parameters: 400 with a clear JSON error", async () => {
    for (const [qs, why] of [
      ["?limit=0", /limit/], ["?limit=10001", /limit/], ["?limit=ten", /limit/], ["?since=yesterday", /since/], ["?until=-5", /until/],
      ["?action=sign%20in", /action/], ["?actor=", /actor/], ["?user=alice", /additional/], [`?since=${T0 + DAY}&until=${T0}`, /since .* must be before until/],
    ] as const) {
      for (const route of ["/api/audit", "/api/audit/export"]) {
        if (route.endsWith("export") && qs === "?limit=10001") continue; // an export may ask for more
        const r = await app.inject({ method: "GET", url: `${route}${qs}` });
        assert.equal(r.statusCode, 400, `${route}${qs}: ${r.body}`);
        const body = r.json() as { error: string; message: string };
        assert.equal(body.error, "bad-request");
        assert.match(body.message, why, `${route}${qs}`);
      }
    }
  });
  it("100 entries by default when no limit is given (the last test: it adds entries)", async () => {
    for (let i = 0; i < 80; i++) {
      clock.now = T0 + 3 * DAY + i * 1000;
      audit.record({ actor: "cli", via: "cli", from: "local", action: "tokenCreate", target: `t${i}`, outcome: "ok" });
    }
    const page = await list("");
    assert.equal(page.length, 100);
    assert.deepEqual([page[0].seq, page[99].seq], [110, 11]);
  });
});

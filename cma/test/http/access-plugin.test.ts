/**
 * Access control on the real API (buildApi, app.inject, real access files in temp dirs, the real
 * HostControl behind the maintenance and removal routes): who may call what, sessions with CSRF,
 * tokens, sign-in limits. Routes are enumerated from fastify's own route list, so a route added
 * later is covered without editing this file.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { HostControl } from "../../src/membership/host-control.js";
import { Suspicion } from "../../src/membership/suspicion.js";
import { SESSION_COOKIE, isOpenRoute } from "../../src/http/access-plugin.js";
import type { Role } from "../../src/access/roles.js";
import { AuditLog } from "../../src/audit/audit-log.js";
import { UUID1, api, scenarioParts } from "./api-fixture.js";
import type { Parts, TestApi } from "./api-fixture.js";

const PASSWORD = "a long enough password";

function hostControl(p: Parts): HostControl {
  const { membership } = p;
  const suspicion = new Suspicion({ membership, probe: async () => true, event: () => undefined, replan: () => undefined, askToReannounce: () => undefined, log: silentLogger() }, { reannounceGraceMs: 1000, segmentRecheckMs: 1000 });
  return new HostControl({ membership, suspicion, event: () => undefined, replan: () => undefined, quiet: () => undefined, log: silentLogger() });
}

async function controlledApi(audit?: AuditLog): Promise<TestApi & { parts: Parts }> {
  const parts = scenarioParts();
  const t = await api(parts, {}, undefined, { hostControl: hostControl(parts), ...(audit ? { audit } : {}) });
  return { ...t, parts };
}

function bearer(t: TestApi, role: Role, o: { expiresAt?: number | null; now?: number } = {}): { authorization: string } {
  const made = t.credentials.store.createToken({ name: `${role} token`, role, expiresAt: o.expiresAt ?? null, createdBy: "test" }, o.now);
  return { authorization: `Bearer ${made.token}` };
}

/** A concrete URL for a route pattern (the values do not matter to access control: it runs before validation). */
function concrete(url: string): string {
  return url.replace(/:(\w+)/g, (_m, name: string) => (name === "uuid" ? UUID1 : name === "id" ? "0123456789ab" : name === "discovertype" ? "os" : "hv1"));
}

function sessionCookie(r: LightMyRequestResponse): string {
  const c = r.cookies.find((x) => x.name === SESSION_COOKIE);
  assert.ok(c, `no session cookie in ${JSON.stringify(r.headers["set-cookie"])}`);
  return c.value;
}

async function signIn(app: FastifyInstance, user: string, password: string, form = false): Promise<{ cookie: string; csrf: string; res: LightMyRequestResponse }> {
  const res = form
    ? await app.inject({ method: "POST", url: "/api/session", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: new URLSearchParams({ user, password }).toString() })
    : await app.inject({ method: "POST", url: "/api/session", payload: { user, password } });
  assert.equal(res.statusCode, 200, res.body);
  return { cookie: sessionCookie(res), csrf: res.json().csrfToken, res };
}

describe("cma/http/access-plugin", function () {
  this.timeout(30_000);

  it("every route, from fastify's route list, refuses a caller without credentials (401, counted); only /api/health, sign-in and the UI's static files are open", async () => {
    const t = await controlledApi();
    try {
      const routes = t.routes;
      for (const must of ["GET /api/hosts", "POST /api/cypher", "POST /api/hosts/:host/maintenance", "DELETE /api/hosts/:host/maintenance", "POST /api/hosts/:host/remove", "GET /api/users", "POST /api/tokens", "GET /api/session"]) {
        assert.ok(routes.some((r) => `${r.method} ${r.url}` === must), `${must} is among the routes`);
      }
      let refused = 0;
      for (const r of routes) {
        const open = isOpenRoute(r.method, r.url);
        const res = await t.bare.inject({ method: r.method as "GET", url: concrete(r.url) });
        if (open) {
          assert.notEqual(res.statusCode, 401, `${r.method} ${r.url} is open`);
          continue;
        }
        assert.equal(res.statusCode, 401, `${r.method} ${r.url} without credentials: ${res.body}`);
        if (r.method !== "HEAD") assert.equal(res.json().error, "unauthenticated");
        refused++;
      }
      assert.ok(refused >= 25, `${refused} routes refused`);
      assert.equal(t.access.unauthenticated, refused);
      assert.equal((await t.bare.inject("/api/health")).statusCode, 200, "health stays open");
      assert.equal((await t.bare.inject("/api/nope")).statusCode, 401, "an unknown path says nothing without credentials");
      assert.equal((await t.bare.inject("/%61pi/hosts")).statusCode, 401, "nor does an encoded one");
      assert.equal((await t.bare.inject("/")).headers.location, "/console/", "/ leads to the console, open (its data is not)");
      assert.equal((await t.bare.inject("/console/")).statusCode, 200, "the console's page itself is open");
      assert.equal((await t.bare.inject("/console/")).statusCode, 200, "so is the console's page");
    } finally {
      await t.bare.close();
    }
  });

  it("the role a route declares is enforced: a viewer gets 403 on every route that needs more; an operator puts a host in maintenance but cannot remove it", async () => {
    const t = await controlledApi();
    try {
      const viewer = bearer(t, "viewer"), operator = bearer(t, "operator"), admin = bearer(t, "admin");
      const above = t.routes.filter((r) => r.url.startsWith("/api") && r.role !== "viewer");
      assert.ok(above.length >= 9, JSON.stringify(above));
      for (const r of above) {
        const res = await t.bare.inject({ method: r.method as "GET", url: concrete(r.url), headers: viewer });
        assert.equal(res.statusCode, 403, `${r.method} ${r.url} as a viewer`);
        if (r.method !== "HEAD") assert.equal(res.json().error, "forbidden");
      }
      assert.equal(t.access.forbidden, above.length);
      assert.equal((await t.bare.inject({ url: "/api/hosts", headers: viewer })).statusCode, 200, "a viewer reads");

      const until = Date.now() + 3600_000;
      const m = await t.bare.inject({ method: "POST", url: "/api/hosts/hv1/maintenance", headers: operator, payload: { until, reason: "kernel upgrade" } });
      assert.equal(m.statusCode, 200, m.body);
      assert.deepEqual([m.json().state, m.json().maintenance.reason, m.json().maintenance.until], ["maintenance", "kernel upgrade", until]);
      assert.equal(t.parts.membership.get("hv1")!.state, "maintenance");
      const rm = await t.bare.inject({ method: "POST", url: "/api/hosts/hv2/remove", headers: operator, payload: {} });
      assert.equal(rm.statusCode, 403);
      assert.ok(t.parts.membership.get("hv2"), "hv2 still there");
      const end = await t.bare.inject({ method: "DELETE", url: "/api/hosts/hv1/maintenance", headers: operator });
      assert.equal(end.statusCode, 200, end.body);
      assert.equal(end.json().state, "alive");
      const ok = await t.bare.inject({ method: "POST", url: "/api/hosts/hv2/remove", headers: admin, payload: { purge: true } });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual([ok.json().state, ok.json().purge], ["removed", true]);
      assert.equal(t.parts.membership.get("hv2"), undefined);
    } finally {
      await t.bare.close();
    }
  });

  it("the maintenance and removal routes check their bodies strictly and refuse what HostControl refuses, with its code", async () => {
    const t = await controlledApi();
    try {
      const op = bearer(t, "operator"), admin = bearer(t, "admin");
      const post = (url: string, payload: unknown, headers = op) => t.bare.inject({ method: "POST", url, headers, payload: payload as object });
      const cases: [string, unknown, number, string][] = [
        ["/api/hosts/hv1/maintenance", { until: Date.now() + 60_000 }, 400, "bad-request"],
        ["/api/hosts/hv1/maintenance", { until: Date.now() + 60_000, reason: "x", extra: 1 }, 400, "bad-request"],
        ["/api/hosts/hv1/maintenance", { until: "tomorrow", reason: "x" }, 400, "bad-request"],
        ["/api/hosts/hv1/maintenance", { until: Date.now() - 1000, reason: "x" }, 400, "bad-time"],
        ["/api/hosts/hv1/maintenance", { until: Date.now() + 60_000, reason: "bad\u0007" }, 400, "bad-reason"],
        ["/api/hosts/nohost/maintenance", { until: Date.now() + 60_000, reason: "x" }, 404, "unknown-host"],
      ];
      for (const [url, body, status, code] of cases) {
        const r = await post(url, body);
        assert.equal(r.statusCode, status, `${url} ${JSON.stringify(body)}: ${r.body}`);
        assert.equal(r.json().error, code);
      }
      const notIn = await t.bare.inject({ method: "DELETE", url: "/api/hosts/hv1/maintenance", headers: op });
      assert.equal(notIn.statusCode, 409);
      assert.equal(notIn.json().error, "not-in-maintenance");
      const iso = await post("/api/hosts/hv1/maintenance", { until: new Date(Date.now() + 7200_000).toISOString().replace(/\.\d+Z$/, "Z"), reason: "ISO time" });
      assert.equal(iso.statusCode, 200, iso.body);
      const purge = await post("/api/hosts/hv2/remove", { purge: "yes" }, admin);
      assert.equal(purge.statusCode, 400);
    } finally {
      await t.bare.close();
    }
  });

  it("a malformed, unknown, expired or revoked token is 401 and counted by reason; a bad token never falls back to a session", async () => {
    const t = await controlledApi();
    try {
      const now = Date.now();
      const expired = bearer(t, "admin", { now: now - 120_000, expiresAt: now - 60_000 });
      const live = t.credentials.store.createToken({ name: "to revoke", role: "admin", expiresAt: now + 3600_000, createdBy: "test" });
      const revoked = { authorization: `Bearer ${live.token}` };
      assert.equal((await t.bare.inject({ url: "/api/hosts", headers: revoked })).statusCode, 200, "valid before revocation");
      t.credentials.store.revokeToken(live.view.id);
      const wrongSecret = { authorization: `Bearer ${live.token.slice(0, -4)}AAAA` };
      for (const [h, why] of [[expired, "expired"], [revoked, "revoked"], [wrongSecret, "not known"], [{ authorization: "Bearer nonsense" }, "Bearer"], [{ authorization: "Basic YWRtaW46eA==" }, "Bearer"]] as const) {
        const r = await t.bare.inject({ url: "/api/hosts", headers: h });
        assert.equal(r.statusCode, 401, JSON.stringify(h));
        assert.match(r.json().message, new RegExp(why));
      }
      assert.deepEqual(t.access.tokensRefused, { expired: 1, revoked: 1, unknown: 1, malformed: 2 });
      await t.credentials.store.addUser("ann", "admin", PASSWORD);
      const s = await signIn(t.bare, "ann", PASSWORD);
      const both = await t.bare.inject({ url: "/api/hosts", headers: expired, cookies: { [SESSION_COOKIE]: s.cookie } });
      assert.equal(both.statusCode, 401, "a bad token with a good session cookie is still refused");
    } finally {
      await t.bare.close();
    }
  });

  it("a cookie session: form sign-in, a form post without the CSRF token is 403, with it done; tokens need none; sign-out ends the session", async () => {
    const t = await controlledApi();
    try {
      await t.credentials.store.addUser("olga", "operator", PASSWORD);
      const s = await signIn(t.bare, "olga", PASSWORD, true);
      const set = String(s.res.headers["set-cookie"]);
      assert.match(set, /HttpOnly/i);
      assert.match(set, /SameSite=Strict/i);
      assert.doesNotMatch(set, /Secure/i, "not Secure without TLS");
      const cookies = { [SESSION_COOKIE]: s.cookie };
      const me = await t.bare.inject({ url: "/api/session", cookies });
      assert.deepEqual({ ...(me.json() as object), csrfToken: typeof me.json().csrfToken }, { user: "olga", role: "operator", via: "session", csrfToken: "string" });
      const form = (extra: Record<string, string>) => t.bare.inject({
        method: "POST", url: "/api/hosts/hv1/maintenance", cookies, headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: new URLSearchParams({ until: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z"), reason: "disk swap", ...extra }).toString(),
      });
      const without = await form({});
      assert.equal(without.statusCode, 403, without.body);
      assert.equal(without.json().error, "csrf");
      assert.equal(t.parts.membership.get("hv1")!.state, "alive", "nothing done");
      const forged = await form({ _csrf: "forged" });
      assert.equal(forged.statusCode, 403);
      assert.equal(t.access.csrfRefused, 2);
      const withToken = await form({ _csrf: s.csrf });
      assert.equal(withToken.statusCode, 200, withToken.body);
      assert.equal(t.parts.membership.get("hv1")!.state, "maintenance");
      const header = await t.bare.inject({ method: "DELETE", url: "/api/hosts/hv1/maintenance", cookies, headers: { "x-csrf-token": s.csrf } });
      assert.equal(header.statusCode, 200, "the token in a header works too");
      const byToken = await t.bare.inject({ method: "DELETE", url: "/api/hosts/hv3/maintenance", headers: bearer(t, "operator") });
      assert.equal(byToken.statusCode, 409, "a token request reaches the handler without a CSRF token");
      assert.equal((await t.bare.inject({ method: "DELETE", url: "/api/session", cookies })).statusCode, 403, "signing out needs the CSRF token too");
      const out = await t.bare.inject({ method: "DELETE", url: "/api/session", cookies, headers: { "x-csrf-token": s.csrf } });
      assert.equal(out.statusCode, 200, out.body);
      assert.equal((await t.bare.inject({ url: "/api/hosts", cookies })).statusCode, 401, "the old cookie is worth nothing after sign-out");
    } finally {
      await t.bare.close();
    }
  });

  it("the 6th wrong password in a row for one user from one address is 429 (the right one too, then); other users are not affected", async () => {
    const t = await controlledApi();
    try {
      await t.credentials.store.addUser("bob", "viewer", PASSWORD);
      await t.credentials.store.addUser("eve", "viewer", PASSWORD);
      for (let i = 1; i <= 5; i++) {
        const r = await t.bare.inject({ method: "POST", url: "/api/session", payload: { user: "bob", password: `wrong guess ${i}` } });
        assert.equal(r.statusCode, 401, `attempt ${i}`);
      }
      const sixth = await t.bare.inject({ method: "POST", url: "/api/session", payload: { user: "bob", password: "wrong guess 6" } });
      assert.equal(sixth.statusCode, 429, sixth.body);
      assert.equal(sixth.json().error, "rate-limited");
      assert.ok(Number(sixth.headers["retry-after"]) > 0);
      assert.equal((await t.bare.inject({ method: "POST", url: "/api/session", payload: { user: "bob", password: PASSWORD } })).statusCode, 429);
      await signIn(t.bare, "eve", PASSWORD);
      assert.deepEqual([t.access.signInFailures, t.access.signInsLimited, t.access.signIns], [5, 2, 1]);
      const unknown = await t.bare.inject({ method: "POST", url: "/api/session", payload: { user: "nobody", password: PASSWORD } });
      assert.equal(unknown.statusCode, 401);
      assert.equal(unknown.json().message, "wrong user name or password", "an unknown user is not told apart from a wrong password");
    } finally {
      await t.bare.close();
    }
  });

  it("a session ends when its user's password changes or the user is removed; the role is the user's current one", async () => {
    const t = await controlledApi();
    try {
      await t.credentials.store.addUser("carl", "viewer", PASSWORD);
      await t.credentials.store.addUser("dora", "viewer", PASSWORD);
      const c = await signIn(t.bare, "carl", PASSWORD), d = await signIn(t.bare, "dora", PASSWORD);
      const get = (cookie: string) => t.bare.inject({ url: "/api/hosts", cookies: { [SESSION_COOKIE]: cookie } });
      assert.equal((await get(c.cookie)).statusCode, 200);
      await t.credentials.store.setPassword("carl", "another long password");
      const after = await get(c.cookie);
      assert.equal(after.statusCode, 401);
      assert.match(after.json().message, /password was changed/);
      t.credentials.store.removeUser("dora");
      assert.match((await get(d.cookie)).json().message, /user was removed/);
      await signIn(t.bare, "carl", "another long password");
    } finally {
      await t.bare.close();
    }
  });

  it("users and tokens over HTTP (admin): the token is shown once and works; refusals carry codes; nothing secret is listed", async () => {
    const t = await controlledApi();
    try {
      const add = await t.app.inject({ method: "POST", url: "/api/users", payload: { name: "vera", role: "viewer", password: PASSWORD } });
      assert.equal(add.statusCode, 201, add.body);
      assert.equal((await t.app.inject({ method: "POST", url: "/api/users", payload: { name: "vera", role: "viewer", password: PASSWORD } })).json().error, "exists");
      assert.equal((await t.app.inject({ method: "POST", url: "/api/users", payload: { name: "short", role: "viewer", password: "short" } })).json().error, "bad-password");
      assert.equal((await t.app.inject({ method: "POST", url: "/api/users", payload: { name: "x", role: "root", password: PASSWORD } })).statusCode, 400);
      const users = (await t.app.inject("/api/users")).json().users;
      assert.deepEqual(users.map((u: { name: string }) => u.name), ["vera"]);
      assert.ok(!JSON.stringify(users).includes("scrypt"));
      const made = await t.app.inject({ method: "POST", url: "/api/tokens", payload: { name: "zabbix", role: "viewer", expiresAt: null } });
      assert.equal(made.statusCode, 201, made.body);
      const { token, id } = made.json();
      assert.match(token, /^rwt_[0-9a-f]{12}_/);
      assert.equal((await t.bare.inject({ url: "/api/hosts", headers: { authorization: `Bearer ${token}` } })).statusCode, 200);
      const list = (await t.app.inject("/api/tokens")).json().tokens;
      assert.ok(!JSON.stringify(list).includes(token.slice(-20)), "the secret is not listed");
      assert.deepEqual(list.find((x: { id: string }) => x.id === id).state, "active");
      const rev = await t.app.inject({ method: "DELETE", url: `/api/tokens/${id}` });
      assert.equal(rev.statusCode, 200);
      assert.equal(rev.json().state, "revoked");
      assert.equal((await t.bare.inject({ url: "/api/hosts", headers: { authorization: `Bearer ${token}` } })).statusCode, 401);
      assert.equal((await t.app.inject({ method: "DELETE", url: "/api/users/nobody" })).statusCode, 404);
      assert.equal((await t.app.inject({ method: "DELETE", url: "/api/users/vera" })).statusCode, 200);
    } finally {
      await t.bare.close();
    }
  });

  it("a signed-in user changes their own password (PUT /api/session/password): current one checked (403), CSRF needed, tokens refused, rules as for new users; their other sessions end, this one goes on; audited", async () => {
    const log = AuditLog.open(mkdtempSync(join(tmpdir(), "rw-audit-")), { retentionDays: 10 }, silentLogger());
    const t = await controlledApi(log);
    try {
      await t.credentials.store.addUser("vera", "viewer", PASSWORD);
      const s = await signIn(t.bare, "vera", PASSWORD), other = await signIn(t.bare, "vera", PASSWORD);
      const cookies = { [SESSION_COOKIE]: s.cookie };
      const change = (payload: object, headers: Record<string, string> = { "x-csrf-token": s.csrf }, c: Record<string, string> | undefined = cookies) =>
        t.bare.inject({ method: "PUT", url: "/api/session/password", cookies: c, headers, payload });
      const NEW = "vera's brand new password";

      const noCsrf = await change({ current: PASSWORD, password: NEW }, {});
      assert.equal(noCsrf.statusCode, 403, noCsrf.body);
      assert.equal(noCsrf.json().error, "csrf");
      const wrong = await change({ current: "not vera's password", password: NEW });
      assert.equal(wrong.statusCode, 403, wrong.body);
      assert.deepEqual([wrong.json().error, wrong.json().message], ["wrong-password", "the current password is not right; the password was not changed"]);
      const admin = bearer(t, "admin"), adminName = `token:${admin.authorization.split("_")[1]}`;
      const token = await change({ current: PASSWORD, password: NEW }, admin, undefined);
      assert.equal(token.statusCode, 403, token.body);
      assert.equal(token.json().error, "no-password", "an API token holds no password");
      for (const [body, code] of [[{ current: PASSWORD, password: "short" }, "bad-password"], [{ current: PASSWORD, password: PASSWORD }, "bad-password"], [{ current: PASSWORD }, "bad-request"], [{ current: PASSWORD, password: NEW, user: "ann" }, "bad-request"]] as const) {
        const r = await change(body);
        assert.equal(r.statusCode, 400, `${JSON.stringify(body)}: ${r.body}`);
        assert.equal(r.json().error, code);
      }
      assert.ok(await t.credentials.store.checkPassword("vera", PASSWORD), "nothing changed so far");

      const ok = await change({ current: PASSWORD, password: NEW });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual([ok.json().user, ok.json().role, ok.json().via], ["vera", "viewer", "session"]);
      const renewed = { [SESSION_COOKIE]: sessionCookie(ok) };
      assert.notEqual(renewed[SESSION_COOKIE], s.cookie, "this session has a new id");
      assert.equal((await t.bare.inject({ url: "/api/hosts", cookies: renewed })).statusCode, 200, "this session goes on");
      const write = await t.bare.inject({ method: "DELETE", url: "/api/session", cookies: renewed, headers: { "x-csrf-token": ok.json().csrfToken } });
      assert.equal(write.statusCode, 200, `the CSRF token in the answer works: ${write.body}`);
      const ended = await t.bare.inject({ url: "/api/hosts", cookies: { [SESSION_COOKIE]: other.cookie } });
      assert.equal(ended.statusCode, 401, "the other session ended");
      assert.match(ended.json().message, /password was changed/);
      assert.equal((await t.bare.inject({ method: "POST", url: "/api/session", payload: { user: "vera", password: PASSWORD } })).statusCode, 401, "the old password fails");
      await signIn(t.bare, "vera", NEW);

      const entries = log.list({ action: "passwordChange" }).reverse(); // oldest first
      assert.deepEqual(entries.map((e) => [e.actor, e.via, e.target, e.outcome, e.detail?.reason ?? e.detail?.error ?? ""]), [
        ["vera", "session", "vera", "denied", "wrong current password"],
        [adminName, "token", adminName, "denied", "API token"],
        ["vera", "session", "vera", "invalid", "bad-password"],
        ["vera", "session", "vera", "invalid", "same-password"],
        ["vera", "session", "vera", "ok", ""],
      ]);
      assert.ok(!JSON.stringify(log.list({})).includes(NEW) && !JSON.stringify(log.list({})).includes(PASSWORD), "no password in the log");
    } finally {
      await t.bare.close();
      log.close();
    }
  });

  it("wrong current passwords count with failed sign-ins of that user from that address: either route is 429 once the limit is reached", async () => {
    const t = await controlledApi();
    try {
      await t.credentials.store.addUser("walt", "operator", PASSWORD);
      const s = await signIn(t.bare, "walt", PASSWORD);
      const change = (current: string) => t.bare.inject({ method: "PUT", url: "/api/session/password", cookies: { [SESSION_COOKIE]: s.cookie }, headers: { "x-csrf-token": s.csrf }, payload: { current, password: "walt's next long password" } });
      for (let i = 1; i <= 3; i++) assert.equal((await change(`wrong guess ${i}`)).statusCode, 403, `attempt ${i}`);
      for (let i = 4; i <= 5; i++) assert.equal((await t.bare.inject({ method: "POST", url: "/api/session", payload: { user: "walt", password: `wrong guess ${i}` } })).statusCode, 401);
      const limited = await change(PASSWORD);
      assert.equal(limited.statusCode, 429, limited.body);
      assert.equal(limited.json().error, "rate-limited");
      assert.equal((await t.bare.inject({ method: "POST", url: "/api/session", payload: { user: "walt", password: PASSWORD } })).statusCode, 429, "sign-in too");
      assert.ok(await t.credentials.store.checkPassword("walt", PASSWORD), "not changed");
    } finally {
      await t.bare.close();
    }
  });

  it("records in the audit log: sign-in ok and failed (user tried, address), sign-out, user and token changes, maintenance and removal, refused writes", async () => {
    const log = AuditLog.open(mkdtempSync(join(tmpdir(), "rw-audit-")), { retentionDays: 10 }, silentLogger());
    const t = await controlledApi(log);
    try {
      await t.credentials.store.addUser("olga", "operator", PASSWORD);
      assert.equal((await t.bare.inject({ method: "POST", url: "/api/session", payload: { user: "olga", password: "not her password" }, remoteAddress: "10.9.8.7" })).statusCode, 401);
      const s = await signIn(t.bare, "olga", PASSWORD);
      const cookies = { [SESSION_COOKIE]: s.cookie };
      const m = await t.bare.inject({ method: "POST", url: "/api/hosts/hv1/maintenance", cookies, headers: { "x-csrf-token": s.csrf }, payload: { until: Date.now() + 3600_000, reason: "kernel" } });
      assert.equal(m.statusCode, 200, m.body);
      assert.equal((await t.bare.inject({ method: "POST", url: "/api/hosts/hv2/remove", cookies, headers: { "x-csrf-token": s.csrf }, payload: {} })).statusCode, 403);
      assert.equal((await t.bare.inject({ method: "DELETE", url: "/api/session", cookies, headers: { "x-csrf-token": s.csrf } })).statusCode, 200);
      assert.equal((await t.app.inject({ method: "POST", url: "/api/users", payload: { name: "vera", role: "viewer", password: PASSWORD } })).statusCode, 201);
      const made = (await t.app.inject({ method: "POST", url: "/api/tokens", payload: { name: "zabbix", role: "viewer", expiresAt: null } })).json();
      assert.equal((await t.app.inject({ method: "DELETE", url: `/api/tokens/${made.id}` })).statusCode, 200);
      assert.equal((await t.app.inject({ method: "POST", url: "/api/hosts/hv2/remove", payload: { purge: false } })).statusCode, 200);
      assert.equal((await t.app.inject({ method: "POST", url: "/api/hosts/nohost/remove", payload: {} })).statusCode, 404);

      const res = await t.app.inject("/api/audit?limit=100");
      assert.equal(res.statusCode, 200, res.body);
      const entries = (res.json().entries as { actor: string; via: string; from: string; action: string; target?: string; outcome: string; detail?: Record<string, unknown> }[]).reverse();
      const admin = `token:${t.credentials.token.split("_")[1]}`;
      assert.deepEqual(entries.map((e) => [e.actor, e.via, e.action, e.target, e.outcome]), [
        ["olga", "anonymous", "signIn", "olga", "denied"],
        ["olga", "anonymous", "signIn", "olga", "ok"],
        ["olga", "session", "hostMaintenance", "hv1", "ok"],
        ["olga", "session", "forbidden", "POST /api/hosts/:host/remove", "denied"],
        ["olga", "session", "signOut", "olga", "ok"],
        [admin, "token", "userAdd", "vera", "ok"],
        [admin, "token", "tokenCreate", "zabbix", "ok"],
        [admin, "token", "tokenRevoke", made.id, "ok"],
        [admin, "token", "hostRemove", "hv2", "ok"],
        [admin, "token", "hostRemove", "nohost", "invalid"],
      ]);
      assert.equal(entries[0].from, "10.9.8.7", "the address a failed sign-in came from");
      assert.ok(!JSON.stringify(entries).includes(PASSWORD), "no password in the log");
      assert.equal(entries[2].detail?.reason, "kernel");
      assert.equal((await t.bare.inject({ url: "/api/audit", headers: bearer(t, "operator") })).statusCode, 403, "the audit log is for admins");
    } finally {
      await t.bare.close();
      log.close();
    }
  });
});

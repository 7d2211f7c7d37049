/**
 * Signing in and out (cookie sessions; access-plugin.ts sets them up):
 *
 *   POST   /api/session {user, password}   JSON or an HTML form; open to anyone, rate-limited per
 *                                          user and address (429 once too many attempts failed)
 *   GET    /api/session                    who am I: name, role, how (session or token), the CSRF token
 *   DELETE /api/session                    sign out (needs the CSRF token like every write)
 *   PUT    /api/session/password {current, password}   change one's own password (own-password-route.ts;
 *                                          its wrong current passwords count in the same limiter)
 */
import type { FastifyPluginAsync } from "fastify";
import type { AccessStore } from "../access/access-store.js";
import { MAX_PASSWORD_CHARS } from "../access/passwords.js";
import type { AccessCounters } from "./access-plugin.js";
import type { ApiAudit } from "./audit-hook.js";
import { HttpError } from "./errors.js";
import { ownPasswordRoute } from "./own-password-route.js";
import { noQuery } from "./schemas.js";

export interface SessionPluginOptions {
  store: AccessStore;
  counters: AccessCounters;
  audit: ApiAudit;
  /** failed sign-ins for one user from one address within signInWindowMs before further attempts get 429 */
  signInMaxFailures: number;
  signInWindowMs: number;
}

export const sessionPlugin: FastifyPluginAsync<SessionPluginOptions> = async (app, o) => {
  const failures = app.createRateLimit({
    max: o.signInMaxFailures,
    timeWindow: o.signInWindowMs,
    // the user signing in, or (changing their password) the session's user: the same count for both
    keyGenerator: (req) => `${req.principal?.via === "session" ? req.principal.name : String((req.body as { user?: unknown } | undefined)?.user ?? "").slice(0, 64)}|${req.ip}`,
  });
  ownPasswordRoute(app, { store: o.store, audit: o.audit, failures, onLimited: () => o.counters.signInsLimited++ });

  app.post<{ Body: { user: string; password: string } }>("/api/session", {
    schema: {
      querystring: noQuery,
      body: {
        type: "object",
        required: ["user", "password"],
        properties: { user: { type: "string", minLength: 1, maxLength: 64 }, password: { type: "string", maxLength: MAX_PASSWORD_CHARS } },
        additionalProperties: false,
      },
    },
  }, async (req, reply) => {
    const { user, password } = req.body;
    const before = await failures(req, { increment: false }); // only failures count: peek first
    if (!before.isAllowed && before.remaining === 0) {
      o.counters.signInsLimited++;
      o.audit(req, { action: "signIn", actor: user, target: user, outcome: "denied", detail: { reason: "rate-limited" } });
      void reply.header("retry-after", String(before.ttlInSeconds));
      throw new HttpError(429, "rate-limited", `too many failed sign-ins for ${user} from ${req.ip}; try again in ${before.ttlInSeconds} s`);
    }
    const u = await o.store.checkPassword(user, password);
    if (!u) {
      await failures(req);
      o.counters.signInFailures++;
      o.audit(req, { action: "signIn", actor: user, target: user, outcome: "denied", detail: { reason: "wrong user name or password" } });
      throw new HttpError(401, "unauthenticated", "wrong user name or password");
    }
    await req.session.regenerate(); // a new id: a session id planted before sign-in is worth nothing
    req.session.user = u.name;
    req.session.startedAt = Date.now();
    o.counters.signIns++;
    o.audit(req, { action: "signIn", actor: u.name, target: u.name, outcome: "ok" });
    return { user: u.name, role: u.role, via: "session", csrfToken: reply.generateCsrf() };
  });

  app.get("/api/session", { schema: { querystring: noQuery } }, async (req, reply) => {
    const p = req.principal!;
    return { user: p.name, role: p.role, via: p.via, ...(p.via === "session" ? { csrfToken: reply.generateCsrf() } : {}) };
  });

  app.delete("/api/session", { schema: { querystring: noQuery } }, async (req) => {
    const p = req.principal!;
    if (p.via !== "session") throw new HttpError(400, "no-session", "an API token has no session to end (revoke the token instead)");
    await req.session.destroy();
    o.audit(req, { action: "signOut", target: p.name, outcome: "ok" });
    return { signedOut: p.name };
  });
};

/**
 * A signed-in user changes their own password (any role, viewer up):
 *
 *   PUT /api/session/password {current, password}
 *
 * Only with a session: an API token holds no password (403). The current password is checked
 * first (wrong: 403 "wrong-password"); those failures count in the sign-in limiter for that user
 * and address, so this route is no way round it (429 once it is reached, either way). The new
 * password follows the same rules as a new user's (400 "bad-password"). Every attempt is audited
 * (action "passwordChange", target the user), never a password.
 *
 * Every session of the user started before the change ends (access-plugin.ts compares its start
 * with the user's passwordChangedAt), this one excepted: it is regenerated (new id, new CSRF
 * token, in the answer) and counts as a fresh sign-in, as the password was just proven.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AccessError } from "../access/access-store.js";
import type { AccessStore } from "../access/access-store.js";
import { MAX_PASSWORD_CHARS } from "../access/passwords.js";
import type { ApiAudit } from "./audit-hook.js";
import { HttpError } from "./errors.js";
import { noQuery } from "./schemas.js";

/** the sign-in limiter (session-plugin.ts): peek, or count one failure */
export type SignInLimiter = (req: FastifyRequest, o?: { increment?: boolean }) => Promise<{ isAllowed: boolean; remaining?: number; ttlInSeconds?: number }>;

export interface OwnPasswordOptions {
  store: AccessStore;
  audit: ApiAudit;
  failures: SignInLimiter;
  /** the limiter refused (counted as a limited sign-in) */
  onLimited: () => void;
}

const ACTION = "passwordChange";
const password = { type: "string", maxLength: MAX_PASSWORD_CHARS } as const;

export function ownPasswordRoute(app: FastifyInstance, o: OwnPasswordOptions): void {
  app.put<{ Body: { current: string; password: string } }>("/api/session/password", {
    config: { role: "viewer" },
    schema: {
      querystring: noQuery,
      body: { type: "object", required: ["current", "password"], properties: { current: password, password }, additionalProperties: false },
    },
  }, async (req, reply: FastifyReply) => {
    const p = req.principal!;
    if (p.via !== "session") {
      o.audit(req, { action: ACTION, target: p.name, outcome: "denied", detail: { reason: "API token" } });
      throw new HttpError(403, "no-password", "an API token has no password to change; sign in as a user to change yours");
    }
    const before = await o.failures(req, { increment: false });
    if (!before.isAllowed && before.remaining === 0) {
      o.onLimited();
      o.audit(req, { action: ACTION, target: p.name, outcome: "denied", detail: { reason: "rate-limited" } });
      void reply.header("retry-after", String(before.ttlInSeconds));
      throw new HttpError(429, "rate-limited", `too many wrong passwords for ${p.name} from ${req.ip}; try again in ${before.ttlInSeconds} s`);
    }
    if (!(await o.store.checkPassword(p.name, req.body.current))) {
      await o.failures(req);
      o.audit(req, { action: ACTION, target: p.name, outcome: "denied", detail: { reason: "wrong current password" } });
      throw new HttpError(403, "wrong-password", "the current password is not right; the password was not changed");
    }
    if (req.body.password === req.body.current) {
      o.audit(req, { action: ACTION, target: p.name, outcome: "invalid", detail: { error: "same-password" } });
      throw new HttpError(400, "bad-password", "the new password is the current one; choose another");
    }
    let changedAt: number;
    try {
      changedAt = (await o.store.setPassword(p.name, req.body.password)).passwordChangedAt;
    } catch (e) {
      const invalid = e instanceof AccessError;
      o.audit(req, { action: ACTION, target: p.name, outcome: invalid ? "invalid" : "failed", detail: { error: invalid ? e.code : (e as Error).message } });
      if (invalid) throw new HttpError(e.code === "unknown-user" ? 404 : 400, e.code, e.message);
      throw e;
    }
    // this session goes on as a new one; the user's others started before changedAt and end
    await req.session.regenerate();
    req.session.user = p.name;
    req.session.startedAt = changedAt;
    o.audit(req, { action: ACTION, target: p.name, outcome: "ok", detail: { otherSessionsEnded: true } });
    return { user: p.name, role: p.role, via: "session", passwordChangedAt: changedAt, csrfToken: reply.generateCsrf() };
  });
}

/**
 * Access control for the API (fastify plugins, wired once on the root instance so every route,
 * whoever adds it, is covered):
 *
 * - who: an API token (`Authorization: Bearer rwt_…`) or a session cookie (@fastify/session,
 *   HttpOnly, SameSite=Strict, Secure under TLS, bounded lifetime; a session ends when its user's
 *   password changes or the user is removed). A bad token is refused, never "fall back to the cookie".
 * - may they: one onRequest hook. Every route needs a principal except OPEN_ROUTES (health, sign-in,
 *   the UI's static files), unknown paths included; the role it needs is its `config.role` (default viewer). 401 without or with bad credentials, 403 with too
 *   low a role; both counted. Handlers read `req.principal`.
 * - CSRF (@fastify/csrf-protection): every state-changing request made with a session carries the
 *   token (`x-csrf-token` header, or `_csrf` in a form), checked before the body is validated; the
 *   `_csrf` field is then removed so the routes' strict body schemas need not know it. Tokens in
 *   `Authorization` need none (a browser never adds them by itself).
 * - form bodies (@fastify/formbody) so a plain HTML form can sign in.
 * - @fastify/rate-limit for the sign-in route (session-plugin.ts uses `app.createRateLimit`).
 *
 */
import { randomBytes } from "node:crypto";
import fastifyCookie from "@fastify/cookie";
import fastifyCsrf from "@fastify/csrf-protection";
import fastifyFormbody from "@fastify/formbody";
import fastifyRateLimit from "@fastify/rate-limit";
import fastifySession from "@fastify/session";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AccessStore, Principal } from "../access/access-store.js";
import { roleAllows } from "../access/roles.js";
import { HttpError } from "./errors.js";
import { BoundedSessionStore } from "./session-store.js";

/** Routes anyone may call: liveness for probes, signing in, and the web UI's static files (they hold no data). Everything else needs a principal. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set([
  "GET /api/health", "HEAD /api/health", "POST /api/session",
  ...["/"].flatMap((u) => [`GET ${u}`, `HEAD ${u}`]), // a redirect to the console
]);
/** OPEN_ROUTES, and the console's static files (console-plugin.ts: page, modules, stylesheets; they hold no data) */
export const isOpenRoute = (method: string, url: string): boolean =>
  OPEN_ROUTES.has(`${method} ${url}`) || ((method === "GET" || method === "HEAD") && (url === "/console" || url.startsWith("/console/")));
export const SESSION_COOKIE = "ringwatch_session";
/** Sessions kept at once (a few per operator); past it the oldest are signed out. */
const MAX_SESSIONS = 10_000;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface AccessCounters {
  /** refused 401: no credentials, a bad, expired or revoked token, an ended session */
  unauthenticated: number;
  /** refused 403: too low a role */
  forbidden: number;
  /** refused 403: state-changing request with a session but without a valid CSRF token */
  csrfRefused: number;
  signIns: number;
  signInFailures: number;
  /** sign-ins refused 429 (too many failures for that user from that address) */
  signInsLimited: number;
  /** token refusals by reason: malformed, unknown, expired, revoked */
  tokensRefused: Record<string, number>;
}

export function accessCounters(): AccessCounters {
  return { unauthenticated: 0, forbidden: 0, csrfRefused: 0, signIns: 0, signInFailures: 0, signInsLimited: 0, tokensRefused: {} };
}

export interface AccessOptions {
  store: AccessStore;
  counters: AccessCounters;
  /** cookies marked Secure (the API is served over TLS) */
  secureCookies: boolean;
  sessionMaxAgeMs: number;
  /** a denied write (403) — for the audit log */
  onForbidden?: (req: FastifyRequest, p: Principal, needs: string) => void;
}

declare module "fastify" {
  interface FastifyRequest {
    /** who is calling (set by the access hook on every /api route but the open ones) */
    principal: Principal | null;
  }
  interface Session {
    /** the signed-in user */
    user?: string;
    /** when they signed in (ms): the session ends sessionMaxAgeMs later, or when the password changed after it */
    startedAt?: number;
  }
}

function unauthenticated(message: string): HttpError {
  return new HttpError(401, "unauthenticated", message);
}

/** The principal behind a request, or an HttpError(401) saying why not. */
function authenticate(req: FastifyRequest, o: AccessOptions): Principal {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    const check = m ? o.store.checkToken(m[1]) : ({ ok: false, why: "malformed" } as const);
    if (!check.ok) {
      o.counters.tokensRefused[check.why] = (o.counters.tokensRefused[check.why] ?? 0) + 1;
      throw unauthenticated(check.why === "malformed" ? "Authorization must be 'Bearer <token>' with a ringwatch API token" : `the API token is ${check.why === "unknown" ? "not known" : check.why}`);
    }
    return { name: `token:${check.token.id}`, role: check.token.role, via: "token", tokenId: check.token.id };
  }
  const s = req.session;
  if (!s?.user || s.startedAt === undefined) throw unauthenticated("sign in (POST /api/session) or send an API token (Authorization: Bearer …)");
  const u = o.store.user(s.user);
  const ended = !u ? "the user was removed" : u.passwordChangedAt > s.startedAt ? "the password was changed" : Date.now() - s.startedAt > o.sessionMaxAgeMs ? "the session expired" : undefined;
  if (ended || !u) {
    void s.destroy().catch(() => undefined);
    throw unauthenticated(`signed out: ${ended ?? "unknown user"}; sign in again`);
  }
  return { name: u.name, role: u.role, via: "session" };
}

export async function installAccess(app: FastifyInstance, o: AccessOptions): Promise<void> {
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    // sessions live in this process's memory: a random secret per start is enough (a restart ends them anyway)
    secret: randomBytes(32).toString("base64url"),
    cookieName: SESSION_COOKIE,
    cookie: { path: "/", httpOnly: true, sameSite: "strict", secure: o.secureCookies, maxAge: o.sessionMaxAgeMs },
    saveUninitialized: false,
    rolling: false,
    store: new BoundedSessionStore(o.sessionMaxAgeMs, MAX_SESSIONS),
  });
  await app.register(fastifyCsrf, { sessionPlugin: "@fastify/session", logLevel: "debug" });
  await app.register(fastifyFormbody, { bodyLimit: 16_384 });
  await app.register(fastifyRateLimit, { global: false });
  app.decorateRequest("principal", null);

  app.addHook("onRequest", async (req: FastifyRequest) => {
    // decided on the route matched, not on the raw URL: an encoded or unusual path cannot slip past
    if (req.routeOptions.url !== undefined && isOpenRoute(req.method, req.routeOptions.url)) return;
    let p: Principal;
    try {
      p = authenticate(req, o);
    } catch (e) {
      o.counters.unauthenticated++;
      throw e;
    }
    req.principal = p; // known even when refused: the audit log names who was refused
    const needs = req.routeOptions.config?.role ?? "viewer";
    if (!roleAllows(p.role, needs)) {
      o.counters.forbidden++;
      if (!SAFE_METHODS.has(req.method)) o.onForbidden?.(req, p, needs);
      throw new HttpError(403, "forbidden", `${req.method} ${req.routeOptions.url ?? req.url.split("?")[0]} needs the ${needs} role; ${p.name} is ${p.role}`);
    }
  });

  // after the body is parsed (a form's _csrf field), before it is validated against the route's schema
  app.addHook("preValidation", (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    if (req.principal?.via !== "session" || SAFE_METHODS.has(req.method)) return done();
    let passed = false;
    app.csrfProtection(req, reply, () => (passed = true)); // synchronous; when refused it has answered 403 itself
    if (!passed) {
      o.counters.csrfRefused++;
      return;
    }
    const body = req.body as Record<string, unknown> | undefined;
    if (body && typeof body === "object" && "_csrf" in body) delete body._csrf;
    done();
  });
}

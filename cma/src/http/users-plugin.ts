/**
 * Users and API tokens over HTTP (role admin), for the console and `ringwatch-cma user|token --url`:
 *
 *   GET    /api/users                        users with their roles (never a hash)
 *   POST   /api/users {name, role, password} add one
 *   PUT    /api/users/:name/password {password}   change a password (ends that user's sessions)
 *   DELETE /api/users/:name                  remove one (not the last admin)
 *   GET    /api/tokens                       tokens with their state (never a secret)
 *   POST   /api/tokens {name, role, expiresAt}    create one: the token is in this answer only
 *   DELETE /api/tokens/:id                   revoke one
 *
 * Every change is audited, refusals too.
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { AccessError } from "../access/access-store.js";
import type { AccessErrorCode, AccessStore } from "../access/access-store.js";
import { TOKEN_NAME_RE, USER_NAME_RE } from "../access/access-file.js";
import { MAX_PASSWORD_CHARS } from "../access/passwords.js";
import { ROLES } from "../access/roles.js";
import type { ApiAudit } from "./audit-hook.js";
import { HttpError } from "./errors.js";
import { noQuery } from "./schemas.js";

export interface UsersPluginOptions {
  store: AccessStore;
  audit: ApiAudit;
}

const STATUS: Record<AccessErrorCode, number> = {
  "bad-name": 400, "bad-role": 400, "bad-password": 400, "bad-expiry": 400, exists: 409, "unknown-user": 404, "unknown-token": 404, "last-admin": 409,
};

const userName = { type: "string", pattern: USER_NAME_RE } as const;
const password = { type: "string", maxLength: MAX_PASSWORD_CHARS } as const;
const admin = { role: "admin" } as const;

export const usersPlugin: FastifyPluginAsync<UsersPluginOptions> = async (app, { store, audit }) => {
  /** Run a change, audit it (refusals as invalid), map refusals to statuses. */
  async function audited<T>(req: FastifyRequest, action: string, target: string, fn: () => T | Promise<T>, detail?: Record<string, unknown>): Promise<T> {
    let out: T;
    try {
      out = await fn();
    } catch (e) {
      if (!(e instanceof AccessError)) {
        audit(req, { action, target, outcome: "failed", detail: { ...detail, error: (e as Error).message } });
        throw e;
      }
      audit(req, { action, target, outcome: "invalid", detail: { ...detail, error: e.code } });
      throw new HttpError(STATUS[e.code], e.code, e.message);
    }
    audit(req, { action, target, outcome: "ok", detail });
    return out;
  }

  app.get("/api/users", { config: admin, schema: { querystring: noQuery } }, async () => ({ users: store.users() }));

  app.post<{ Body: { name: string; role: string; password: string } }>("/api/users", {
    config: admin,
    schema: {
      querystring: noQuery,
      body: { type: "object", required: ["name", "role", "password"], properties: { name: userName, role: { type: "string", enum: ROLES }, password }, additionalProperties: false },
    },
  }, async (req, reply) => {
    const { name, role } = req.body;
    const u = await audited(req, "userAdd", name, () => store.addUser(name, role, req.body.password), { role });
    return reply.code(201).send(u);
  });

  app.put<{ Params: { name: string }; Body: { password: string } }>("/api/users/:name/password", {
    config: admin,
    schema: {
      querystring: noQuery,
      params: { type: "object", required: ["name"], properties: { name: userName }, additionalProperties: false },
      body: { type: "object", required: ["password"], properties: { password }, additionalProperties: false },
    },
  }, async (req) => audited(req, "userPasswd", req.params.name, () => store.setPassword(req.params.name, req.body.password)));

  app.delete<{ Params: { name: string } }>("/api/users/:name", {
    config: admin,
    schema: { querystring: noQuery, params: { type: "object", required: ["name"], properties: { name: userName }, additionalProperties: false } },
  }, async (req) => {
    await audited(req, "userRemove", req.params.name, () => store.removeUser(req.params.name));
    return { removed: req.params.name };
  });

  app.get("/api/tokens", { config: admin, schema: { querystring: noQuery } }, async () => ({ tokens: store.tokens() }));

  app.post<{ Body: { name: string; role: string; expiresAt: number | null } }>("/api/tokens", {
    config: admin,
    schema: {
      querystring: noQuery,
      body: {
        type: "object",
        required: ["name", "role", "expiresAt"],
        properties: { name: { type: "string", pattern: TOKEN_NAME_RE }, role: { type: "string", enum: ROLES }, expiresAt: { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }] } },
        additionalProperties: false,
      },
    },
  }, async (req, reply) => {
    const { name, role, expiresAt } = req.body;
    const made = await audited(req, "tokenCreate", name, () => store.createToken({ name, role, expiresAt, createdBy: req.principal!.name }), { role, expiresAt });
    return reply.code(201).send({ ...made.view, token: made.token });
  });

  app.delete<{ Params: { id: string } }>("/api/tokens/:id", {
    config: admin,
    schema: { querystring: noQuery, params: { type: "object", required: ["id"], properties: { id: { type: "string", pattern: "^[0-9a-f]{12}$" } }, additionalProperties: false } },
  }, async (req) => audited(req, "tokenRevoke", req.params.id, () => store.revokeToken(req.params.id)));
};

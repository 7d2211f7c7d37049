/**
 * Host key pins over HTTP (identity/host-admission.ts decides; this only carries). Each write is
 * audited, refusals too.
 *
 *   GET    /api/host-keys                    (viewer) every pin: name, fingerprint, state, times; pending first
 *   POST   /api/host-keys/:host/approve      (admin)  pending → pinned: its next announcement is admitted
 *   POST   /api/host-keys/:host/revoke       (admin)  refused from now on; out of the rings at once, shown revoked
 *   DELETE /api/host-keys/:host              (admin)  forget the pin: the next announcement is a new host (re-keying)
 *   GET    /api/host-keys/enrollments        (viewer) enrollments not expired: name, made when and by whom, expiry, spent or not; never a token
 *   POST   /api/host-keys/enrollments        (admin)  {name, ttlMs?} a one-time enrollment token for that host, in this answer only
 *   DELETE /api/host-keys/enrollments/:host  (admin)  cancel it: its token admits nobody
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { HostKeyError } from "../identity/host-admission.js";
import type { HostAdmission, HostKeyErrorCode } from "../identity/host-admission.js";
import type { HostPin } from "../identity/pin-store.js";
import type { Enrollment } from "../identity/enrollment-store.js";
import type { ApiAudit } from "./audit-hook.js";
import { HttpError } from "./errors.js";
import { hostName, hostParams, noQuery } from "./schemas.js";

export interface HostKeysPluginOptions {
  admission: HostAdmission;
  audit: ApiAudit;
}

const STATUS: Record<HostKeyErrorCode, number> = { "unknown-host": 404, "not-pending": 409, revoked: 409, pinned: 409, listed: 409, "no-enrollment": 404, "too-many": 409 };

/** An enrollment token lives at least a minute (time to copy it to the host) and at most a week (a forgotten one should not admit a host months later). */
export const ENROLLMENT_TTL_MS = { min: 60_000, max: 7 * 86_400_000, default: 3_600_000 } as const;

/** What a caller sees of an enrollment: never the token, nor its hash. */
export function enrollmentView(e: Enrollment): Record<string, unknown> {
  return { name: e.name, state: e.usedAt === undefined ? "outstanding" : "used", createdAt: e.createdAt, createdBy: e.createdBy, expiresAt: e.expiresAt, usedAt: e.usedAt ?? null, usedBy: e.usedBy ?? null };
}

/** What a caller sees of a pin: no key bytes beyond the public identity key (base64) and its fingerprint. */
export function pinView(p: HostPin): Record<string, unknown> {
  return {
    name: p.name, fingerprint: p.fingerprint, state: p.state, identityKey: p.keys.identityPublic.toString("base64"), firstSeenAt: p.firstSeenAt,
    pinnedAt: p.pinnedAt ?? null, pinnedBy: p.pinnedBy ?? null, revokedAt: p.revokedAt ?? null, revokedBy: p.revokedBy ?? null, lastAddress: p.lastAddress ?? null,
  };
}

export const hostKeysPlugin: FastifyPluginAsync<HostKeysPluginOptions> = async (app, { admission, audit }) => {
  /** who, as the pin records it */
  const actor = (req: FastifyRequest): string => req.principal?.name ?? "anonymous";

  /** Run an admin's operation and audit it (ok with its detail, invalid, failed); HostKeyErrors become HTTP errors. */
  function auditedRun<T>(req: FastifyRequest, action: string, host: string, fn: () => T, detail: (r: T) => Record<string, unknown>): T {
    let r: T;
    try {
      r = fn();
    } catch (e) {
      if (!(e instanceof HostKeyError)) {
        audit(req, { action, target: host, outcome: "failed", detail: { error: (e as Error).message } });
        throw e;
      }
      audit(req, { action, target: host, outcome: "invalid", detail: { error: e.code, message: e.message } });
      throw new HttpError(STATUS[e.code], e.code, e.message);
    }
    audit(req, { action, target: host, outcome: "ok", detail: detail(r) });
    return r;
  }

  function audited(req: FastifyRequest, action: string, host: string, fn: () => HostPin): Record<string, unknown> {
    return pinView(auditedRun(req, action, host, fn, (p) => ({ fingerprint: p.fingerprint, state: p.state })));
  }

  app.get("/api/host-keys", { schema: { querystring: noQuery } }, async () => ({ policy: admission.policy, pins: admission.list().map(pinView) }));

  const write = { config: { role: "admin" }, schema: { querystring: noQuery, params: hostParams } } as const;
  app.post<{ Params: { host: string } }>("/api/host-keys/:host/approve", write, async (req) =>
    audited(req, "hostKeyApprove", req.params.host, () => admission.approve(req.params.host, actor(req))));
  app.post<{ Params: { host: string } }>("/api/host-keys/:host/revoke", write, async (req) =>
    audited(req, "hostKeyRevoke", req.params.host, () => admission.revoke(req.params.host, actor(req))));
  app.delete<{ Params: { host: string } }>("/api/host-keys/:host", write, async (req) => {
    const forgotten = audited(req, "hostKeyForget", req.params.host, () => admission.forget(req.params.host, actor(req)));
    return { ...forgotten, state: "forgotten" };
  });

  app.get("/api/host-keys/enrollments", { schema: { querystring: noQuery } }, async () => ({ policy: admission.policy, enrollments: admission.listEnrollments().map(enrollmentView) }));

  app.post<{ Body: { name: string; ttlMs?: number } }>("/api/host-keys/enrollments", {
    config: { role: "admin" },
    schema: {
      querystring: noQuery,
      body: {
        type: "object",
        required: ["name"],
        properties: { name: hostName, ttlMs: { type: "integer", minimum: ENROLLMENT_TTL_MS.min, maximum: ENROLLMENT_TTL_MS.max, default: ENROLLMENT_TTL_MS.default } },
        additionalProperties: false,
      },
    },
  }, async (req, reply) => {
    const { name, ttlMs = ENROLLMENT_TTL_MS.default } = req.body;
    // the token goes in this answer only: never in the audit log, the application log or a listing
    const made = auditedRun(req, "hostKeyEnroll", name, () => admission.enroll(name, ttlMs, actor(req)), (m) => ({ expiresAt: m.enrollment.expiresAt, ttlMs }));
    return reply.code(201).send({ ...enrollmentView(made.enrollment), token: made.token });
  });

  app.delete<{ Params: { host: string } }>("/api/host-keys/enrollments/:host", write, async (req) => {
    const e = auditedRun(req, "hostKeyEnrollCancel", req.params.host, () => admission.cancelEnrollment(req.params.host, actor(req)), (x) => ({ expiresAt: x.expiresAt, createdBy: x.createdBy }));
    return { ...enrollmentView(e), state: "cancelled" };
  });
};

/**
 * Host key pins over HTTP (identity/host-admission.ts decides; this only carries). Each write is
 * audited, refusals too.
 *
 *   GET    /api/host-keys                    (viewer) every pin: name, fingerprint, state, times; pending first
 *   POST   /api/host-keys/:host/approve      (admin)  pending → pinned: its next announcement is admitted
 *   POST   /api/host-keys/:host/revoke       (admin)  refused from now on; out of the rings at once, shown revoked
 *   DELETE /api/host-keys/:host              (admin)  forget the pin: the next announcement is a new host (re-keying)
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { HostKeyError } from "../identity/host-admission.js";
import type { HostAdmission, HostKeyErrorCode } from "../identity/host-admission.js";
import type { HostPin } from "../identity/pin-store.js";
import type { ApiAudit } from "./audit-hook.js";
import { HttpError } from "./errors.js";
import { hostParams, noQuery } from "./schemas.js";

export interface HostKeysPluginOptions {
  admission: HostAdmission;
  audit: ApiAudit;
}

const STATUS: Record<HostKeyErrorCode, number> = { "unknown-host": 404, "not-pending": 409, revoked: 409 };

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

  function audited(req: FastifyRequest, action: string, host: string, fn: () => HostPin): Record<string, unknown> {
    let p: HostPin;
    try {
      p = fn();
    } catch (e) {
      if (!(e instanceof HostKeyError)) {
        audit(req, { action, target: host, outcome: "failed", detail: { error: (e as Error).message } });
        throw e;
      }
      audit(req, { action, target: host, outcome: "invalid", detail: { error: e.code, message: e.message } });
      throw new HttpError(STATUS[e.code], e.code, e.message);
    }
    audit(req, { action, target: host, outcome: "ok", detail: { fingerprint: p.fingerprint, state: p.state } });
    return pinView(p);
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
};

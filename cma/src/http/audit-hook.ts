/**
 * What the API tells the audit log: one event per state-changing request (sign-in and its
 * failures, sign-out, user and token changes, host maintenance and removal, refused writes). The
 * actor, how they came (session, token) and their address come from the request.
 */
import type { FastifyRequest } from "fastify";
import type { AuditRecord } from "../audit/audit-log.js";

export type ApiAuditOutcome = "ok" | "denied" | "failed" | "invalid";

export interface ApiAuditEvent {
  action: string;
  target?: string;
  outcome: ApiAuditOutcome;
  detail?: Record<string, unknown>;
  /** who, when not the request's principal (a failed sign-in names the user tried) */
  actor?: string;
}

/** Records an event; throws when it cannot be recorded (the request then fails rather than go unrecorded). */
export type ApiAudit = (req: FastifyRequest, e: ApiAuditEvent) => void;

export const noAudit: ApiAudit = () => undefined;

/** The hook writing to the CMA's audit log: actor, how and from where come from the request. */
export function auditTo(log: { record(r: AuditRecord): unknown }): ApiAudit {
  return (req, e) => {
    log.record({
      actor: e.actor ?? req.principal?.name ?? "anonymous",
      via: req.principal?.via ?? "anonymous",
      from: req.ip,
      action: e.action,
      ...(e.target !== undefined ? { target: e.target } : {}),
      outcome: e.outcome,
      ...(e.detail ? { detail: e.detail } : {}),
    });
  };
}

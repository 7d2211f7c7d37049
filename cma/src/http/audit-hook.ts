/**
 * What the API tells the audit log: one event per state-changing request (sign-in and its
 * failures, sign-out, user and token changes, host maintenance and removal, refused writes). The
 * actor, how they came (session, token) and their address come from the request.
 */
import type { FastifyRequest } from "fastify";

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

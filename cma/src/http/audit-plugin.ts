/**
 * The audit log over HTTP, for admins (each route declares `config.role`; the access control's hook
 * enforces it): `GET /api/audit` lists entries newest first (at most `limit`), `GET /api/audit/export`
 * streams them oldest first as JSON lines (application/x-ndjson), for archiving or a SIEM. Both
 * filter by time (ms since the epoch: since inclusive, until exclusive), actor and action.
 */
import { Readable } from "node:stream";
import type { FastifyPluginAsync } from "fastify";
import { DEFAULT_LIST_LIMIT, MAX_FIELD_CHARS, MAX_LIST_LIMIT, AUDIT_OUTCOMES } from "../audit/audit-log.js";
import type { AuditLog, AuditQuery } from "../audit/audit-log.js";
import { HttpError } from "./errors.js";

export interface AuditPluginOptions {
  audit: Pick<AuditLog, "list" | "lines">;
}

/** Most entries one export streams when the caller gives a limit (without one: everything kept). */
const MAX_EXPORT_LIMIT = 100_000_000;

const time = { type: "integer", minimum: 0, maximum: 8_640_000_000_000_000 } as const;
const filters = {
  since: time,
  until: time,
  actor: { type: "string", minLength: 1, maxLength: MAX_FIELD_CHARS },
  action: { type: "string", pattern: "^[A-Za-z][A-Za-z0-9._-]{0,63}$" },
} as const;

const entrySchema = {
  type: "object",
  properties: {
    seq: { type: "integer" },
    time: { type: "string" },
    actor: { type: "string" },
    via: { type: "string" },
    from: { type: "string" },
    action: { type: "string" },
    target: { type: "string" },
    outcome: { type: "string", enum: [...AUDIT_OUTCOMES] },
    detail: { type: "object", additionalProperties: true },
  },
  required: ["seq", "time", "actor", "via", "from", "action", "outcome"],
} as const;

type Query = { since?: number; until?: number; actor?: string; action?: string; limit?: number };

function checkRange(q: Query): AuditQuery {
  if (q.since !== undefined && q.until !== undefined && q.since >= q.until) throw new HttpError(400, "bad-request", `since (${q.since}) must be before until (${q.until})`);
  return q;
}

export const auditPlugin: FastifyPluginAsync<AuditPluginOptions> = async (app, { audit }) => {
  app.get<{ Querystring: Query & { limit: number } }>("/api/audit", {
    config: { role: "admin" },
    schema: {
      querystring: {
        type: "object",
        properties: { ...filters, limit: { type: "integer", minimum: 1, maximum: MAX_LIST_LIMIT, default: DEFAULT_LIST_LIMIT } },
        additionalProperties: false,
      },
      response: {
        200: { type: "object", properties: { entries: { type: "array", items: entrySchema } }, required: ["entries"] },
      },
    },
  }, async (req) => ({ entries: audit.list(checkRange(req.query)) }));

  app.get<{ Querystring: Query }>("/api/audit/export", {
    config: { role: "admin" },
    schema: {
      querystring: {
        type: "object",
        properties: { ...filters, limit: { type: "integer", minimum: 1, maximum: MAX_EXPORT_LIMIT } },
        additionalProperties: false,
      },
    },
  }, async (req, reply) => {
    const q = checkRange(req.query);
    return reply
      .type("application/x-ndjson")
      .header("content-disposition", 'attachment; filename="ringwatch-audit.ndjson"')
      .send(Readable.from(audit.lines(q)));
  });
};

/**
 * Maintenance and removal of hosts over HTTP, through the same HostControl as the control socket
 * (membership/host-control.ts judges every value: unknown host, time in the past or beyond a
 * year, empty or over-long reason). Each request is audited, refusals too.
 *
 *   POST   /api/hosts/:host/maintenance {until, reason}   (operator) until: ms since the epoch or ISO 8601
 *   DELETE /api/hosts/:host/maintenance                   (operator) end it now: a silent host is probed, then judged
 *   POST   /api/hosts/:host/remove {purge?}               (admin)    out of service
 */
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { HostControlError, MAX_REASON_CHARS } from "../membership/host-control.js";
import type { HostControl, HostControlErrorCode } from "../membership/host-control.js";
import type { HostRecord } from "../membership/membership.js";
import type { ApiAudit } from "./audit-hook.js";
import { HttpError } from "./errors.js";
import { hostParams, noQuery } from "./schemas.js";

export interface HostControlPluginOptions {
  control: HostControl;
  audit: ApiAudit;
}

const STATUS: Record<HostControlErrorCode, number> = { "unknown-host": 404, "bad-time": 400, "bad-reason": 400, "bad-request": 400, "not-in-maintenance": 409, busy: 409 };
const ISO_RE = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,3})?)?(Z|[+-]\\d{2}:\\d{2})$";

function hostResult(h: HostRecord): Record<string, unknown> {
  return { host: h.name, state: h.state, since: h.since, ...(h.maintenance ? { maintenance: { ...h.maintenance } } : {}) };
}

export const hostControlPlugin: FastifyPluginAsync<HostControlPluginOptions> = async (app, { control, audit }) => {
  async function audited<T>(req: FastifyRequest, action: string, host: string, detail: Record<string, unknown>, fn: () => T | Promise<T>): Promise<T> {
    let out: T;
    try {
      out = await fn();
    } catch (e) {
      if (!(e instanceof HostControlError)) {
        audit(req, { action, target: host, outcome: "failed", detail: { ...detail, error: (e as Error).message } });
        throw e;
      }
      audit(req, { action, target: host, outcome: "invalid", detail: { ...detail, error: e.code, message: e.message } });
      throw new HttpError(STATUS[e.code], e.code, e.message);
    }
    audit(req, { action, target: host, outcome: "ok", detail });
    return out;
  }

  app.post<{ Params: { host: string }; Body: { until: number | string; reason: string } }>("/api/hosts/:host/maintenance", {
    config: { role: "operator" },
    schema: {
      querystring: noQuery,
      params: hostParams,
      body: {
        type: "object",
        required: ["until", "reason"],
        properties: {
          until: { anyOf: [{ type: "integer", minimum: 0 }, { type: "string", pattern: ISO_RE }] },
          reason: { type: "string", minLength: 1, maxLength: MAX_REASON_CHARS },
        },
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const { until, reason } = req.body;
    const at = typeof until === "number" ? until : Date.parse(until);
    if (!Number.isFinite(at)) throw new HttpError(400, "bad-time", `until: not a time: ${JSON.stringify(until)}`);
    return hostResult(await audited(req, "hostMaintenance", req.params.host, { until: at, reason }, () => control.startMaintenance(req.params.host, at, reason)));
  });

  app.delete<{ Params: { host: string } }>("/api/hosts/:host/maintenance", {
    config: { role: "operator" },
    schema: { querystring: noQuery, params: hostParams },
  }, async (req) => hostResult(await audited(req, "hostMaintenanceEnd", req.params.host, {}, () => control.endMaintenance(req.params.host))));

  app.post<{ Params: { host: string }; Body: { purge?: boolean } | undefined }>("/api/hosts/:host/remove", {
    config: { role: "admin" },
    schema: {
      querystring: noQuery,
      params: hostParams,
      body: { type: "object", properties: { purge: { type: "boolean", default: false } }, additionalProperties: false },
    },
  }, async (req) => {
    const purge = req.body?.purge === true;
    const t = await audited(req, "hostRemove", req.params.host, { purge }, () => control.remove(req.params.host, purge));
    return { host: t.name, state: "removed", removedAt: t.removedAt, purge: t.purge };
  });
};

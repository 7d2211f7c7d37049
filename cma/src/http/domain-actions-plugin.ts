/**
 * Actions on guests over HTTP (issue 14): POST /api/domains/:uuid/actions {action, reason?}
 * (operator) carries one out through the hypervisor running the domain now (actions/domain-actions.ts)
 * and answers when that host has done it, with the domain's state after. Every request is audited
 * — who asked, why (the reason given), what, on which guest and host, the outcome — refusals too.
 */
import type { FastifyPluginAsync } from "fastify";
import { DOMAIN_ACTIONS } from "@ringwatch/shared";
import { DomainActionError } from "../actions/domain-actions.js";
import type { DomainActionErrorCode, DomainActions } from "../actions/domain-actions.js";
import type { Ladders } from "../actions/ladder.js";
import type { ApiAudit } from "./audit-hook.js";
import { HttpError } from "./errors.js";
import { noQuery } from "./schemas.js";

export interface DomainActionsPluginOptions {
  actions: DomainActions;
  audit: ApiAudit;
  /** the escalation ladders (GET /api/ladders); absent: the route says there is no policy */
  ladders?: Ladders;
}

const STATUS: Record<DomainActionErrorCode, number> = {
  "bad-action": 400, "unknown-domain": 404, "host-not-alive": 409, "host-in-maintenance": 409, busy: 429, unreachable: 504, "no-answer": 504, "refused-by-host": 502,
};
/** the reason a person or a script gives, kept in the audit log */
const MAX_REASON = 256;

export const domainActionsPlugin: FastifyPluginAsync<DomainActionsPluginOptions> = async (app, { actions, audit, ladders }) => {
  // the ladders under way, escalated, and the last ended ones, each with its steps and history; the policy's mode (act, dry-run)
  app.get<{ Querystring: { uuid?: string } }>("/api/ladders", {
    schema: { querystring: { type: "object", properties: { uuid: { type: "string", maxLength: 36 } }, additionalProperties: false } },
  }, async (req) => {
    if (!ladders) return { policy: false, ladders: [] };
    const all = ladders.list();
    return { policy: true, mode: ladders.mode, ladders: req.query.uuid ? all.filter((l) => l.uuid === req.query.uuid!.toLowerCase()) : all };
  });

  app.post<{ Params: { uuid: string }; Body: { action: string; reason: string } }>("/api/domains/:uuid/actions", {
    config: { role: "operator" },
    schema: {
      querystring: noQuery,
      params: { type: "object", properties: { uuid: { type: "string", pattern: "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$" } }, required: ["uuid"], additionalProperties: false },
      body: {
        type: "object",
        properties: { action: { type: "string", enum: [...DOMAIN_ACTIONS] }, reason: { type: "string", maxLength: MAX_REASON, default: "" } },
        required: ["action"],
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const { uuid } = req.params;
    const { action, reason } = req.body;
    try {
      const r = await actions.request(uuid, action);
      audit(req, { action: "domainAction", target: uuid, outcome: "ok", detail: { action, reason, host: r.host, name: r.name, state: r.state, commandId: r.commandId, ...(r.rebootMethod ? { rebootMethod: r.rebootMethod } : {}), ...(r.agentError ? { agentError: r.agentError } : {}) } });
      return r;
    } catch (e) {
      if (!(e instanceof DomainActionError)) {
        audit(req, { action: "domainAction", target: uuid, outcome: "failed", detail: { action, reason, error: (e as Error).message } });
        throw e;
      }
      // refused before anything was sent: invalid; sent but not done (or not known to be done): failed
      const outcome = e.code === "refused-by-host" || e.code === "no-answer" || e.code === "unreachable" ? "failed" : "invalid";
      audit(req, { action: "domainAction", target: uuid, outcome, detail: { action, reason, ...(e.host ? { host: e.host } : {}), error: e.code, message: e.message } });
      throw new HttpError(STATUS[e.code], e.code, e.message);
    }
  });
};

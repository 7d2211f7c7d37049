/**
 * Monitoring errors over HTTP: what stops ringwatch from seeing (libvirt unreachable, discovery
 * scripts failing, stats batches refused, the Zabbix sender dropping values, graph writes failing),
 * active by default, or the recently cleared ones.
 */
import type { FastifyPluginAsync } from "fastify";
import { MONITORING_ERROR_SOURCES } from "../monitoring-errors/monitoring-errors.js";
import type { MonitoringError, MonitoringErrors } from "../monitoring-errors/monitoring-errors.js";
import { hostName } from "./schemas.js";

export interface MonitoringErrorsPluginOptions {
  errors: MonitoringErrors;
}

const errorItem = {
  type: "object",
  properties: {
    host: { type: "string" },
    source: { type: "string" },
    subject: { type: "string" },
    evidence: { type: "object", additionalProperties: true },
    since: { type: "string" },
    lastSeen: { type: "string" },
    active: { type: "boolean" },
    clearedAt: { type: "string" },
  },
  required: ["host", "source", "subject", "evidence", "since", "lastSeen", "active"],
} as const;

const iso = (ms: number): string => new Date(ms).toISOString();

function view(e: MonitoringError): Record<string, unknown> {
  return { ...e, since: iso(e.since), lastSeen: iso(e.lastSeen), ...(e.clearedAt !== undefined ? { clearedAt: iso(e.clearedAt) } : {}) };
}

export const monitoringErrorsPlugin: FastifyPluginAsync<MonitoringErrorsPluginOptions> = async (app, { errors }) => {
  app.get<{ Querystring: { host?: string; source?: string; state: "active" | "cleared" | "all" } }>("/api/monitoring-errors", {
    schema: {
      querystring: {
        type: "object",
        properties: {
          // a hypervisor's name, or the CMA's own (CMA-side errors)
          host: hostName,
          source: { type: "string", enum: [...MONITORING_ERROR_SOURCES] },
          state: { type: "string", enum: ["active", "cleared", "all"], default: "active" },
        },
        additionalProperties: false,
      },
      response: {
        200: {
          type: "object",
          properties: { errors: { type: "array", items: errorItem }, active: { type: "integer" } },
          required: ["errors", "active"],
        },
      },
    },
  }, async (req) => {
    const { host, source, state } = req.query;
    const f = { host, source };
    const list = state === "active" ? errors.active(f) : state === "cleared" ? errors.cleared(f) : [...errors.cleared(f), ...errors.active(f)];
    return { errors: list.map(view), active: errors.active(f).length };
  });
};

/**
 * The alerts' history over HTTP, for the charts' markers: GET /api/alerts/history?host=&domain=&from=&to=&limit=
 * (a viewer route) answers the host's alert changes in [from, to), oldest first; with a domain,
 * that guest's and the host-wide ones (history/alert-events.ts). Times as /api/series takes them.
 */
import type { FastifyPluginAsync } from "fastify";
import type { AlertEventLog } from "../history/alert-events.js";
import { MAX_READ } from "../history/alert-events.js";
import { HttpError } from "./errors.js";
import { hostName } from "./schemas.js";
import { timeParam as time, timeRange } from "./series-plugin.js";

export interface AlertHistoryPluginOptions {
  alertEvents: AlertEventLog;
  now?: () => number;
}


export const alertHistoryPlugin: FastifyPluginAsync<AlertHistoryPluginOptions> = async (app, o) => {
  const now = o.now ?? Date.now;
  app.get<{ Querystring: { host: string; domain?: string; from: string; to?: string; limit: number } }>("/api/alerts/history", {
    config: { role: "viewer" },
    schema: {
      querystring: {
        type: "object",
        properties: {
          host: hostName,
          domain: { type: "string", minLength: 1, maxLength: 255, description: "a guest (domain UUID): its events and the host-wide ones" },
          from: time,
          to: time,
          limit: { type: "integer", minimum: 1, maximum: MAX_READ, default: 1000 },
        },
        required: ["host", "from"],
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const q = req.query;
    const { from, to } = timeRange(q, now());
    const events = o.alertEvents.read({ host: q.host, subject: q.domain, from, to, limit: q.limit });
    return { host: q.host, domain: q.domain ?? null, from, to, events, truncated: events.length === q.limit };
  });
};

/** Without a history store the route still exists and says why it cannot answer (503). */
export const alertHistoryUnavailablePlugin: FastifyPluginAsync = async (app) => {
  app.get("/api/alerts/history", { config: { role: "viewer" } }, async (): Promise<never> => {
    throw new HttpError(503, "unavailable", 'this CMA keeps no history (historyStore is "none"): past alerts cannot be listed');
  });
};

/** Active alerts over HTTP (from the nanoprobes' local analytics and discovery errors). */
import type { FastifyPluginAsync } from "fastify";
import { ALERT_KINDS } from "../intake/alert-store.js";
import type { AlertStore } from "../intake/alert-store.js";
import { hostName } from "./schemas.js";

export interface AlertsPluginOptions {
  alerts: AlertStore;
}

export const alertsPlugin: FastifyPluginAsync<AlertsPluginOptions> = async (app, { alerts }) => {
  app.get<{ Querystring: { host?: string; kind?: string } }>("/api/alerts", {
    schema: {
      querystring: {
        type: "object",
        properties: { host: hostName, kind: { type: "string", enum: [...ALERT_KINDS] } },
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const { host, kind } = req.query;
    const active = alerts.active(host).filter((a) => !kind || a.alert.kind === kind);
    return {
      alerts: active.map(({ host: h, alert: a }) => ({
        // evidence was checked to be a JSON object when the alert was accepted
        host: h, kind: a.kind, subject: a.subject, subjectName: a.subjectName, at: a.atMs, evidence: JSON.parse(a.evidenceJson) as unknown,
      })),
    };
  });
};

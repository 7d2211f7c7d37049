/**
 * Metric history over HTTP, for charts: GET /api/series (one series over a range, min/avg/max per
 * bucket at the resolution the range needs, history/series-query.ts), GET /api/series/batch (up
 * to MAX_BATCH series of one host over one range in one request: a page of charts is one round
 * trip, not one per chart) and GET /api/series/list (the series a host, or one of its guests, has
 * history for). Both are viewer routes (the access
 * control reads `config.role`). Without a history store they answer 503.
 */
import type { FastifyPluginAsync } from "fastify";
import type { HistoryStore } from "../history/history-store.js";
import { querySeries } from "../history/series-query.js";
import { catalogued } from "@ringwatch/shared";
import { HttpError, notFound } from "./errors.js";
import { hostName } from "./schemas.js";

export interface SeriesPluginOptions {
  store: HistoryStore;
  fullDays: number;
  hourlyDays: number;
  /** most rows an answer may hold */
  maxPoints: number;
  /** the clock (tests pass a fixed one) */
  now?: () => number;
}

/** Rows when the caller does not say (a chart a thousand pixels wide). */
export const DEFAULT_POINTS = 1000;
/** Series one batch request may name (a host page's open charts: ~10 per guest). */
export const MAX_BATCH = 100;

const EPOCH_MS = /^\d{1,16}$/;
/** ISO 8601 date-time with a zone (Z or ±hh:mm): a time without one would depend on the CMA's zone. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
export const timeParam = { type: "string", minLength: 1, maxLength: 40, description: "ISO 8601 time with a zone, or ms since the epoch" } as const;
const domainParam = { type: "string", maxLength: 255, description: "guest (domain UUID); empty or absent: the host's own series" } as const;

/** A time parameter as ms since the epoch, or a 400 naming the parameter. */
export function parseTime(name: string, v: string): number {
  const ms = EPOCH_MS.test(v) ? Number(v) : ISO_TIME.test(v) ? Date.parse(v) : NaN;
  if (!Number.isSafeInteger(ms) || ms > 8.64e15) throw new HttpError(400, "bad-request", `querystring/${name} must be an ISO 8601 time with a zone (2026-12-06T01:00:00Z) or ms since the epoch, not ${JSON.stringify(v.slice(0, 40))}`);
  return ms;
}

/** [from, to) from a query's `from` and optional `to` (now by default), or a 400 naming what is wrong. */
export function timeRange(q: { from: string; to?: string }, now: number): { from: number; to: number } {
  const from = parseTime("from", q.from);
  const to = q.to === undefined ? now : parseTime("to", q.to);
  if (from >= to) throw new HttpError(400, "bad-request", `querystring/from must be before to (from ${new Date(from).toISOString()}, to ${new Date(to).toISOString()})`);
  return { from, to };
}

interface SeriesQuerystring { host: string; domain: string; metric: string; from: string; to?: string; points?: number }

export const seriesPlugin: FastifyPluginAsync<SeriesPluginOptions> = async (app, o) => {
  const now = o.now ?? Date.now;
  app.get<{ Querystring: SeriesQuerystring }>("/api/series", {
    config: { role: "viewer" },
    schema: {
      querystring: {
        type: "object",
        properties: {
          host: hostName,
          domain: { ...domainParam, default: "" },
          metric: { type: "string", minLength: 1, maxLength: 255 },
          from: timeParam,
          to: timeParam,
          points: { type: "integer", minimum: 1, maximum: o.maxPoints },
        },
        required: ["host", "metric", "from"],
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const q = req.query;
    const t = now();
    const { from, to } = timeRange(q, t);
    const answer = querySeries(o.store, { host: q.host, domain: q.domain, metric: q.metric, from, to, points: q.points ?? Math.min(DEFAULT_POINTS, o.maxPoints) }, o, t);
    if (!answer) throw notFound(`no history for series ${JSON.stringify(q.metric)} of ${q.domain ? `guest ${q.domain} on ` : ""}host ${q.host} (GET /api/series/list?host=${q.host} lists them)`);
    return answer;
  });

  app.get<{ Querystring: Omit<SeriesQuerystring, "domain" | "metric"> & { series: string[] } }>("/api/series/batch", {
    config: { role: "viewer" },
    schema: {
      querystring: {
        type: "object",
        properties: {
          host: hostName,
          // "<domain UUID>/<metric>"; "/<metric>" for the host's own series
          series: { type: "array", minItems: 1, maxItems: MAX_BATCH, items: { type: "string", pattern: "^[^/]{0,255}/[^/]{1,255}$" } },
          from: timeParam,
          to: timeParam,
          points: { type: "integer", minimum: 1, maximum: o.maxPoints },
        },
        required: ["host", "series", "from"],
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const q = req.query;
    const t = now();
    const { from, to } = timeRange(q, t);
    const points = q.points ?? Math.min(DEFAULT_POINTS, o.maxPoints);
    return {
      host: q.host, from, to,
      series: q.series.map((name) => {
        const [domain, metric] = name.split("/");
        return querySeries(o.store, { host: q.host, domain, metric, from, to, points }, o, t) ?? { host: q.host, domain, metric, error: "not-found", message: `no history for series ${JSON.stringify(metric)}${domain ? ` of guest ${domain}` : ""}` };
      }),
    };
  });

  app.get<{ Querystring: { host: string; domain?: string } }>("/api/series/list", {
    config: { role: "viewer" },
    schema: {
      querystring: { type: "object", properties: { host: hostName, domain: domainParam }, required: ["host"], additionalProperties: false },
    },
  }, async (req) => ({
    host: req.query.host,
    series: o.store.list(req.query.host, req.query.domain).map((s) => ({ domain: s.domain, metric: s.metric, kind: s.kind, unit: catalogued(s.metric)?.entry.unit ?? null })),
  }));
};

/** Without a history store the routes still exist, and say so clearly (503) rather than "no route". */
export const seriesUnavailablePlugin: FastifyPluginAsync = async (app) => {
  const unavailable = async (): Promise<never> => {
    throw new HttpError(503, "unavailable", 'this CMA keeps no metric history (historyStore is "none"): series cannot be charted');
  };
  app.get("/api/series", { config: { role: "viewer" } }, unavailable);
  app.get("/api/series/list", { config: { role: "viewer" } }, unavailable);
  app.get("/api/series/batch", { config: { role: "viewer" } }, unavailable);
};

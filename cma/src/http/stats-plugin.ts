/**
 * The latest stats batch per host over HTTP: a summary per host, and one host's series with
 * min / max / avg back in their units (CPUs, per second, KiB) rather than the wire's integers.
 */
import type { FastifyPluginAsync } from "fastify";
import { dequantize } from "@ringwatch/shared";
import type { StatsStore } from "../intake/stats-store.js";
import { notFound } from "./errors.js";
import { hostParams } from "./schemas.js";

export interface StatsPluginOptions {
  stats: StatsStore;
  /** the hosts to look for batches from (the membership's) */
  hosts: () => string[];
}

export const statsPlugin: FastifyPluginAsync<StatsPluginOptions> = async (app, { stats, hosts }) => {
  app.get("/api/stats", { schema: { querystring: { type: "object", additionalProperties: false } } }, async () => ({
    hosts: hosts().sort().flatMap((host) => {
      const b = stats.latest(host);
      return b ? [{ host, intervalStart: b.intervalStart, intervalMs: b.intervalMs, series: b.series.length, domains: new Set(b.series.map((s) => s.domain)).size }] : [];
    }),
  }));

  app.get<{ Params: { host: string }; Querystring: { domain?: string; metric?: string } }>("/api/stats/:host", {
    schema: {
      params: hostParams,
      querystring: {
        type: "object",
        properties: { domain: { type: "string", maxLength: 255 }, metric: { type: "string", maxLength: 255 } },
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const { host } = req.params;
    const { domain, metric } = req.query;
    const b = stats.latest(host);
    if (!b) throw notFound(`no stats batch from host ${host}`);
    const series = b.series
      .filter((s) => (domain === undefined || s.domain === domain) && (!metric || s.metric === metric || s.metric.startsWith(`${metric}.`)))
      .map((s) => ({
        domain: s.domain, metric: s.metric, kind: s.kind, count: s.data.count,
        min: dequantize(s.kind, s.data.min), max: dequantize(s.kind, s.data.max), avg: dequantize(s.kind, s.data.avg),
      }));
    return { host, intervalStart: b.intervalStart, intervalMs: b.intervalMs, series };
  });
};

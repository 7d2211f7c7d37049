/**
 * Status and health: /api/health answers as long as the process serves requests (for probes and
 * load balancers); /api/status is the CMA's one-line status (hosts by state, every counter),
 * the HTTP API's own counters included.
 */
import type { FastifyPluginAsync } from "fastify";
import type { AccessCounters } from "./access-plugin.js";
import { noQuery } from "./schemas.js";

export interface HttpCounters {
  /** requests answered */
  requests: number;
  /** answered 4xx: bad input, unknown route or query, refused writes */
  rejected: number;
  /** answered 5xx: our own failures and query timeouts */
  failed: number;
}

export interface StatusPluginOptions {
  status: () => Record<string, unknown>;
  counters: HttpCounters;
  /** refusals and sign-ins (access-plugin.ts) */
  access: AccessCounters;
}

export const statusPlugin: FastifyPluginAsync<StatusPluginOptions> = async (app, o) => {
  const started = Date.now();
  app.get("/api/health", { schema: { querystring: noQuery } }, async () => ({ ok: true, uptimeMs: Date.now() - started }));
  app.get("/api/status", { schema: { querystring: noQuery } }, async () => ({ ...o.status(), http: { ...o.counters }, access: { ...o.access, tokensRefused: { ...o.access.tokensRefused } } }));
};

/**
 * The CMA's HTTP API and web UI (fastify): a small core — validation, JSON errors, counters,
 * limits — and one plugin per concern. Read-only: nothing here changes the CMA's state, and graph
 * queries go only through the store's read path. Listens on loopback unless configured otherwise.
 */
import { fastify, LogController } from "fastify";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from "fastify";
import { ConfigError } from "@ringwatch/shared";
import type { Logger } from "@ringwatch/shared";
import type { AlertStore } from "../intake/alert-store.js";
import type { DiscoveryStore } from "../intake/discovery-store.js";
import type { GraphStore } from "../graph/graph-store.js";
import type { InventoryStore } from "../intake/inventory-store.js";
import type { Membership } from "../membership/membership.js";
import type { StatsStore } from "../intake/stats-store.js";
import type { NamedQuery } from "../graph/named-queries.js";
import { alertsPlugin } from "./alerts-plugin.js";
import { discoveryPlugin } from "./discovery-plugin.js";
import { installErrorHandlers } from "./errors.js";
import { graphPlugin, graphUnavailablePlugin } from "./graph-plugin.js";
import { inventoryPlugin } from "./inventory-plugin.js";
import { localUrl } from "./listen-address.js";
import type { ListenAddress } from "./listen-address.js";
import { membershipPlugin } from "./membership-plugin.js";
import { monitoringErrorsPlugin } from "./monitoring-errors-plugin.js";
import type { MonitoringErrors } from "../monitoring-errors/monitoring-errors.js";
import { statsPlugin } from "./stats-plugin.js";
import { seriesPlugin, seriesUnavailablePlugin } from "./series-plugin.js";
import type { HistoryStore } from "../history/history-store.js";
import { statusPlugin } from "./status-plugin.js";
import type { HttpCounters } from "./status-plugin.js";
import { uiPlugin } from "./ui-plugin.js";
import { validatorCompiler } from "./validation.js";

/** What the API reads from: the CMA's parts. */
export interface ApiSources {
  status: () => Record<string, unknown>;
  membership: Membership;
  inventory: InventoryStore;
  alerts: AlertStore;
  discovery: DiscoveryStore;
  stats: StatsStore;
  monitoringErrors: MonitoringErrors;
  graph: { store: GraphStore; queries: Readonly<Record<string, NamedQuery>> } | undefined;
  /** the metric history and its retention (GET /api/series); absent: 503 */
  history?: { store: HistoryStore; fullDays: number; hourlyDays: number; maxPoints: number; now?: () => number };
}

export interface ApiOptions {
  /** most time a graph query may take (and the default) */
  queryTimeoutMs: number;
  /** most rows a graph query returns (and the default) */
  maxRows: number;
  maxBodyBytes: number;
}

/** A client has this long to send its whole request (slow senders must not hold sockets forever). */
const REQUEST_RECEIVE_TIMEOUT_MS = 30_000;

/** The API as a fastify instance, not listening yet (tests use app.inject on it). */
export async function buildApi(sources: ApiSources, o: ApiOptions, log: Logger): Promise<{ app: FastifyInstance; counters: HttpCounters }> {
  const counters: HttpCounters = { requests: 0, rejected: 0, failed: 0 };
  const app = fastify({
    loggerInstance: log as FastifyBaseLogger, // the plain logger type keeps plugins typed against the default instance
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.maxBodyBytes,
    requestTimeout: REQUEST_RECEIVE_TIMEOUT_MS,
    return503OnClosing: true,
    // a URL that cannot be decoded never reaches routing or hooks: answered and counted here
    frameworkErrors: (err, _req, reply) => {
      counters.requests++;
      counters.rejected++;
      void (reply as FastifyReply).code(400).send({ error: "bad-url", message: err.message.slice(0, 300) });
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  installErrorHandlers(app);
  app.addHook("onResponse", async (_req, reply) => {
    counters.requests++;
    if (reply.statusCode >= 500) counters.failed++;
    else if (reply.statusCode >= 400) counters.rejected++;
  });
  await app.register(statusPlugin, { status: sources.status, counters });
  await app.register(membershipPlugin, { membership: sources.membership });
  await app.register(inventoryPlugin, { inventory: sources.inventory });
  await app.register(alertsPlugin, { alerts: sources.alerts });
  await app.register(discoveryPlugin, { discovery: sources.discovery });
  await app.register(monitoringErrorsPlugin, { errors: sources.monitoringErrors });
  await app.register(statsPlugin, { stats: sources.stats, hosts: () => sources.membership.hosts().map((h) => h.name) });
  if (sources.graph) await app.register(graphPlugin, { ...sources.graph, limits: { timeoutMs: o.queryTimeoutMs, maxRows: o.maxRows } });
  else await app.register(graphUnavailablePlugin);
  if (sources.history) await app.register(seriesPlugin, sources.history);
  else await app.register(seriesUnavailablePlugin);
  await app.register(uiPlugin);
  await app.ready();
  return { app, counters };
}

/** The API listening on its configured address. */
export class HttpServer {
  private constructor(
    readonly app: FastifyInstance,
    readonly counters: HttpCounters,
    /** where it listens, with the actual port when 0 was asked for */
    readonly address: ListenAddress,
  ) {}

  get url(): string {
    return localUrl(this.address);
  }

  static async start(listen: ListenAddress, sources: ApiSources, o: ApiOptions, log: Logger): Promise<HttpServer> {
    const { app, counters } = await buildApi(sources, o, log);
    try {
      await app.listen({ host: listen.host, port: listen.port });
    } catch (e) {
      await app.close();
      // the address is the operator's to fix: reported like any other bad configuration value
      throw new ConfigError(`httpListen: cannot listen on ${listen.host}:${listen.port}: ${(e as Error).message}`);
    }
    const a = app.server.address();
    const port = a && typeof a === "object" ? a.port : listen.port;
    return new HttpServer(app, counters, { host: listen.host, port });
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

/**
 * The CMA's HTTP API and web UI (fastify): a small core — validation, JSON errors, counters,
 * limits, access control (access-plugin.ts: every /api route needs a signed-in user or an API
 * token with the route's role) — and one plugin per concern. What changes state: sign-in/out,
 * users and tokens (admin), host maintenance (operator) and removal (admin), host key pins (admin), each audited. Graph
 * queries go only through the store's read path. Optional TLS (cert and key files). Listens on
 * loopback unless configured otherwise.
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
import type { AccessStore } from "../access/access-store.js";
import type { HostControl } from "../membership/host-control.js";
import { accessCounters, installAccess } from "./access-plugin.js";
import type { AccessCounters } from "./access-plugin.js";
import { auditTo, noAudit } from "./audit-hook.js";
import type { AuditLog } from "../audit/audit-log.js";
import { auditPlugin } from "./audit-plugin.js";
import { hostControlPlugin } from "./host-control-plugin.js";
import { hostKeysPlugin } from "./host-keys-plugin.js";
import type { HostAdmission } from "../identity/host-admission.js";
import { domainActionsPlugin } from "./domain-actions-plugin.js";
import type { DomainActions } from "../actions/domain-actions.js";
import type { Ladders } from "../actions/ladder.js";
import { sessionPlugin } from "./session-plugin.js";
import { usersPlugin } from "./users-plugin.js";
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
import type { AlertEventLog } from "../history/alert-events.js";
import { alertHistoryPlugin, alertHistoryUnavailablePlugin } from "./alert-history-plugin.js";
import { statusPlugin } from "./status-plugin.js";
import type { HttpCounters } from "./status-plugin.js";
import { consolePlugin } from "./console-plugin.js";
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
  /** users and API tokens */
  access: AccessStore;
  /** maintenance and removal (the same code as the control socket); no routes without it */
  hostControl?: HostControl;
  /** host key pins and their admin operations (/api/host-keys); absent: no such routes */
  hostKeys?: HostAdmission;
  /** actions on guests (POST /api/domains/:uuid/actions); absent: no such route */
  domainActions?: DomainActions;
  ladders?: Ladders;
  /** where state-changing requests are recorded, and what GET /api/audit reads (admins) */
  audit?: AuditLog;
  /** the metric history and its retention (GET /api/series); absent: 503 */
  history?: { store: HistoryStore; alertEvents?: AlertEventLog; fullDays: number; hourlyDays: number; maxPoints: number; now?: () => number };
}

export interface ApiOptions {
  /** most time a graph query may take (and the default) */
  queryTimeoutMs: number;
  /** most rows a graph query returns (and the default) */
  maxRows: number;
  maxBodyBytes: number;
  /** a session ends this long after sign-in */
  sessionMaxAgeMs: number;
  /** failed sign-ins per user and address within signInWindowMs before 429 */
  signInMaxFailures: number;
  signInWindowMs: number;
  /** serve HTTPS with this certificate and key (PEM); cookies are then Secure */
  tls?: { cert: Buffer; key: Buffer };
}

/** A client has this long to send its whole request (slow senders must not hold sockets forever). */
const REQUEST_RECEIVE_TIMEOUT_MS = 30_000;

/** The API as a fastify instance, not listening yet (tests use app.inject on it). */
/** A registered route and the role it needs (for listing and for tests that must cover every route). */
export interface RouteInfo {
  method: string;
  url: string;
  role: string;
}

export async function buildApi(sources: ApiSources, o: ApiOptions, log: Logger): Promise<{ app: FastifyInstance; counters: HttpCounters; access: AccessCounters; routes: RouteInfo[] }> {
  const counters: HttpCounters = { requests: 0, rejected: 0, failed: 0 };
  const access = accessCounters();
  const audit = sources.audit ? auditTo(sources.audit) : noAudit;
  const app = fastify({
    ...(o.tls ? { https: { cert: o.tls.cert, key: o.tls.key } } : {}),
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
  }) as unknown as FastifyInstance; // over https too: the routes do not care which server carries them
  const routes: RouteInfo[] = [];
  app.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, role: r.config?.role ?? "viewer" });
  });
  app.setValidatorCompiler(validatorCompiler);
  installErrorHandlers(app);
  app.addHook("onResponse", async (_req, reply) => {
    counters.requests++;
    if (reply.statusCode >= 500) counters.failed++;
    else if (reply.statusCode >= 400) counters.rejected++;
  });
  await installAccess(app, {
    store: sources.access, counters: access, secureCookies: !!o.tls, sessionMaxAgeMs: o.sessionMaxAgeMs,
    onForbidden: (req, p, needs) => audit(req, { action: "forbidden", target: `${req.method} ${req.routeOptions.url ?? ""}`, outcome: "denied", detail: { role: p.role, needs } }),
  });
  await app.register(sessionPlugin, { store: sources.access, counters: access, audit, signInMaxFailures: o.signInMaxFailures, signInWindowMs: o.signInWindowMs });
  await app.register(usersPlugin, { store: sources.access, audit });
  if (sources.hostControl) await app.register(hostControlPlugin, { control: sources.hostControl, audit });
  if (sources.hostKeys) await app.register(hostKeysPlugin, { admission: sources.hostKeys, audit });
  if (sources.domainActions) await app.register(domainActionsPlugin, { actions: sources.domainActions, audit, ladders: sources.ladders });
  if (sources.audit) await app.register(auditPlugin, { audit: sources.audit });
  await app.register(statusPlugin, { status: sources.status, counters, access });
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
  if (sources.history?.alertEvents) await app.register(alertHistoryPlugin, { alertEvents: sources.history.alertEvents, now: sources.history.now });
  else await app.register(alertHistoryUnavailablePlugin);
  await app.register(consolePlugin);
  await app.ready();
  return { app, counters, access, routes };
}

/** The API listening on its configured address. */
export class HttpServer {
  private constructor(
    readonly app: FastifyInstance,
    readonly counters: HttpCounters,
    readonly accessCounters: AccessCounters,
    readonly tls: boolean,
    /** where it listens, with the actual port when 0 was asked for */
    readonly address: ListenAddress,
  ) {}

  get url(): string {
    return localUrl(this.address, this.tls);
  }

  static async start(listen: ListenAddress, sources: ApiSources, o: ApiOptions, log: Logger): Promise<HttpServer> {
    const { app, counters, access } = await buildApi(sources, o, log);
    try {
      await app.listen({ host: listen.host, port: listen.port });
    } catch (e) {
      await app.close();
      // the address is the operator's to fix: reported like any other bad configuration value
      throw new ConfigError(`httpListen: cannot listen on ${listen.host}:${listen.port}: ${(e as Error).message}`);
    }
    const a = app.server.address();
    const port = a && typeof a === "object" ? a.port : listen.port;
    return new HttpServer(app, counters, access, !!o.tls, { host: listen.host, port });
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

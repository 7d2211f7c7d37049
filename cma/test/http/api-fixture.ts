/**
 * The CMA's real in-process parts (membership, inventory, alerts, discovery, stats) filled with a
 * small scenario through their own input paths, and the API built over them.
 */
import { StatsBatchSender, compactSamples, metricKind, silentLogger } from "@ringwatch/shared";
import type { FastifyInstance } from "fastify";
import { AlertStore, DiscoveryStore, InventoryStore, Membership, MonitoringErrors, StatsStore } from "../../src/index.js";
import type { HostRecord, HostState } from "../../src/index.js";
import { buildApi } from "../../src/http/server.js";
import type { ApiOptions, ApiSources, RouteInfo } from "../../src/http/server.js";
import type { HttpCounters } from "../../src/http/status-plugin.js";
import type { AccessCounters } from "../../src/http/access-plugin.js";
import { signedIn, tokenStore } from "../support/access.js";
import type { TestAccess } from "../support/access.js";

export const UUID1 = "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b";
export const UUID2 = "0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d";

export function host(name: string, address: string, state: HostState = "alive"): HostRecord {
  const octets = address.split(".");
  return {
    name, machineId: `m-${name}`, address, port: 1984, segment: `${octets.slice(0, 3).join(".")}.0/24`, state, since: 1_700_000_000_000,
    joinedAt: 1_700_000_000_000, version: "0.1.0", assignedKey: "k", unconfirmed: false,
  };
}

export interface Parts {
  membership: Membership;
  inventory: InventoryStore;
  alerts: AlertStore;
  discovery: DiscoveryStore;
  stats: StatsStore;
  monitoringErrors: MonitoringErrors;
}

export function emptyParts(): Parts {
  const log = silentLogger();
  return { membership: new Membership(1), inventory: new InventoryStore(log), alerts: new AlertStore(log), discovery: new DiscoveryStore(log), stats: new StatsStore(log), monitoringErrors: new MonitoringErrors(log) };
}

/** hv1, hv2 alive on 10.0.1.0/24, hv3 dead on 10.0.2.0/24; hv1 runs two domains, has an alert, a discovery document and a stats batch. */
export function scenarioParts(): Parts {
  const p = emptyParts();
  const m = p.membership;
  m.upsert(host("hv1", "10.0.1.1"));
  m.upsert(host("hv2", "10.0.1.2"));
  m.upsert(host("hv3", "10.0.2.1", "dead"));
  m.replan();
  m.record({ type: "hostJoined", host: "hv1", segment: "10.0.1.0/24", address: "10.0.1.1", at: 1000 });
  m.record({ type: "hostJoined", host: "hv2", segment: "10.0.1.0/24", address: "10.0.1.2", at: 2000 });
  m.record({ type: "hostDead", host: "hv3", segment: "10.0.2.0/24", reportedBy: ["hv1"], confirmedBy: "probe", at: 3000 });
  const dom = (uuid: string, name: string, state: string) => ({ uuid, name, state, vcpus: 2, memoryKib: 1 << 20, disks: [{ target: "vda", source: `/var/lib/${name}.qcow2` }], nics: [] });
  p.inventory.apply("hv1", { full: true, domains: [dom(UUID1, "web1", "running"), dom(UUID2, "db1", "shutoff")], removed: [], atMs: 1 });
  p.alerts.apply("hv1", { kind: "vcpuAbuse", subject: UUID1, subjectName: "web1", active: true, evidenceJson: '{"busy":0.99}', atMs: 5000 });
  p.discovery.apply("hv1", { script: "os", atMs: 1, documentJson: JSON.stringify({ discovertype: "os", description: "OS", host: "hv1", source: "os", data: { kernel: "6.1" } }) });
  const start = 1_700_000_000_000;
  const series = [UUID1, UUID2].flatMap((domain) => ["cpu", "net.tap0.tx.bytes"].map((metric) => ({
    domain, metric, kind: metricKind(metric), data: compactSamples(metric === "cpu" ? [250, 500, 1500] : [10, 30], start, start + 2000),
  })));
  const tx = new StatsBatchSender();
  tx.add({ intervalStart: start, intervalMs: 60_000, series });
  p.stats.apply("hv1", tx.drain()[0].bytes);
  return p;
}

/** The API's sources over the parts; `access` holds the users and tokens (by default a fresh store with one admin token). */
export function sources(p: Parts, graph?: ApiSources["graph"], access: TestAccess = tokenStore()): ApiSources {
  return { ...p, status: () => ({ hosts: p.membership.countByState() }), graph, access: access.store };
}

export const API_OPTIONS: ApiOptions = { queryTimeoutMs: 5000, maxRows: 100, maxBodyBytes: 4096, sessionMaxAgeMs: 3600_000, signInMaxFailures: 5, signInWindowMs: 900_000 };

export interface TestApi {
  /** every inject through it carries an admin token (tests of the routes' behaviour) */
  app: FastifyInstance;
  /** the same instance without credentials (tests of access control) */
  bare: FastifyInstance;
  counters: HttpCounters;
  access: AccessCounters;
  credentials: TestAccess;
  routes: RouteInfo[];
}

export async function api(p: Parts, o: Partial<ApiOptions> = {}, graph?: ApiSources["graph"], extra: Partial<ApiSources> = {}): Promise<TestApi> {
  const credentials = tokenStore();
  const built = await buildApi({ ...sources(p, graph, credentials), ...extra }, { ...API_OPTIONS, ...o }, silentLogger());
  return { app: signedIn(built.app, credentials.auth.authorization), bare: built.app, counters: built.counters, access: built.access, credentials, routes: built.routes };
}

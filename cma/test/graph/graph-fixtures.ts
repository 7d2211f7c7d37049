/**
 * Discovery documents captured from the real discovery scripts (fixtures/capture.sh), and a way
 * to feed them, inventory, alerts and membership through the real CMA stores and GraphIngestor
 * into a store under test.
 */
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { silentLogger } from "@ringwatch/shared";
import type { GuestDomain } from "@ringwatch/shared";
import type { AuditEntry } from "../../src/audit/audit-entry.js";
import { AlertStore } from "../../src/intake/alert-store.js";
import { DiscoveryStore } from "../../src/intake/discovery-store.js";
import { InventoryStore } from "../../src/intake/inventory-store.js";
import { Membership } from "../../src/membership/membership.js";
import type { HostRecord, HostState } from "../../src/membership/membership.js";
import { GraphIngestor } from "../../src/graph/graph-ingestor.js";
import { namedQueries } from "../../src/graph/named-queries.js";
import type { GraphStore } from "../../src/graph/graph-store.js";

const FIXTURES = fileURLToPath(new URL("../../../test/graph/fixtures/", import.meta.url));

export type Doc = { discovertype: string; description: string; host: string; source: string; data: Record<string, unknown> };

/** A fresh copy of a captured document (edit it freely). */
export function captured(name: "os" | "cpu-memory" | "nics" | "tcp-services" | "libvirt-domains" | "lldp" | "guest-flows"): Doc {
  return JSON.parse(readFileSync(`${FIXTURES}${name}.json`, "utf8")) as Doc;
}

export class Feed {
  readonly membership = new Membership(1);
  readonly inventory = new InventoryStore(silentLogger());
  readonly alerts = new AlertStore(silentLogger());
  readonly discovery = new DiscoveryStore(silentLogger());
  /** audit entries as AuditLog.entries announces them (forward a real log's here, or emit one) */
  readonly auditEntries = new EventEmitter<{ entry: [AuditEntry] }>();
  readonly ingestor: GraphIngestor;

  constructor(store: GraphStore, maxRows = 2000) {
    this.ingestor = new GraphIngestor(store, { membership: this.membership, inventory: this.inventory, alerts: this.alerts, discovery: this.discovery, audit: this.auditEntries },
      { flushMs: 60_000, maxItems: 1_000_000, maxRows, retryMaxMs: 1000 }, silentLogger());
    this.ingestor.start();
  }

  doc(host: string, d: Doc, atMs = 1_763_700_000_000): boolean {
    return this.discovery.apply(host, { script: d.source, documentJson: JSON.stringify(d), atMs });
  }

  host(name: string, address: string, state: HostState, assigned: string[] = [], segment?: string): void {
    const seg = segment ?? `${address.split(".").slice(0, 3).join(".")}.0/24`;
    const existing = this.membership.get(name);
    const rec: HostRecord = {
      name, machineId: `m-${name}`, address, port: 1984, segment: seg, state, since: 1_763_700_000_000, joinedAt: 1_763_600_000_000, version: "0.1.0",
      assignedKey: assigned.map((n) => `${n}@${this.membership.get(n)?.address ?? "0.0.0.0"}:1984`).join(","), unconfirmed: false,
    };
    if (existing) Object.assign(existing, rec);
    this.membership.upsert(existing ?? rec);
  }

  domain(host: string, d: GuestDomain): void {
    this.inventory.apply(host, { full: false, domains: [d], removed: [], atMs: 0 });
  }

  async flush(): Promise<void> {
    this.membership.replan();
    this.membership.emit("change");
    await this.ingestor.flush();
  }

  async stop(): Promise<void> {
    await this.ingestor.stop();
  }
}

/** A fresh store with a Feed into it for every test of the calling describe block, both closed after it. */
export interface StoreUnderTest {
  readonly store: GraphStore;
  readonly feed: Feed;
  /** every row a read returns (up to 100,000) */
  rows(cypher: string, params?: Record<string, unknown>): Promise<Record<string, unknown>[]>;
  /** a restarted CMA: the feed stopped and a new one (a new ingestor) started on the same store */
  restartFeed(maxRows?: number): Promise<Feed>;
}

export function freshStoreEachTest(makeStore: () => Promise<GraphStore>): StoreUnderTest {
  let store: GraphStore | undefined;
  let feed: Feed | undefined;
  beforeEach(async () => {
    store = await makeStore();
    feed = new Feed(store);
  });
  afterEach(async () => {
    await feed?.stop();
    await store?.close();
  });
  return {
    get store() { return store!; },
    get feed() { return feed!; },
    rows: async (cypher, params) => (await store!.read(cypher, params ?? {}, { maxRows: 100_000 })).rows,
    restartFeed: async (maxRows) => {
      await feed!.stop();
      return (feed = new Feed(store!, maxRows));
    },
  };
}

/** A named query run through `rows`, each parameter at its default unless `params` gives it. */
export function namedQueryRunner(rows: StoreUnderTest["rows"]): (name: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>[]> {
  return (name, params = {}) => {
    const q = namedQueries[name];
    return rows(q.cypher, { ...Object.fromEntries(Object.entries(q.params).map(([k, v]) => [k, v.default])), ...params });
  };
}

/** Everything in the graph as sorted text: two equal snapshots mean nothing changed. */
export async function snapshot(store: GraphStore): Promise<string[]> {
  const nodes = await store.read("MATCH (n) RETURN n", {}, { maxRows: 1_000_000 });
  const rels = await store.read("MATCH (a)-[e]->(b) RETURN a, e, b", {}, { maxRows: 1_000_000 });
  const key = (n: Record<string, unknown>): string => `${String(n._label)}:${String(n.name ?? n.uuid ?? n.key ?? n.address ?? n.id ?? n.seq)}`;
  return [
    ...nodes.rows.map((r) => JSON.stringify(r.n, Object.keys(r.n as object).sort())),
    ...rels.rows.map((r) => `${key(r.a as Record<string, unknown>)} ${JSON.stringify(r.e, Object.keys(r.e as object).sort())} ${key(r.b as Record<string, unknown>)}`),
  ].sort();
}

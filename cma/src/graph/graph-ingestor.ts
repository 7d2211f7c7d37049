/**
 * Feeds the graph from the CMA's in-process stores: membership (hosts, rings, events),
 * inventory, alerts, discovery documents, and recovery actions on guests from the audit log.
 * Handlers only file the latest item per key (a newer document of a type from a host supersedes
 * one still waiting), so the UDP path never waits on
 * the graph. Every flushMs, or sooner once maxItems wait, the items become one write (one
 * transaction). A failed write is retried with backoff and nothing is lost; a write the store
 * refuses as malformed is split so one bad item cannot hold back the others (the bad one is
 * dropped, counted and logged).
 */
import { EventEmitter } from "node:events";
import type { Logger } from "@ringwatch/shared";
import type { AuditEntry } from "../audit/audit-entry.js";
import type { AlertEvent, AlertStore } from "../intake/alert-store.js";
import type { DiscoveryEvent, DiscoveryStore } from "../intake/discovery-store.js";
import type { InventoryEvent, InventoryStore } from "../intake/inventory-store.js";
import type { Membership, MembershipEvent } from "../membership/membership.js";
import { GraphQueryError } from "./graph-store.js";
import type { GraphStore } from "./graph-store.js";
import { alertKey, alertWrites } from "./ingest/alerts.js";
import { discoveryPlugins } from "./ingest/discovery-plugins.js";
import { IngestError } from "./ingest/input.js";
import { inventoryWrites } from "./ingest/inventory.js";
import { RECOVERY_ENTRIES, recoveryActionWrites } from "./ingest/recovery-actions.js";
import { MembershipGraph, eventId, membershipEventWrites } from "./ingest/membership.js";
import type { PendingWrite } from "./ingest/membership.js";
import { OFFERS_WITHOUT_SERVED_BY, UNSETTLED_ADDRESSES, rederive, servedByBackfill } from "./ingest/derived.js";
import { STATED, combine, phased } from "./ingest/phased.js";
import { AddressScopes, HOST_LOCAL_NETWORKS, parseSubnets } from "./ingest/address-scope.js";
import type { HostNetwork } from "./ingest/address-scope.js";
import type { IngestContext } from "./ingest/discovery-ingest.js";
import type { Phased } from "./ingest/phased.js";

export interface GraphIngestorOptions {
  flushMs: number;
  maxItems: number;
  /** rows per UNWIND statement */
  maxRows: number;
  /** longest wait between retries of a failed write */
  retryMaxMs: number;
}

export interface GraphSources {
  membership?: Membership;
  inventory?: InventoryStore;
  alerts?: AlertStore;
  discovery?: DiscoveryStore;
  /** the audit log's durable entries (AuditLog.entries): recovery actions on guests */
  audit?: EventEmitter<{ entry: [AuditEntry] }>;
}

type Item = { key: string; build: () => Phased };

/** Each write's outcome (monitoring errors watch these): ok, or failed with the store's error. */
export type GraphWriteOutcome = { ok: true; items: number } | { ok: false; items: number; error: string; code: string };

const MALFORMED: ReadonlySet<string> = new Set(["syntax", "too-large", "write-refused"]);

export class GraphIngestor {
  /** each write's outcome (monitoring errors watch it) */
  readonly writes = new EventEmitter<{ write: [GraphWriteOutcome] }>();
  readonly counters = { flushes: 0, itemsWritten: 0, writeFailures: 0, retries: 0, refusedDocuments: 0, badEntries: 0, droppedItems: 0, ignoredDocuments: 0, recoveryActions: 0, ignoredActions: 0 };
  private readonly pending = new Map<string, Item>();
  private readonly hostsGraph?: MembershipGraph;
  private hostsDirty = false;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private failures = 0;
  private stopped = false;
  private readonly off: (() => void)[] = [];
  /** which addresses are private to which host; loaded from the graph before the first write */
  readonly scopes = new AddressScopes();
  private scopesLoaded: Promise<void> = Promise.resolve();
  private readonly ctx: IngestContext = { scopes: this.scopes, networksChanged: (host) => this.rekey(host) };

  constructor(
    private readonly store: GraphStore,
    private readonly sources: GraphSources,
    private readonly o: GraphIngestorOptions,
    private readonly log: Logger,
  ) {
    if (sources.membership) this.hostsGraph = new MembershipGraph(sources.membership);
  }

  /** Resolves once what the first write needs from the graph (the hosts' networks) is read. */
  get ready(): Promise<void> {
    return this.scopesLoaded;
  }

  get pendingItems(): number {
    return this.pending.size + (this.hostsDirty ? 1 : 0);
  }

  start(): void {
    const { membership, inventory, alerts, discovery, audit } = this.sources;
    if (membership) {
      const onChange = (): void => this.markHosts();
      const onEvent = (e: MembershipEvent): void => {
        this.add({ key: `e|${eventId(e)}`, build: () => membershipEventWrites(e) });
        this.hostsDirty = true; // assignments (ringsChanged) change hosts without a "change"
      };
      membership.on("change", onChange);
      membership.on("event", onEvent);
      this.off.push(() => membership.off("change", onChange), () => membership.off("event", onEvent));
      this.markHosts(); // hosts restored from a snapshot, and the rings of a previous run to replace
    }
    this.backfillDerived();
    this.scopesLoaded = this.loadScopes();
    if (inventory) {
      const on = (e: InventoryEvent): void => {
        const uuid = e.type === "domainRemoved" ? e.uuid : e.domain.uuid;
        this.add({ key: `i|${e.host}|${uuid.toLowerCase()}`, build: () => inventoryWrites(e, this.scopes) });
      };
      inventory.on("event", on);
      this.off.push(() => inventory.off("event", on));
    }
    if (alerts) {
      const on = (e: AlertEvent): void => this.add({ key: `a|${alertKey(e.host, e.alert.kind, e.alert.subject)}`, build: () => alertWrites(e) });
      alerts.on("event", on);
      this.off.push(() => alerts.off("event", on));
    }
    if (discovery) {
      const on = (e: DiscoveryEvent): void => this.addDocument(e);
      discovery.on("event", on);
      this.off.push(() => discovery.off("event", on));
    }
    if (audit) {
      const on = (e: AuditEntry): void => this.addAuditEntry(e);
      audit.on("entry", on);
      this.off.push(() => audit.off("entry", on));
    }
  }

  /** One audit entry: a recovery action on a guest becomes an item; other entries are not the graph's. */
  addAuditEntry(e: AuditEntry): void {
    if (!e || typeof e !== "object" || !RECOVERY_ENTRIES.has(e.action)) return;
    const writes = recoveryActionWrites(e);
    if (!writes) {
      this.counters.ignoredActions++;
      this.log.debug({ seq: e.seq, action: e.action, target: e.target }, "recovery action names no guest the graph can link: left out");
      return;
    }
    this.counters.recoveryActions++;
    this.add({ key: `r|${e.seq}`, build: () => writes });
  }

  /**
   * Derived facts (ingest/derived.ts) for addresses a crash left between a batch and its derive
   * transaction, or that a graph written before the facts existed never had.
   */
  private backfillDerived(): void {
    void Promise.all(OFFERS_WITHOUT_SERVED_BY.map((q) => this.store.read(q, {}, { timeoutMs: 600_000 }))).then(
      (rs) => {
        const missing = rs.reduce((n, r) => n + Number(r.rows[0]?.n ?? 0), 0);
        if (!missing) return;
        this.log.info({ missing }, "writing SERVED_BY for OFFERS from before it existed");
        this.add({ key: "derived|served-by", build: () => phased({ derive: servedByBackfill() }) });
      },
      (e: unknown) => this.log.warn({ err: e instanceof Error ? e.message : String(e) }, "could not check the graph for SERVED_BY to backfill"),
    );
    this.store.read(UNSETTLED_ADDRESSES, {}, { timeoutMs: 600_000, maxRows: 100_000_000 }).then(
      (r) => {
        const addresses = r.rows.map((x) => String(x.address));
        if (!addresses.length) return;
        this.log.info({ addresses: addresses.length }, "deriving OFFERS and owned again for addresses left unsettled");
        this.add({ key: "derived|unsettled", build: () => phased({ derive: rederive(addresses) }) });
      },
      (e: unknown) => this.log.warn({ err: e instanceof Error ? e.message : String(e) }, "could not check the graph for derived facts to backfill"),
    );
  }

  /** The host-local networks the graph holds, so that a restarted CMA keys addresses as before its restart. */
  private async loadScopes(): Promise<void> {
    try {
      const r = await this.store.read(HOST_LOCAL_NETWORKS, {}, { timeoutMs: 600_000, maxRows: 10_000_000 });
      const byHost = new Map<string, Pick<HostNetwork, "name" | "hostLocal" | "subnets">[]>();
      for (const row of r.rows) {
        const host = String(row.host);
        byHost.set(host, [...(byHost.get(host) ?? []), { name: String(row.name), hostLocal: true, subnets: parseSubnets(String(row.subnets ?? "")) }]);
      }
      for (const [host, nets] of byHost) this.scopes.set(host, nets);
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, "could not read the hosts' networks from the graph: addresses are keyed globally until each host reports its networks");
    }
  }

  /** A host's host-local networks changed: its documents that key addresses are ingested again with the new keys. */
  private rekey(host: string): void {
    for (const type of ["nics", "tcp-services", "guest-flows"]) {
      const e = this.sources.discovery?.event(host, type);
      if (e) this.addDocument(e);
    }
  }

  /** One discovery document (also what the discovery store's events call). */
  addDocument(e: DiscoveryEvent): void {
    const plugin = discoveryPlugins.get(e.document.discovertype);
    if (!plugin) {
      this.counters.ignoredDocuments++;
      return;
    }
    this.add({
      key: `d|${e.host}|${e.document.discovertype}`,
      build: () => plugin.build(e.host, e.document.data, e.at, (why) => {
        this.counters.badEntries++;
        this.log.debug({ host: e.host, discovertype: e.document.discovertype, why }, "discovery entry left out of the graph");
      }, this.ctx),
    });
  }

  private markHosts(): void {
    this.hostsDirty = true;
    this.schedule();
  }

  private add(item: Item): void {
    if (this.stopped) return;
    this.pending.delete(item.key); // re-insert: newest last, so the batch keeps arrival order
    this.pending.set(item.key, item);
    this.schedule();
  }

  private schedule(delayMs?: number): void {
    if (this.stopped || this.running) return;
    const soon = this.pending.size >= this.o.maxItems;
    if (this.timer && !soon && delayMs === undefined) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((e: unknown) => this.log.error({ err: e instanceof Error ? e.message : String(e) }, "graph flush failed"));
    }, soon ? 0 : (delayMs ?? this.o.flushMs));
  }

  /** Write everything pending now; resolves when that write is done (or failed and was re-queued). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    if (!this.pending.size && !this.hostsDirty) return;
    this.running = this.writePending().finally(() => (this.running = undefined));
    await this.running;
    if (this.pendingItems && !this.stopped) this.schedule(this.failures ? Math.min(this.o.retryMaxMs, this.o.flushMs * 2 ** this.failures) : undefined);
  }

  private build(item: Item): Phased | undefined {
    try {
      return item.build();
    } catch (e) {
      this.counters.refusedDocuments++;
      const err = e instanceof Error ? e.message : String(e);
      if (e instanceof IngestError) this.log.warn({ item: item.key, err }, "document refused by the graph ingestion");
      else this.log.error({ item: item.key, err }, "graph ingestion failed on this item; dropped");
      return undefined;
    }
  }

  private async writePending(): Promise<void> {
    await this.scopesLoaded;
    // hosts' networks first: the other documents' addresses are keyed by them (address-scope.ts)
    const items = [...this.pending.values()].sort((a, b) => Number(b.key.endsWith("|libvirt-domains")) - Number(a.key.endsWith("|libvirt-domains")));
    this.pending.clear();
    let hosts: PendingWrite | undefined;
    if (this.hostsDirty) {
      this.hostsDirty = false;
      hosts = this.hostsGraph?.hostWrites();
    }
    const built: { item: Item; writes: Phased }[] = [];
    for (const item of items) {
      const w = this.build(item);
      if (w) built.push({ item, writes: w });
    }
    // hosts first: events, documents and alerts link to them
    const all = [...(hosts ? [hosts.writes] : []), ...built.map((b) => b.writes)];
    if (!all.length) return;
    this.counters.flushes++;
    try {
      await this.writeBatch(all);
      hosts?.committed();
      this.counters.itemsWritten += built.length;
      this.failures = 0;
      this.writes.emit("write", { ok: true, items: built.length });
    } catch (e) {
      this.counters.writeFailures++;
      const code = e instanceof GraphQueryError ? e.code : "store";
      this.log.warn({ err: e instanceof Error ? e.message : String(e), code, items: built.length }, "graph write failed");
      this.writes.emit("write", { ok: false, items: built.length, error: (e instanceof Error ? e.message : String(e)).slice(0, 500), code });
      if (MALFORMED.has(code) && built.length + (hosts ? 1 : 0) > 1) return this.writeOneByOne(hosts, built);
      if (MALFORMED.has(code)) {
        this.drop(built.map((b) => b.item), e);
        return;
      }
      this.failures++;
      this.counters.retries++;
      this.requeue(built.map((b) => b.item), hosts !== undefined);
    }
  }

  /**
   * What the items state in one transaction, then the facts derived from it (ingest/derived.ts)
   * in a second: in the same transaction as the writes that created the nodes, Kuzu 0.11 bound
   * the OFFERS MERGEs to wrong nodes (137 of 900 wrong at 300 hosts in bench/graph.bench.ts).
   * A failure of either is retried whole; every write is idempotent.
   */
  private async writeBatch(items: readonly Phased[]): Promise<void> {
    const stated = combine(items, this.o.maxRows, STATED);
    if (stated.length) await this.store.write(stated);
    const derive = combine(items, this.o.maxRows, ["derive"]);
    if (derive.length) await this.store.write(derive);
  }

  /** A malformed batch: each item alone, so only the bad one is lost. */
  private async writeOneByOne(hosts: PendingWrite | undefined, built: { item: Item; writes: Phased }[]): Promise<void> {
    const parts: { items: Item[]; hosts?: PendingWrite; writes: Phased }[] = [
      ...(hosts ? [{ items: [], hosts, writes: hosts.writes }] : []),
      ...built.map((b) => ({ items: [b.item], writes: b.writes })),
    ];
    for (const p of parts) {
      try {
        await this.writeBatch([p.writes]);
        p.hosts?.committed();
        this.counters.itemsWritten += p.items.length;
      } catch (e) {
        const code = e instanceof GraphQueryError ? e.code : "store";
        if (MALFORMED.has(code)) this.drop(p.items, e);
        else {
          this.failures++;
          this.counters.retries++;
          this.requeue(p.items, p.hosts !== undefined);
        }
      }
    }
  }

  private drop(items: Item[], e: unknown): void {
    this.counters.droppedItems += items.length;
    this.log.error({ items: items.map((i) => i.key).slice(0, 10), err: e instanceof Error ? e.message : String(e) }, "graph refused these items; dropped");
  }

  private requeue(items: Item[], hosts: boolean): void {
    for (const it of items) if (!this.pending.has(it.key)) this.pending.set(it.key, it); // a newer one supersedes
    if (hosts) this.hostsDirty = true;
  }

  /** Unsubscribe and write what is pending (once; a failure then is logged, not retried). */
  async stop(): Promise<void> {
    for (const off of this.off.splice(0)) off();
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
    this.stopped = true;
    if (this.pendingItems) {
      this.running = this.writePending().finally(() => (this.running = undefined));
      await this.running;
    }
    if (this.pendingItems) this.log.warn({ pending: this.pendingItems }, "graph items not written at stop");
  }
}

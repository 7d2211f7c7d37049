/**
 * The CMA process: one endpoint (unicast + the multicast group), each message decoded once and
 * handed to the service it concerns: rings (membership) or the guest inventory. What the stores
 * learn is fed to the topology graph (`graph`, unless graphStore is "none").
 */
import type { KeyObject } from "node:crypto";
import { Endpoint, decodeInbound } from "@ringwatch/shared";
import type { InboundMessage, Keyring, Logger } from "@ringwatch/shared";
import type { CmaConfig } from "./config.js";
import { AlertStore } from "./alerts/alert-store.js";
import { DiscoveryStore } from "./discovery/discovery-store.js";
import { StatsStore } from "./stats/stats-store.js";
import { InventoryStore } from "./inventory/inventory-store.js";
import { RingService } from "./membership/ring-service.js";
import type { GraphStore } from "./graph/graph-store.js";
import { GraphIngestor } from "./graph/graph-ingestor.js";
import { openGraphStore } from "./graph/open-store.js";

export class Cma {
  readonly counters = { badMessages: 0 };

  private constructor(
    readonly endpoint: Endpoint,
    readonly rings: RingService,
    readonly inventory: InventoryStore,
    readonly alerts: AlertStore,
    readonly discovery: DiscoveryStore,
    readonly stats: StatsStore,
    private readonly log: Logger,
    /** the topology graph (read it with graph.read; the ingestor writes it); undefined when graphStore is "none" */
    readonly graph?: GraphStore,
    readonly graphIngestor?: GraphIngestor,
  ) {
    endpoint.on("message", (m) => this.dispatch(m));
    inventory.on("event", (e) => log.info({ ...e }, "inventory event"));
    alerts.on("event", (e) => log.info({ host: e.host, change: e.change, ...e.alert }, "alert event"));
    discovery.on("event", (e) => log.info({ host: e.host, script: e.script, discovertype: e.document.discovertype }, "discovery event"));
  }

  static async start(cfg: CmaConfig, deps: { keyring: Keyring; commandKey: KeyObject; log: Logger }): Promise<Cma> {
    const endpoint = await Endpoint.open({
      identity: cfg.identity, keyring: deps.keyring, bindAddress: cfg.bindAddress, port: cfg.port, log: deps.log, reuseAddr: true,
      multicast: cfg.multicastGroup ? { group: cfg.multicastGroup, interfaceAddress: cfg.multicastInterface || undefined, join: true, ttl: 1 } : undefined,
    });
    const rings = new RingService(endpoint, deps.commandKey, {
      heartbeatMs: cfg.heartbeatMs, warntimeMs: cfg.warntimeMs, deadtimeMs: cfg.deadtimeMs, ringsPerSegment: cfg.ringsPerSegment === 2 ? 2 : 1,
      segmentPrefixLength: cfg.segmentPrefixLength, probeAttempts: cfg.probeAttempts, probeIntervalMs: cfg.probeIntervalMs,
      reannounceGraceMs: cfg.reannounceGraceMs, segmentRecheckMs: cfg.segmentRecheckMs, dataDir: cfg.dataDir || undefined,
      multicast: cfg.multicastGroup ? { address: cfg.multicastGroup, port: cfg.port } : undefined,
    }, deps.log, false);
    const inventory = new InventoryStore(deps.log), alerts = new AlertStore(deps.log), discovery = new DiscoveryStore(deps.log);
    let graph: GraphStore | undefined, ingestor: GraphIngestor | undefined;
    try {
      graph = openGraphStore(cfg, process.env, deps.log);
      await graph?.init();
    } catch (e) {
      rings.stop();
      await endpoint.close();
      await graph?.close().catch(() => undefined);
      throw e;
    }
    if (graph) {
      ingestor = new GraphIngestor(graph, { membership: rings.membership, inventory, alerts, discovery }, {
        flushMs: cfg.graphFlushMs, maxItems: cfg.graphFlushItems, maxRows: 5000, retryMaxMs: cfg.graphRetryMaxMs,
      }, deps.log);
      ingestor.start();
    }
    const cma = new Cma(endpoint, rings, inventory, alerts, discovery, new StatsStore(deps.log), deps.log, graph, ingestor);
    rings.start();
    return cma;
  }

  private dispatch(m: InboundMessage): void {
    const env = decodeInbound(m, this.log);
    if (!env) {
      this.counters.badMessages++;
      return;
    }
    if ((env.inventory || env.alert || env.discovery || env.stats) && m.reliable) {
      // only from a host the rings know, at the address it is known by
      const h = this.rings.membership.get(m.from.id);
      if (!h || h.address !== m.from.address || h.port !== m.from.port) this.counters.badMessages++;
      else if (env.inventory) this.inventory.apply(h.name, env.inventory);
      else if (env.alert) this.alerts.apply(h.name, env.alert);
      else if (env.discovery) this.discovery.apply(h.name, env.discovery);
      else this.stats.apply(h.name, env.stats!.batch);
      return;
    }
    if (!this.rings.handle(m, env)) {
      this.counters.badMessages++;
      this.log.debug({ from: m.from.id, body: env.body, reliable: m.reliable }, "unexpected message dropped");
    }
  }

  status(): Record<string, unknown> {
    return {
      hosts: this.rings.membership.countByState(), counters: this.rings.counters, badMessages: this.counters.badMessages,
      inventory: this.inventory.counters, alerts: this.alerts.counters, discovery: this.discovery.counters, stats: this.stats.counters, probesSent: this.rings.prober.probesSent, channel: this.endpoint.counters,
      graph: this.graphIngestor ? { store: this.graph!.kind, pending: this.graphIngestor.pendingItems, ...this.graphIngestor.counters } : null,
    };
  }

  async stop(): Promise<void> {
    this.rings.stop();
    await this.endpoint.close();
    await this.graphIngestor?.stop();
    await this.graph?.close();
  }
}

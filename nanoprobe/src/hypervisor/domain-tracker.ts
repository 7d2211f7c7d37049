/**
 * Continuous domain discovery: the set of domains at start, then appear / change / disappear from
 * lifecycle events (at once) and from every sampling pass (a domain seen in stats but not tracked,
 * or tracked but gone). Each change carries what the inventory needs: uuid, name, state, vCPUs,
 * memory, disks (target, source), NICs (target, MAC, bridge or network).
 */
import { EventEmitter } from "node:events";
import type { Logger } from "@ringwatch/shared";
import type { LibvirtConnection, LifecycleEvent } from "@ringwatch/libvirt";

export interface TrackedDomain {
  uuid: string;
  name: string;
  state: string;
  vcpus: number;
  memoryKiB: number;
  disks: { target: string; source: string }[];
  nics: { target: string; mac: string; bridge: string; network: string }[];
  tags: string[];
}

export type DomainChange =
  | { kind: "appeared" | "changed"; domain: TrackedDomain }
  | { kind: "disappeared"; uuid: string; name: string };

export interface DomainTrackerEvents {
  changes: [DomainChange[]];
  error: [Error];
}

function sameDomain(a: TrackedDomain, b: TrackedDomain): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class DomainTracker extends EventEmitter<DomainTrackerEvents> {
  private domains = new Map<string, TrackedDomain>();
  private refreshing: Promise<DomainChange[]> | undefined;
  private again = false;
  refreshes = 0;

  constructor(
    private readonly conn: LibvirtConnection,
    private readonly log: Logger,
  ) {
    super();
  }

  get size(): number {
    return this.domains.size;
  }

  snapshot(): TrackedDomain[] {
    return [...this.domains.values()];
  }

  get(uuid: string): TrackedDomain | undefined {
    return this.domains.get(uuid);
  }

  /** Subscribe to lifecycle events: every event triggers a refresh (listing is ~0.3 ms). */
  async watch(): Promise<void> {
    this.conn.events.on("lifecycle", (e: LifecycleEvent) => {
      this.log.debug({ domain: e.name, event: e.event, detail: e.detailName }, "lifecycle event");
      void this.refresh().catch(() => undefined);
    });
    await this.conn.watchLifecycle();
  }

  /** A sampling pass saw these domains: refresh when the set differs from what we track. */
  observe(uuids: Iterable<string>): void {
    const seen = new Set(uuids);
    // stats list active domains; tracked inactive ones are not missing
    let differs = false;
    for (const u of seen) if (!this.domains.has(u)) differs = true;
    for (const d of this.domains.values()) if (d.state === "running" && !seen.has(d.uuid)) differs = true;
    if (differs) void this.refresh().catch(() => undefined);
  }

  /** Re-read the domain list; concurrent calls share one pass (and one more if asked meanwhile). */
  refresh(): Promise<DomainChange[]> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.doRefresh().finally(() => {
      this.refreshing = undefined;
      if (this.again) {
        this.again = false;
        void this.refresh().catch(() => undefined);
      }
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<DomainChange[]> {
    this.refreshes++;
    let inv;
    try {
      inv = await this.conn.inventory();
    } catch (e) {
      this.emit("error", e as Error);
      throw e;
    }
    const next = new Map<string, TrackedDomain>();
    for (const d of inv) {
      next.set(d.uuid, {
        uuid: d.uuid, name: d.name, state: d.state, vcpus: d.vcpus, memoryKiB: d.memoryKiB,
        disks: d.devices.disks.map((x) => ({ target: x.target, source: x.source ?? "" })),
        nics: d.devices.nics.map((x) => ({ target: x.target ?? "", mac: x.mac ?? "", bridge: x.bridge ?? "", network: x.network ?? "" })),
        tags: d.devices.tags,
      });
    }
    const changes: DomainChange[] = [];
    for (const [uuid, d] of next) {
      const old = this.domains.get(uuid);
      if (!old) changes.push({ kind: "appeared", domain: d });
      else if (!sameDomain(old, d)) changes.push({ kind: "changed", domain: d });
    }
    for (const [uuid, d] of this.domains) if (!next.has(uuid)) changes.push({ kind: "disappeared", uuid, name: d.name });
    this.domains = next;
    if (changes.length > 0) {
      this.log.debug({ changes: changes.map((c) => `${c.kind}:${c.kind === "disappeared" ? c.name : c.domain.name}`) }, "domain set changed");
      this.emit("changes", changes);
    }
    return changes;
  }
}

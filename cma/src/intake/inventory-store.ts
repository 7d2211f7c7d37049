/**
 * Guest inventory per hypervisor, as the nanoprobes report it: full sets replace, changes patch.
 * Validated before use (a host's report never changes another host's guests). Emits domain events
 * for the graph, Zabbix LLD and the web UI: appeared, changed (state, devices), removed.
 */
import { EventEmitter } from "node:events";
import { MAX_TAGS, TAG_RE } from "@ringwatch/shared";
import type { DomainInventory, GuestDomain, Logger } from "@ringwatch/shared";

export type InventoryEvent =
  | { type: "domainAppeared" | "domainChanged"; host: string; domain: GuestDomain; at: number }
  | { type: "domainRemoved"; host: string; uuid: string; name: string; at: number };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const INVENTORY_LIMITS = { domainsPerHost: 10_000, devicesPerDomain: 256, textLength: 4096 };

export function validateInventory(inv: DomainInventory): string | undefined {
  if (inv.domains.length > INVENTORY_LIMITS.domainsPerHost) return `too many domains (${inv.domains.length})`;
  if (inv.removed.length > INVENTORY_LIMITS.domainsPerHost) return "too many removals";
  for (const d of inv.domains) {
    if (!UUID_RE.test(d.uuid)) return `bad domain uuid ${JSON.stringify(d.uuid).slice(0, 60)}`;
    if (!d.name || d.name.length > 255) return `bad domain name for ${d.uuid}`;
    if (d.disks.length > INVENTORY_LIMITS.devicesPerDomain || d.nics.length > INVENTORY_LIMITS.devicesPerDomain) return `too many devices on ${d.name}`;
    if (d.tags && (d.tags.length > MAX_TAGS || d.tags.some((t) => !TAG_RE.test(t)))) return `bad tags on ${d.name}`;
    const texts = [d.state, ...d.disks.flatMap((x) => [x.target, x.source]), ...d.nics.flatMap((x) => [x.target, x.mac, x.bridge, x.network])];
    if (texts.some((t) => t.length > INVENTORY_LIMITS.textLength)) return `oversized field on ${d.name}`;
  }
  for (const u of inv.removed) if (!UUID_RE.test(u)) return `bad removed uuid ${JSON.stringify(u).slice(0, 60)}`;
  return undefined;
}

export class InventoryStore extends EventEmitter<{ event: [InventoryEvent] }> {
  private readonly byHost = new Map<string, Map<string, GuestDomain>>();
  readonly counters = { fullInventories: 0, changeInventories: 0, refused: 0 };

  constructor(private readonly log: Logger) {
    super();
  }

  domains(host: string): GuestDomain[] {
    return [...(this.byHost.get(host)?.values() ?? [])];
  }

  hosts(): string[] {
    return [...this.byHost.keys()];
  }

  /** Which host runs this domain now (a migrated domain moves). */
  hostOf(uuid: string): string | undefined {
    for (const [h, m] of this.byHost) if (m.has(uuid)) return h;
    return undefined;
  }

  /** A removed host leaves the active views; no events: the graph keeps its history as it was. */
  forget(host: string): void {
    this.byHost.delete(host);
  }

  apply(host: string, inv: DomainInventory): boolean {
    const err = validateInventory(inv);
    if (err) {
      this.counters.refused++;
      this.log.warn({ host, err }, "inventory refused");
      return false;
    }
    const at = Date.now();
    const cur = this.byHost.get(host) ?? new Map<string, GuestDomain>();
    this.byHost.set(host, cur);
    if (inv.full) this.counters.fullInventories++;
    else this.counters.changeInventories++;
    const listed = new Set<string>();
    for (const d of inv.domains) {
      listed.add(d.uuid);
      const old = cur.get(d.uuid);
      cur.set(d.uuid, d);
      if (!old) this.emit("event", { type: "domainAppeared", host, domain: d, at });
      else if (JSON.stringify(old) !== JSON.stringify(d)) this.emit("event", { type: "domainChanged", host, domain: d, at });
    }
    const gone = inv.full ? [...cur.keys()].filter((u) => !listed.has(u)) : inv.removed;
    for (const u of gone) {
      const old = cur.get(u);
      if (!old) continue;
      cur.delete(u);
      this.emit("event", { type: "domainRemoved", host, uuid: u, name: old.name, at });
    }
    return true;
  }
}

/**
 * Guest inventory → the low-level discovery values of the four trapper rules, guest counts and
 * states. Guests that are new or have new devices make the holdback wait for their discovery.
 */
import type { GuestDomain } from "@ringwatch/shared";
import type { InventoryEvent, InventoryStore } from "../../intake/inventory-store.js";
import { KEYS, guestHostName, guestStateKey, lldRows, zabbixHostName } from "../config/definitions.js";
import type { ZabbixValue } from "../sender/zabbix-value.js";
import { clockOf } from "./clock.js";
import { lldHost } from "./translator-context.js";
import type { TranslatorContext } from "./translator-context.js";

export class InventoryTranslator {
  private readonly lldTimers = new Map<string, NodeJS.Timeout>();
  /** per Zabbix host: the LLD rows last pushed, per guest uuid (to see which guests are new or changed) */
  private readonly lastLld = new Map<string, Map<string, string>>();

  constructor(
    private readonly inventory: InventoryStore,
    private readonly ctx: TranslatorContext,
    private readonly configCacheDelayMs: number,
  ) {}

  onEvent(e: InventoryEvent): void {
    // one full inventory is many events: push the host's discovery once, a moment later
    if (this.lldTimers.has(e.host)) return;
    const t = setTimeout(() => {
      this.lldTimers.delete(e.host);
      if (this.ctx.hostPerDomain && e.type === "domainAppeared") this.ctx.scheduleSync({ templates: false });
      this.pushInventory(e.host);
    }, 200);
    t.unref();
    this.lldTimers.set(e.host, t);
  }

  stop(): void {
    for (const t of this.lldTimers.values()) clearTimeout(t);
    this.lldTimers.clear();
  }

  /** Has this host's discovery been pushed (since it was last forgotten)? */
  pushed(host: string): boolean {
    return this.lastLld.has(lldHost(this.ctx, host, undefined));
  }

  /** All guests of this Zabbix host count as new again. */
  forget(zabbixHost: string): void {
    this.lastLld.delete(zabbixHost);
  }

  pushInventory(host: string): void {
    if (this.ctx.stopped()) return;
    const domains = this.inventory.domains(host);
    const now = Date.now();
    const { clock, ns } = clockOf(now);
    const z = zabbixHostName(host);
    const running = domains.filter((d) => d.state === "running").length;
    this.ctx.emit(z, undefined, [
      { host: z, key: KEYS.domainsTotal, value: domains.length, clock, ns },
      { host: z, key: KEYS.domainsRunning, value: running, clock, ns },
    ]);
    const groups: [string, GuestDomain[]][] = this.ctx.hostPerDomain ? domains.map((d) => [guestHostName(d.uuid), [d]]) : [[z, domains]];
    for (const [target, ds] of groups) this.pushLld(target, ds, clock, ns);
  }

  private pushLld(target: string, domains: GuestDomain[], clock: number, ns: number): void {
    const { rows, skippedDevices } = lldRows(domains);
    this.ctx.counters.skippedDevices += skippedDevices;
    const before = this.lastLld.get(target) ?? new Map<string, string>();
    const now = new Map(domains.map((d) => [d.uuid.toLowerCase(), JSON.stringify([d.name, d.vcpus, d.disks, d.nics])]));
    const values: ZabbixValue[] = Object.entries(rows).map(([key, r]) => ({ host: target, key, value: JSON.stringify(r), clock, ns }));
    this.ctx.counters.lldValues += values.length;
    this.ctx.emit(target, undefined, values);
    // guests new or with new devices: their items exist after the LLD worker and the next cache update
    for (const [uuid, shape] of now) {
      if (before.get(uuid) !== shape && !(before.size === 0 && this.ctx.holdback.isReady(target, uuid))) this.ctx.holdback.guestDiscovered(target, uuid, this.configCacheDelayMs);
    }
    for (const uuid of before.keys()) if (!now.has(uuid)) this.ctx.holdback.forgetGuest(target, uuid);
    this.lastLld.set(target, now);
    const states = domains.map((d) => ({ host: target, key: guestStateKey(d.uuid.toLowerCase()), value: d.state, clock, ns }));
    for (const v of states) this.ctx.emit(target, v.key.slice(v.key.indexOf("[") + 1, -1), [v]);
  }
}

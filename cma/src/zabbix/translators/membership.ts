/**
 * Ring membership → ringwatch.host.state (1 up, 0 dead, 2 left, 3 segment unreachable, 4 maintenance,
 * 5 removed) at once, and refreshed every stateRefreshMs (the host-down trigger's nodata backstop),
 * plus the event as JSON. A removed host gets its last value (removed) before the sync disables it.
 */
import type { Membership, MembershipEvent } from "../../membership/membership.js";
import { HOST_STATE_VALUE, KEYS, zabbixHostName } from "../config/definitions.js";
import type { ZabbixValue } from "../sender/zabbix-value.js";
import { clockOf } from "./clock.js";
import type { TranslatorContext } from "./translator-context.js";

const MEMBERSHIP_HOSTS: Partial<Record<MembershipEvent["type"], (e: MembershipEvent) => string[]>> = {
  hostJoined: (e) => [(e as { host: string }).host],
  hostReturned: (e) => [(e as { host: string }).host],
  hostLeft: (e) => [(e as { host: string }).host],
  hostDead: (e) => [(e as { host: string }).host],
  deathNotConfirmed: (e) => [(e as { host: string }).host],
  segmentSuspected: (e) => (e as { hosts: string[] }).hosts,
  segmentRecovered: (e) => (e as { hosts: string[] }).hosts,
  maintenanceStarted: (e) => [(e as { host: string }).host],
  maintenanceEnded: (e) => [(e as { host: string }).host],
  hostDownInMaintenance: (e) => [(e as { host: string }).host],
  hostRemoved: (e) => [(e as { host: string }).host],
};

export class MembershipTranslator {
  constructor(
    private readonly membership: Membership,
    private readonly ctx: TranslatorContext,
  ) {}

  onEvent(e: MembershipEvent): void {
    const hosts = MEMBERSHIP_HOSTS[e.type]?.(e);
    if (!hosts) return;
    for (const host of hosts) {
      // (a removal's sync, which disables the host, comes from the bridge once this value went out)
      if (e.type !== "hostRemoved" && !this.ctx.holdback.isReady(zabbixHostName(host))) this.ctx.scheduleSync({ templates: false });
      this.pushState(host, e.at, JSON.stringify(e));
    }
  }

  pushState(host: string, atMs: number, eventJson?: string): void {
    const h = this.membership.get(host) ?? (this.membership.isRemoved(host) ? { state: "removed" as const } : undefined);
    if (!h) return;
    const z = zabbixHostName(host);
    const { clock, ns } = clockOf(atMs);
    const values: ZabbixValue[] = [];
    if (eventJson !== undefined) values.push({ host: z, key: KEYS.hostEvent, value: eventJson, clock, ns });
    values.push({ host: z, key: KEYS.hostState, value: HOST_STATE_VALUE[h.state], clock, ns });
    this.ctx.counters.stateValues++;
    this.ctx.emit(z, undefined, values);
  }

  pushAllStates(): void {
    const now = Date.now();
    for (const h of this.membership.hosts()) this.pushState(h.name, now);
  }
}

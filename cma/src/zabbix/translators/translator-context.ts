/**
 * What the bridge's four translators (membership, inventory, stats, alerts) share with the bridge:
 * one set of counters, the holdback, the way values go out, and the way to ask for a
 * configuration sync. Each translator turns one kind of CMA event into Zabbix values.
 */
import type { Logger } from "@ringwatch/shared";
import { guestHostName, zabbixHostName } from "../config/definitions.js";
import type { Holdback } from "../holdback.js";
import type { ZabbixValue } from "../sender/zabbix-value.js";

/** What the bridge counts (its status and the tests read these). */
export interface BridgeCounters {
  values: number;
  stateValues: number;
  lldValues: number;
  statValues: number;
  alertValues: number;
  /** ladder levels and steps, actions on guests */
  recoveryValues: number;
  unmappedSeries: number;
  skippedDevices: number;
  badAlerts: number;
  syncs: number;
  syncFailures: number;
  unknownReports: number;
}

export interface TranslatorContext {
  readonly counters: BridgeCounters;
  readonly holdback: Holdback;
  readonly log: Logger;
  /** one Zabbix host per guest (an option) instead of every guest's items on its hypervisor */
  readonly hostPerDomain: boolean;
  /** true once the bridge stopped: nothing more goes out */
  stopped(): boolean;
  /** Values for one Zabbix host (and guest, when they wait for its discovery) to the holdback. */
  emit(host: string, guest: string | undefined, values: ZabbixValue[]): void;
  scheduleSync(what: { templates: boolean }): void;
}

/** The Zabbix host a guest's items live on. */
export function lldHost(ctx: Pick<TranslatorContext, "hostPerDomain">, host: string, uuid: string | undefined): string {
  return ctx.hostPerDomain && uuid ? guestHostName(uuid) : zabbixHostName(host);
}

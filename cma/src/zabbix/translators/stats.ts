/**
 * Stats batches → one value per compacted value: the compacted multiset keeps each interval's
 * min/max/avg exact, and its values are placed inside the span of the raw samples (placeInTime),
 * so Zabbix's min/avg/max over the report interval equal the raw samples'. A series that maps to
 * no item (seriesItem, from the metric catalogue) is counted in unmappedSeries, not sent.
 */
import { placeInTime } from "@ringwatch/shared";
import type { StatsEvent } from "../../intake/stats-store.js";
import { guestHostName, seriesItem, zabbixHostName } from "../config/definitions.js";
import type { ZabbixValue } from "../sender/zabbix-value.js";
import { clockOf } from "./clock.js";
import type { TranslatorContext } from "./translator-context.js";

/** Zabbix keeps one value per item and (clock, ns): nudge equal stamps apart by a nanosecond. */
function strictlyIncreasing(values: ZabbixValue[]): void {
  for (let i = 1; i < values.length; i++) {
    const p = values[i - 1];
    const v = values[i];
    if (v.clock < p.clock || (v.clock === p.clock && v.ns <= p.ns)) {
      v.clock = p.clock + (p.ns === 999_999_999 ? 1 : 0);
      v.ns = p.ns === 999_999_999 ? 0 : p.ns + 1;
    }
  }
}

export class StatsTranslator {
  constructor(private readonly ctx: TranslatorContext) {}

  onEvent(e: StatsEvent): void {
    const hv = zabbixHostName(e.host);
    const byTarget = new Map<string, { host: string; guest: string; values: ZabbixValue[] }>();
    for (const s of e.batch.series) {
      const item = seriesItem(s.domain, s.metric);
      if (!item) {
        this.ctx.counters.unmappedSeries++;
        continue;
      }
      const host = this.ctx.hostPerDomain ? guestHostName(s.domain) : hv;
      const values: ZabbixValue[] = placeInTime(s.data).map((p) => ({ host, key: item.key, value: item.value(p.value), ...clockOf(p.time) }));
      strictlyIncreasing(values);
      const t = `${host}\u0000${s.domain}`;
      const g = byTarget.get(t) ?? { host, guest: s.domain, values: [] };
      g.values.push(...values);
      byTarget.set(t, g);
      this.ctx.counters.statValues += values.length;
    }
    for (const g of byTarget.values()) this.ctx.emit(g.host, g.guest, g.values);
  }
}

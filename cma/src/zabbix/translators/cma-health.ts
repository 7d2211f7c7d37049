/**
 * The CMA's own health → its own Zabbix host: a heartbeat (the CMA's uptime in seconds) sent right
 * after every refresh of the hypervisors' states, so that when the CMA comes back Zabbix has the
 * hosts' states before the "not reporting" problem they depend on resolves; and the CMA-side
 * monitoring errors (stats batches refused, sender drops, graph writes failing, host key mismatches) as one number
 * per source plus the detail as JSON, pushed at once when one is raised or cleared and with each heartbeat.
 */
import { CMA_SIDE_SOURCES } from "../../monitoring-errors/monitoring-errors.js";
import type { MonitoringErrorEvent, MonitoringErrors } from "../../monitoring-errors/monitoring-errors.js";
import { CMA_KEYS } from "../config/definitions.js";
import type { ZabbixValue } from "../sender/zabbix-value.js";
import { clockOf } from "./clock.js";
import type { TranslatorContext } from "./translator-context.js";

const CMA_SIDE: ReadonlySet<string> = new Set(CMA_SIDE_SOURCES);

export class CmaHealthTranslator {
  constructor(
    private readonly ctx: TranslatorContext,
    /** the CMA's Zabbix host */
    private readonly host: string,
    private readonly errors: MonitoringErrors | undefined,
    private readonly startedAt: number = Date.now(),
  ) {}

  onEvent(e: MonitoringErrorEvent): void {
    // raised or cleared at once; updates (more drops, more refused batches) ride with the next heartbeat,
    // so a host sending garbage cannot turn into a flood of values
    if (CMA_SIDE.has(e.error.source) && e.change !== "updated") this.pushErrors();
  }

  pushHeartbeat(now = Date.now()): void {
    const { clock, ns } = clockOf(now);
    this.ctx.emit(this.host, undefined, [{ host: this.host, key: CMA_KEYS.heartbeat, value: Math.max(0, Math.floor((now - this.startedAt) / 1000)), clock, ns }]);
    this.pushErrors(now);
  }

  pushErrors(now = Date.now()): void {
    if (!this.errors) return;
    const active = this.errors.active().filter((e) => CMA_SIDE.has(e.source));
    const of = (source: string) => active.filter((e) => e.source === source);
    const dropped = of("senderDropped").reduce((n, e) => n + Number(e.evidence.dropped ?? 0), 0);
    const { clock, ns } = clockOf(now);
    const v = (key: string, value: string | number): ZabbixValue => ({ host: this.host, key, value, clock, ns });
    const detail = active.map((e) => ({ host: e.host, source: e.source, subject: e.subject, since: new Date(e.since).toISOString(), evidence: e.evidence }));
    this.ctx.emit(this.host, undefined, [
      v(CMA_KEYS.errorsDetail, JSON.stringify(detail)),
      v(CMA_KEYS.statsRefused, of("statsRefused").length),
      v(CMA_KEYS.senderDropped, dropped),
      v(CMA_KEYS.graphWrites, of("graphWrite").length > 0 ? 1 : 0),
      v(CMA_KEYS.hostKeyMismatchSummary, of("hostKeyMismatch").map((e) => String(e.evidence.summary ?? `host key mismatch for ${e.host}`)).join("; ")),
      v(CMA_KEYS.hostKeyMismatches, of("hostKeyMismatch").length),
    ]);
  }
}

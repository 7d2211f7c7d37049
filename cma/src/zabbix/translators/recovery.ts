/**
 * Recovery on guests → Zabbix (issue 14, item 6): the escalation ladder's level and last step at
 * each step and at its end (the level's triggers make problems of rising severity), and every
 * action on a guest from the audit log — by a person, the ladder or a Zabbix script — as the
 * guest's "last recovery action". The audit log is the source for actions because every path
 * writes there, and only once the entry is durable.
 */
import type { AuditEntry } from "../../audit/audit-entry.js";
import type { LadderLevelEvent } from "../../actions/ladder.js";
import { recoveryItemKeys } from "../config/definitions.js";
import { clockOf } from "./clock.js";
import { lldHost } from "./translator-context.js";
import type { TranslatorContext } from "./translator-context.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Audit actions that act on a guest: a person's or a script's (HTTP API) and the ladder's. */
const ACTION_ENTRIES: ReadonlySet<string> = new Set(["domainAction", "ladderAction"]);
/** Longest detail text sent (Zabbix text items take 64 KB; a reason is short, an error message can be long). */
const MAX_DETAIL_CHARS = 1000;

export class RecoveryTranslator {
  constructor(private readonly ctx: TranslatorContext) {}

  onLevel(e: LadderLevelEvent): void {
    const uuid = e.uuid.toLowerCase();
    if (!UUID.test(uuid)) return void this.ctx.counters.badAlerts++;
    const host = lldHost(this.ctx, e.host, uuid);
    const keys = recoveryItemKeys(uuid);
    const { clock, ns } = clockOf(e.at);
    const step = JSON.stringify({ ladder: e.ladder, guest: e.name, step: e.step, outcome: e.outcome, level: e.level, detail: e.detail.slice(0, MAX_DETAIL_CHARS) });
    this.ctx.counters.recoveryValues += 2;
    // the step first: when the level's problem opens, its text is already there
    this.ctx.emit(host, uuid, [{ host, key: keys.step, value: step, clock, ns }, { host, key: keys.level, value: e.level, clock, ns }]);
  }

  onAudit(entry: AuditEntry): void {
    if (!ACTION_ENTRIES.has(entry.action)) return;
    const uuid = (entry.target ?? "").toLowerCase();
    const d = entry.detail ?? {};
    const hv = typeof d.host === "string" ? d.host : "";
    // an action refused before its guest was found names no hypervisor: there is no Zabbix item to put it on
    if (!UUID.test(uuid) || !hv) return;
    const host = lldHost(this.ctx, hv, uuid);
    const what = typeof d.action === "string" ? d.action : typeof d.step === "string" ? d.step : entry.action;
    const text = JSON.stringify({
      at: entry.time, actor: entry.actor, via: entry.via, action: what, outcome: entry.outcome,
      ...(typeof d.reason === "string" && d.reason ? { reason: d.reason.slice(0, MAX_DETAIL_CHARS) } : {}),
      ...(typeof d.state === "string" ? { state: d.state } : {}),
      ...(typeof d.detail === "string" ? { detail: d.detail.slice(0, MAX_DETAIL_CHARS) } : {}),
      ...(typeof d.message === "string" ? { error: d.message.slice(0, MAX_DETAIL_CHARS) } : {}),
      seq: entry.seq,
    });
    const { clock, ns } = clockOf(Date.parse(entry.time) || Date.now());
    this.ctx.counters.recoveryValues++;
    this.ctx.emit(host, uuid, [{ host, key: recoveryItemKeys(uuid).action, value: text, clock, ns }]);
  }
}

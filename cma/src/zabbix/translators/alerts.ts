/**
 * Analytics alerts → per-guest problem items (1 raised, 0 cleared) with the evidence as text;
 * host-level ones (host memory leak, libvirt unreachable) → the same on the hypervisor's host;
 * discovery-script errors → a per-host count and detail.
 */
import type { AlertEvent, AlertStore } from "../../intake/alert-store.js";
import { GUEST_ALERTS, KEYS, alertItemKeys, zabbixHostName } from "../config/definitions.js";
import type { GuestAlertKind } from "../config/definitions.js";
import { clockOf } from "./clock.js";
import { lldHost } from "./translator-context.js";
import type { TranslatorContext } from "./translator-context.js";

/** An alert's clock when plausible (the nanoprobe's clock may be off), else now. */
function alertClock(atMs: number, now: number): number {
  return Number.isFinite(atMs) && atMs > 0 && Math.abs(atMs - now) < 86_400_000 ? atMs : now;
}

export class AlertsTranslator {
  constructor(
    private readonly alerts: AlertStore,
    private readonly ctx: TranslatorContext,
  ) {}

  onEvent(e: AlertEvent): void {
    const a = e.alert;
    if (a.kind === "localStall") return; // the nanoprobe's own stall: in the CMA's log and alert events, no Zabbix item
    if (a.kind === "discoveryError") {
      this.pushDiscoveryErrors(e.host);
      return;
    }
    if (a.kind === "hostMemoryLeak") {
      const z = zabbixHostName(e.host);
      this.pushAlert(z, undefined, { flag: KEYS.hostMemoryLeak, evidence: KEYS.hostMemoryLeakEvidence }, e);
      return;
    }
    if (a.kind === "libvirtUnreachable") {
      const z = zabbixHostName(e.host);
      this.pushAlert(z, undefined, { flag: KEYS.libvirtUnreachable, evidence: KEYS.libvirtUnreachableEvidence }, e);
      return;
    }
    if (!(a.kind in GUEST_ALERTS)) {
      this.ctx.counters.badAlerts++;
      return;
    }
    const uuid = a.subject.toLowerCase();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)) {
      this.ctx.counters.badAlerts++;
      this.ctx.log.warn({ host: e.host, kind: a.kind, subject: a.subject.slice(0, 80) }, "alert about something that is not a guest UUID: not sent to Zabbix");
      return;
    }
    this.pushAlert(lldHost(this.ctx, e.host, uuid), uuid, alertItemKeys(a.kind as GuestAlertKind, uuid), e);
  }

  /** 1 raised / 0 cleared, with the evidence (as JSON text) at the same clock. */
  private pushAlert(host: string, guest: string | undefined, keys: { flag: string; evidence: string }, e: AlertEvent): void {
    const a = e.alert;
    const { clock, ns } = clockOf(alertClock(a.atMs, Date.now()));
    const raised = e.change === "raised";
    const evidence = raised ? JSON.stringify({ subject: a.subjectName, ...(JSON.parse(a.evidenceJson) as object) }) : JSON.stringify({ subject: a.subjectName, cleared: true });
    this.ctx.counters.alertValues += 2;
    this.ctx.emit(host, guest, [
      { host, key: keys.evidence, value: evidence, clock, ns },
      { host, key: keys.flag, value: raised ? 1 : 0, clock, ns },
    ]);
  }

  pushDiscoveryErrors(host: string): void {
    const failing = this.alerts.active(host).filter((x) => x.alert.kind === "discoveryError").map((x) => x.alert);
    const z = zabbixHostName(host);
    const { clock, ns } = clockOf(Date.now());
    const detail = failing.map((a) => ({ script: a.subjectName, at: new Date(alertClock(a.atMs, Date.now())).toISOString(), ...(JSON.parse(a.evidenceJson) as object) }));
    this.ctx.counters.alertValues += 2;
    this.ctx.emit(z, undefined, [
      { host: z, key: KEYS.discoveryErrorsDetail, value: JSON.stringify(detail), clock, ns },
      { host: z, key: KEYS.discoveryErrors, value: failing.length, clock, ns },
    ]);
  }
}

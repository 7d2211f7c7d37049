/**
 * Alerts from nanoprobes (local analytics, discovery errors, their own stalls, libvirt unreachable):
 * the active set per host, validated on the way in, each change an event for Zabbix and the web UI.
 */
import { EventEmitter } from "node:events";
import type { Alert, Logger } from "@ringwatch/shared";

export const ALERT_KINDS: ReadonlySet<string> = new Set(["vcpuAbuse", "memoryLeak", "hostMemoryLeak", "microBurst", "discoveryError", "localStall", "libvirtUnreachable", "guestUnhealthy"]);
/** One-shot findings: raised, never cleared, so nothing stays active (a burst, a stall of the nanoprobe itself). */
const ONE_SHOT_KINDS: ReadonlySet<string> = new Set(["microBurst", "localStall"]);
const MAX_EVIDENCE = 16 * 1024;

export function validateAlert(a: Alert): string | undefined {
  if (!ALERT_KINDS.has(a.kind)) return `unknown alert kind ${JSON.stringify(a.kind).slice(0, 40)}`;
  if (!a.subject || a.subject.length > 255 || a.subjectName.length > 512) return "bad subject";
  if (a.evidenceJson.length > MAX_EVIDENCE) return "evidence too large";
  try {
    const e: unknown = JSON.parse(a.evidenceJson);
    if (!e || typeof e !== "object") return "evidence is not a JSON object";
  } catch {
    return "evidence is not JSON";
  }
  return undefined;
}

export interface AlertEvent {
  host: string;
  alert: Alert;
  /** raised, cleared, or a one-shot finding (raised without a later clear) */
  change: "raised" | "cleared";
}

export class AlertStore extends EventEmitter<{ event: [AlertEvent] }> {
  private readonly activeByHost = new Map<string, Map<string, Alert>>();
  readonly counters = { received: 0, refused: 0 };

  constructor(private readonly log: Logger) {
    super();
  }

  active(host?: string): { host: string; alert: Alert }[] {
    const out: { host: string; alert: Alert }[] = [];
    for (const [h, m] of this.activeByHost) if (!host || h === host) for (const a of m.values()) out.push({ host: h, alert: a });
    return out;
  }

  /** A removed host leaves the active views; no events: the graph keeps its history as it was. */
  forget(host: string): void {
    this.activeByHost.delete(host);
  }

  apply(host: string, a: Alert): boolean {
    const err = validateAlert(a);
    if (err) {
      this.counters.refused++;
      this.log.warn({ host, err }, "alert refused");
      return false;
    }
    this.counters.received++;
    const m = this.activeByHost.get(host) ?? new Map<string, Alert>();
    this.activeByHost.set(host, m);
    const key = `${a.kind}|${a.subject}`;
    if (a.active) {
      if (!ONE_SHOT_KINDS.has(a.kind)) m.set(key, a);
      this.emit("event", { host, alert: a, change: "raised" });
    } else if (m.delete(key)) {
      this.emit("event", { host, alert: a, change: "cleared" });
    }
    return true;
  }
}

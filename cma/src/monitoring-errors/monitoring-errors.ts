/**
 * Monitoring errors: everything that stops ringwatch from seeing, as one kind of record with a
 * host (a hypervisor, or the CMA itself), a source, a subject within the source, evidence, since
 * when, and whether it is still active. Raised and cleared by the watchers (watchers.ts) from the
 * part that notices (the nanoprobes' alerts, the stats intake, the Zabbix sender, the graph
 * ingestor); read by the HTTP API and by the Zabbix bridge. Every change is an event.
 *
 * Input is checked here once: an unknown source, an empty or oversized host or subject, evidence
 * that is not a small JSON object — refused, counted, never thrown.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "@ringwatch/shared";

/** Found on a hypervisor by its nanoprobe (sent as alerts): reported on that hypervisor's Zabbix host. */
export const HOST_SIDE_SOURCES = ["libvirtUnreachable", "discoveryError", "localStall"] as const;
/** Found by the CMA itself: reported on the CMA's own Zabbix host (hostKeyMismatch: its host is the name the impostor claimed). */
export const CMA_SIDE_SOURCES = ["statsRefused", "senderDropped", "graphWrite", "hostKeyMismatch"] as const;
export type MonitoringErrorSource = (typeof HOST_SIDE_SOURCES)[number] | (typeof CMA_SIDE_SOURCES)[number];
export const MONITORING_ERROR_SOURCES: readonly MonitoringErrorSource[] = [...HOST_SIDE_SOURCES, ...CMA_SIDE_SOURCES];

export interface MonitoringError {
  /** the hypervisor it concerns, or the CMA's own name */
  host: string;
  source: MonitoringErrorSource;
  /** what within the source (a discovery script's name); "" when a host has one of this source */
  subject: string;
  evidence: Record<string, unknown>;
  /** ms since the epoch: raised at */
  since: number;
  /** ms since the epoch: the cause was last seen (raised or updated) */
  lastSeen: number;
  active: boolean;
  /** ms since the epoch, once cleared */
  clearedAt?: number;
}

export interface MonitoringErrorEvent {
  change: "raised" | "updated" | "cleared";
  error: MonitoringError;
}

export interface MonitoringErrorsOptions {
  /** cleared errors kept for the API (the newest) */
  keepCleared?: number;
  /** active errors beyond this are refused (bounds memory against a flood) */
  maxActive?: number;
}

const MAX_NAME = 255;
const MAX_EVIDENCE = 16 * 1024;
const SOURCES: ReadonlySet<string> = new Set(MONITORING_ERROR_SOURCES);

const key = (host: string, source: string, subject: string): string => `${host}\u0000${source}\u0000${subject}`;

export class MonitoringErrors extends EventEmitter<{ event: [MonitoringErrorEvent] }> {
  readonly counters = { raised: 0, updated: 0, cleared: 0, refused: 0 };
  private readonly activeByKey = new Map<string, MonitoringError>();
  private readonly clearedList: MonitoringError[] = [];
  private readonly keepCleared: number;
  private readonly maxActive: number;

  constructor(
    private readonly log: Logger,
    o: MonitoringErrorsOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.keepCleared = o.keepCleared ?? 200;
    this.maxActive = o.maxActive ?? 10_000;
  }

  /** Why this would be refused, or undefined when it is fine. */
  static invalid(host: string, source: string, subject: string, evidence: unknown): string | undefined {
    if (!SOURCES.has(source)) return `unknown source ${JSON.stringify(String(source)).slice(0, 40)}`;
    if (typeof host !== "string" || !host || host.length > MAX_NAME) return "bad host";
    if (typeof subject !== "string" || subject.length > MAX_NAME) return "bad subject";
    if (!evidence || typeof evidence !== "object" || Array.isArray(evidence)) return "evidence is not a JSON object";
    let text: string;
    try {
      text = JSON.stringify(evidence);
    } catch {
      return "evidence is not JSON";
    }
    if (text.length > MAX_EVIDENCE) return "evidence too large";
    return undefined;
  }

  /** Raise (or update, when already active) an error; false when refused. */
  raise(host: string, source: MonitoringErrorSource, subject: string, evidence: Record<string, unknown>, at = this.now()): boolean {
    const why = MonitoringErrors.invalid(host, source, subject, evidence);
    const k = key(host, source, subject);
    const cur = why ? undefined : this.activeByKey.get(k);
    if (why || (!cur && this.activeByKey.size >= this.maxActive)) {
      this.counters.refused++;
      this.log.warn({ host: String(host).slice(0, 80), source: String(source).slice(0, 40), err: why ?? "too many active monitoring errors" }, "monitoring error refused");
      return false;
    }
    if (cur) {
      cur.evidence = evidence;
      cur.lastSeen = at;
      this.counters.updated++;
      this.emit("event", { change: "updated", error: { ...cur } });
      return true;
    }
    const e: MonitoringError = { host, source, subject, evidence, since: at, lastSeen: at, active: true };
    this.activeByKey.set(k, e);
    this.counters.raised++;
    this.log.warn({ host, source, subject, evidence }, "monitoring error raised");
    this.emit("event", { change: "raised", error: { ...e } });
    return true;
  }

  /** Clear an active error; false when there was none. */
  clear(host: string, source: MonitoringErrorSource, subject = "", at = this.now()): boolean {
    const k = key(host, source, subject);
    const e = this.activeByKey.get(k);
    if (!e) return false;
    this.activeByKey.delete(k);
    e.active = false;
    e.clearedAt = at;
    this.clearedList.push(e);
    if (this.clearedList.length > this.keepCleared) this.clearedList.splice(0, this.clearedList.length - this.keepCleared);
    this.counters.cleared++;
    this.log.info({ host, source, subject, activeMs: at - e.since }, "monitoring error cleared");
    this.emit("event", { change: "cleared", error: { ...e } });
    return true;
  }

  /** Clear every active error of this host and source (any subject). */
  clearAll(host: string, source: MonitoringErrorSource, at = this.now()): number {
    let n = 0;
    for (const e of [...this.activeByKey.values()]) if (e.host === host && e.source === source && this.clear(host, source, e.subject, at)) n++;
    return n;
  }

  get(host: string, source: MonitoringErrorSource, subject = ""): MonitoringError | undefined {
    const e = this.activeByKey.get(key(host, source, subject));
    return e && { ...e };
  }

  /** Active errors, oldest first, optionally of one host and/or source. */
  active(filter: { host?: string; source?: string } = {}): MonitoringError[] {
    return [...this.activeByKey.values()].filter((e) => matches(e, filter)).sort((a, b) => a.since - b.since).map((e) => ({ ...e }));
  }

  /** The most recently cleared errors (at most keepCleared), oldest first. */
  cleared(filter: { host?: string; source?: string } = {}): MonitoringError[] {
    return this.clearedList.filter((e) => matches(e, filter)).map((e) => ({ ...e }));
  }
}

function matches(e: MonitoringError, f: { host?: string; source?: string }): boolean {
  return (!f.host || e.host === f.host) && (!f.source || e.source === f.source);
}

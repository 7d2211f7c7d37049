/**
 * Where monitoring errors come from, and what clears each (one watcher per source; each returns
 * its stop function). The parts are observed from outside through their events, so none of them
 * knows about monitoring errors (the Zabbix sender imports nothing of the CMA).
 *
 * - libvirtUnreachable, discoveryError: alerts of these kinds from a nanoprobe; cleared by the
 *   nanoprobe's own "cleared" alert (subject: the script for discovery errors).
 * - localStall: a one-shot alert (the nanoprobe was not running for a while; it is over when it is
 *   told), so it is recorded raised and cleared at once: in the cleared list, never active.
 * - statsRefused: a hypervisor's stats batch the CMA could not decode; cleared by that host's next
 *   accepted batch, or when the host leaves or dies (its stream is forgotten).
 * - senderDropped: the Zabbix sender dropped values (spool full, disk error, unknown items held too
 *   long); drops are one-shot, so it clears after quietMs without a drop.
 * - graphWrite: a graph write failed (the ingestor retries); cleared by the next successful write.
 * - hostKeyMismatch: an announcement as a known host with another key (identity/host-admission.ts);
 *   a security alert, so it stays until an admin revokes or forgets that host's pin, or no such
 *   announcement came for quietMs.
 * - a host taken out of service (hostRemoved) takes its errors with it: all cleared.
 */
import type { Alert } from "@ringwatch/shared";
import type { AlertEvent, AlertStore } from "../intake/alert-store.js";
import type { StatsEvent, StatsRefusal, StatsStore } from "../intake/stats-store.js";
import type { Membership, MembershipEvent } from "../membership/membership.js";
import type { GraphWriteOutcome } from "../graph/graph-ingestor.js";
import type { SenderDropEvent } from "../zabbix/sender/durable-sender.js";
import type { MismatchEvent, PinChangeEvent } from "../identity/host-admission.js";
import { HOST_SIDE_SOURCES, MONITORING_ERROR_SOURCES } from "./monitoring-errors.js";
import type { MonitoringErrors, MonitoringErrorSource } from "./monitoring-errors.js";

export type StopWatching = () => void;

const HOST_SIDE: ReadonlySet<string> = new Set(HOST_SIDE_SOURCES);
/** host-side sources whose alert is never cleared by the nanoprobe: over as soon as it is reported */
const ONE_SHOT: ReadonlySet<string> = new Set(["localStall"]);

/** The alert's evidence with its subject's name and the nanoprobe's own time (alerts were validated: evidence is a JSON object). */
function alertEvidence(a: Alert): Record<string, unknown> {
  return { ...(JSON.parse(a.evidenceJson) as Record<string, unknown>), subjectName: a.subjectName, reportedAt: a.atMs };
}

export function watchAlerts(errors: MonitoringErrors, alerts: AlertStore): StopWatching {
  const apply = (host: string, a: Alert, change: AlertEvent["change"]): void => {
    if (!HOST_SIDE.has(a.kind)) return;
    const source = a.kind as MonitoringErrorSource;
    if (change === "raised") errors.raise(host, source, a.subject, alertEvidence(a));
    if (change !== "raised" || ONE_SHOT.has(a.kind)) errors.clear(host, source, a.subject);
  };
  for (const { host, alert } of alerts.active()) apply(host, alert, "raised");
  const on = (e: AlertEvent): void => apply(e.host, e.alert, e.change);
  alerts.on("event", on);
  return () => alerts.off("event", on);
}

export function watchStats(errors: MonitoringErrors, stats: StatsStore, membership: Membership): StopWatching {
  const onRefused = (r: StatsRefusal): void => {
    const cur = errors.get(r.host, "statsRefused");
    const refused = Number(cur?.evidence.refusedBatches ?? 0) + 1;
    errors.raise(r.host, "statsRefused", "", { error: r.error, refusedBatches: refused, ...(cur ? { firstError: cur.evidence.firstError } : { firstError: r.error }) });
  };
  const onAccepted = (e: StatsEvent): void => void errors.clear(e.host, "statsRefused");
  const onMembership = (e: MembershipEvent): void => {
    if (e.type === "hostLeft" || e.type === "hostDead") errors.clear(e.host, "statsRefused");
  };
  stats.on("refused", onRefused);
  stats.on("event", onAccepted);
  membership.on("event", onMembership);
  return () => {
    stats.off("refused", onRefused);
    stats.off("event", onAccepted);
    membership.off("event", onMembership);
  };
}

/** What the watcher needs of the Zabbix sender: its drop events. */
export interface SenderDrops {
  on(event: "drop", listener: (e: SenderDropEvent) => void): unknown;
  off(event: "drop", listener: (e: SenderDropEvent) => void): unknown;
}

export function watchSender(errors: MonitoringErrors, sender: SenderDrops, cma: string, quietMs: number): StopWatching {
  let timer: NodeJS.Timeout | undefined;
  const onDrop = (d: SenderDropEvent): void => {
    const cur = errors.get(cma, "senderDropped")?.evidence;
    const byReason = { ...((cur?.byReason as Record<string, number> | undefined) ?? {}) };
    byReason[d.reason] = (byReason[d.reason] ?? 0) + d.values;
    errors.raise(cma, "senderDropped", "", {
      dropped: Number(cur?.dropped ?? 0) + d.values, byReason, lastReason: d.reason, lastDetail: d.detail.slice(0, 500),
      ...(d.pairs?.length ? { pairs: d.pairs.slice(0, 10) } : {}), clearsAfterQuietMs: quietMs,
    });
    clearTimeout(timer);
    timer = setTimeout(() => errors.clear(cma, "senderDropped"), quietMs);
    timer.unref();
  };
  sender.on("drop", onDrop);
  return () => {
    clearTimeout(timer);
    sender.off("drop", onDrop);
  };
}

/** What the watcher needs of the graph ingestor: its write outcomes. */
export interface GraphWrites {
  on(event: "write", listener: (o: GraphWriteOutcome) => void): unknown;
  off(event: "write", listener: (o: GraphWriteOutcome) => void): unknown;
}

export function watchGraph(errors: MonitoringErrors, ingestor: GraphWrites, cma: string): StopWatching {
  const onWrite = (o: GraphWriteOutcome): void => {
    if (o.ok) {
      errors.clear(cma, "graphWrite");
      return;
    }
    const cur = errors.get(cma, "graphWrite")?.evidence;
    errors.raise(cma, "graphWrite", "", { error: o.error, code: o.code, failedWrites: Number(cur?.failedWrites ?? 0) + 1, itemsWaiting: o.items });
  };
  ingestor.on("write", onWrite);
  return () => ingestor.off("write", onWrite);
}

/** A removed host is out of every active view: its monitoring errors are over too (the cleared list keeps them). */
export function watchRemovals(errors: MonitoringErrors, membership: Membership): StopWatching {
  const on = (e: MembershipEvent): void => {
    if (e.type === "hostRemoved") for (const source of MONITORING_ERROR_SOURCES) errors.clearAll(e.host, source);
  };
  membership.on("event", on);
  return () => membership.off("event", on);
}

/** What the watcher needs of admission: its mismatches and the admin's changes to pins. */
export interface HostKeyEvents {
  on(event: "mismatch", listener: (e: MismatchEvent) => void): unknown;
  on(event: "pinChange", listener: (e: PinChangeEvent) => void): unknown;
  off(event: "mismatch", listener: (e: MismatchEvent) => void): unknown;
  off(event: "pinChange", listener: (e: PinChangeEvent) => void): unknown;
}

/** Maximum distinct addresses kept in one mismatch's evidence (an impostor hopping addresses stays bounded). */
const MAX_MISMATCH_SOURCES = 16;

export function watchHostKeys(errors: MonitoringErrors, admission: HostKeyEvents, quietMs: number): StopWatching {
  const timers = new Map<string, NodeJS.Timeout>();
  const onMismatch = (e: MismatchEvent): void => {
    const cur = errors.get(e.host, "hostKeyMismatch")?.evidence;
    const address = e.from.slice(0, e.from.lastIndexOf(":"));
    const sources = [...new Set([...((cur?.sources as string[] | undefined) ?? []), address])].slice(-MAX_MISMATCH_SOURCES);
    errors.raise(e.host, "hostKeyMismatch", "", {
      summary: `host key mismatch for ${e.host} from ${address}`, from: e.from, presented: e.presented, pinned: e.pinned, sources,
      refused: Number(cur?.refused ?? 0) + 1, clearsAfterQuietMs: quietMs,
    }, e.at);
    clearTimeout(timers.get(e.host));
    const t = setTimeout(() => {
      timers.delete(e.host);
      errors.clear(e.host, "hostKeyMismatch");
    }, quietMs);
    t.unref();
    timers.set(e.host, t);
  };
  const onPin = (e: PinChangeEvent): void => {
    if (e.change !== "revoked" && e.change !== "forgotten") return;
    clearTimeout(timers.get(e.host));
    timers.delete(e.host);
    errors.clear(e.host, "hostKeyMismatch"); // the admin has acted on that name
  };
  admission.on("mismatch", onMismatch);
  admission.on("pinChange", onPin);
  return () => {
    for (const t of timers.values()) clearTimeout(t);
    admission.off("mismatch", onMismatch);
    admission.off("pinChange", onPin);
  };
}

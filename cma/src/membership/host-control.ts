/**
 * What an operator does to a host on purpose: planned downtime (maintenance until a time, with a
 * reason; ended by its time or by hand) and taking it out of service (removal). The rules:
 *
 * - In maintenance a host keeps its place in the rings while it answers; its silence is no death
 *   (suspicion.ts takes it out of the rings and leaves it in maintenance). When the window ends
 *   while it is silent, it is probed then and declared dead if it does not answer.
 * - Removed, it leaves membership and the rings; a tombstone stays (graph, API, Zabbix disable or
 *   purge). It is told to watch nobody, in case its nanoprobe still runs. If it announces again it
 *   is admitted as a new host.
 *
 * Input comes from outside (the control socket): everything is checked here, and a refusal is a
 * HostControlError with a code the caller counts.
 */
import type { Logger } from "@ringwatch/shared";
import { inRings } from "./membership.js";
import type { HostRecord, Membership, MembershipEventInput, RemovedHost } from "./membership.js";
import type { Suspicion } from "./suspicion.js";

/** Longest maintenance window: a year. Longer is a removal, not downtime. */
export const MAX_MAINTENANCE_MS = 366 * 24 * 3600_000;
/** Longest reason kept (it goes to the graph, the API and Zabbix's event JSON). */
export const MAX_REASON_CHARS = 256;
/** setTimeout's longest delay; a later expiry re-arms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export type HostControlErrorCode = "unknown-host" | "bad-time" | "bad-reason" | "bad-request" | "not-in-maintenance" | "busy";

export class HostControlError extends Error {
  constructor(
    readonly code: HostControlErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface HostControlDeps {
  membership: Membership;
  suspicion: Pick<Suspicion, "clearSuspicion" | "endMaintenance" | "forget">;
  event: (e: MembershipEventInput) => void;
  replan: () => void;
  /** a removed host is told to watch nobody (best effort: it may be down) */
  quiet: (h: HostRecord) => void;
  log: Logger;
}

export class HostControl {
  private timer: NodeJS.Timeout | undefined;
  private readonly ending = new Set<string>();
  private stopped = false;

  constructor(private readonly deps: HostControlDeps) {}

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private host(name: unknown): HostRecord {
    const h = typeof name === "string" ? this.deps.membership.get(name) : undefined;
    if (!h) throw new HostControlError("unknown-host", `no host named ${JSON.stringify(name)}`);
    return h;
  }

  /** Start maintenance (or change the window of one already in it). */
  startMaintenance(name: unknown, until: unknown, reason: unknown, now = Date.now()): HostRecord {
    const h = this.host(name);
    if (typeof until !== "number" || !Number.isSafeInteger(until)) throw new HostControlError("bad-time", `until must be a time in ms since the epoch, got ${JSON.stringify(until)}`);
    if (until <= now) throw new HostControlError("bad-time", `until ${new Date(until).toISOString()} is not in the future`);
    if (until > now + MAX_MAINTENANCE_MS) throw new HostControlError("bad-time", `until ${new Date(until).toISOString()} is more than a year away (remove the host instead)`);
    if (typeof reason !== "string" || reason.trim() === "") throw new HostControlError("bad-reason", "a reason is required");
    if (reason.length > MAX_REASON_CHARS) throw new HostControlError("bad-reason", `reason too long: ${reason.length} characters, at most ${MAX_REASON_CHARS}`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(reason)) throw new HostControlError("bad-reason", "reason holds control characters");
    if (this.ending.has(h.name)) throw new HostControlError("busy", `${h.name}: its maintenance is ending (being probed); try again in a moment`);
    const was = h.state;
    if (h.state === "maintenance" && h.maintenance) {
      h.maintenance.until = until;
      h.maintenance.reason = reason;
      this.deps.membership.changed();
    } else {
      // out of the rings already (dead, left, unreachable): it stays out until it speaks
      h.maintenance = { reason, until, startedAt: now, down: !inRings(h) };
      this.deps.suspicion.clearSuspicion(h, "maintenance"); // a death being confirmed is no death now
      this.deps.replan();
    }
    this.deps.event({ type: "maintenanceStarted", host: h.name, until, reason, was });
    this.arm();
    return h;
  }

  /** End maintenance by hand; resolves once the host was judged (alive, or dead if it is silent). */
  async endMaintenance(name: unknown, how: "expired" | "ended" = "ended"): Promise<HostRecord> {
    const h = this.host(name);
    const w = h.maintenance;
    if (h.state !== "maintenance" || !w) throw new HostControlError("not-in-maintenance", `${h.name} is not in maintenance (${h.state})`);
    if (this.ending.has(h.name)) throw new HostControlError("busy", `${h.name}: its maintenance is already ending`);
    this.ending.add(h.name);
    try {
      await this.deps.suspicion.endMaintenance(h, w, how);
    } finally {
      this.ending.delete(h.name);
      this.arm();
    }
    return h;
  }

  /** Take a host out of service. */
  remove(name: unknown, purge: unknown): RemovedHost {
    const h = this.host(name);
    if (purge !== undefined && typeof purge !== "boolean") throw new HostControlError("bad-request", "purge must be true or false");
    const was = h.state;
    this.deps.suspicion.forget(h.name);
    h.maintenance = undefined;
    const t = this.deps.membership.remove(h.name, purge === true)!;
    this.deps.event({ type: "hostRemoved", host: h.name, segment: h.segment, was, purge: t.purge });
    this.deps.replan();
    this.deps.quiet(h);
    this.arm();
    return t;
  }

  /** Schedule the next expiry (after a start, an end, or a restored snapshot). */
  arm(now = Date.now()): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    let next = Infinity;
    for (const h of this.deps.membership.hosts()) if (h.state === "maintenance" && h.maintenance && !this.ending.has(h.name)) next = Math.min(next, h.maintenance.until);
    if (next === Infinity) return;
    this.timer = setTimeout(() => this.expire(), Math.min(MAX_TIMER_MS, Math.max(0, next - now)));
  }

  private expire(now = Date.now()): void {
    this.timer = undefined;
    const due = this.deps.membership.hosts().filter((h) => h.state === "maintenance" && h.maintenance && h.maintenance.until <= now && !this.ending.has(h.name));
    for (const h of due) {
      this.deps.log.info({ host: h.name, reason: h.maintenance!.reason }, "maintenance window over");
      this.endMaintenance(h.name, "expired").catch((e: Error) => this.deps.log.error({ host: h.name, err: e.message }, "ending maintenance failed"));
    }
    this.arm(now);
  }
}

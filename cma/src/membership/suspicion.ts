/**
 * Death confirmation and segment judgement: from a DEAD report to a verdict.
 *
 * A DEAD report is confirmed by the CMA's own direct probe before anyone is declared dead (reports
 * alone can be stale or come from inside a partition). A confirmed silence is then placed: if other hosts of the same segment answer, it
 * is that host's death (declared once); if none of them answer, it is one segment event ("switch or
 * link suspected"), not N deaths. While a segment is silent one of its hosts is probed now and then;
 * when part of it is heard again, all of it is probed and who answers is back.
 *
 * After a CMA restart nobody is declared dead for not answering quickly: after a grace period, the
 * hosts that have not re-announced are probed, and only those that do not answer are declared dead.
 *
 * A host in maintenance is judged too, but its confirmed silence is no death: it leaves the rings
 * (they repair around it) and stays in maintenance. When its maintenance ends while it is still
 * silent, it is probed then, and declared dead if it does not answer.
 *
 * No I/O of its own: probes, events, replanning and commands go through what the ring service
 * passes in, so the rules can be driven directly with a fake network.
 */
import type { Logger, PeerAddress } from "@ringwatch/shared";
import type { HostRecord, HostState, MaintenanceWindow, Membership, MembershipEvent, MembershipEventInput } from "./membership.js";
import { NOT_ASSIGNED } from "./ring-plan.js";

export interface SuspicionOptions {
  /** after a CMA restart, how long hosts have to re-announce before the silent ones are probed */
  reannounceGraceMs: number;
  /** while a segment is silent, one of its hosts is probed this often */
  segmentRecheckMs: number;
}

/** What the unit needs from the ring service, and nothing more. */
export interface SuspicionDeps {
  /** the hosts, their segments and rings; every state change goes through it */
  membership: Pick<Membership, "hosts" | "inSegment" | "rings" | "setState" | "changed">;
  /** a direct probe: true if the host answered */
  probe: (to: PeerAddress) => Promise<boolean>;
  /** record a membership event (the caller stamps it) */
  event: (e: MembershipEventInput) => void;
  /** the rings must be planned again (the caller coalesces) */
  replan: () => void;
  /** a host answered a probe after the restart but did not re-announce: ask it to */
  askToReannounce: (h: HostRecord) => void;
  log: Logger;
}

type ConfirmedBy = Extract<MembershipEvent, { type: "hostDead" }>["confirmedBy"];

export class Suspicion {
  private readonly suspicion = new Map<string, { reporters: Set<string>; how: ConfirmedBy }>();
  private readonly segmentChecks = new Map<string, Promise<void>>();
  private readonly recheckTimers = new Map<string, NodeJS.Timeout>();
  private graceTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly deps: SuspicionDeps,
    private readonly opts: SuspicionOptions,
  ) {}

  stop(): void {
    this.stopped = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    for (const t of this.recheckTimers.values()) clearInterval(t);
  }

  // ------------------------------------------------------------------ death: confirm, place, declare

  /** `how` names what the verdict rests on: a neighbour's report ("probe"), or the CMA's own watch of a lone host. */
  onDeadReport(s: HostRecord, reporter: string, how: ConfirmedBy = "probe"): void {
    if (s.state === "maintenance") return this.onSilenceInMaintenance(s, reporter);
    if (s.state !== "alive" && s.state !== "suspect") return; // already handled: declared once
    const sus = this.suspicion.get(s.name);
    if (sus) {
      sus.reporters.add(reporter); // more evidence, recorded with the verdict
      return;
    }
    // Reports can be stale (queued in a partition, delivered after it healed) or come from inside
    // a partition, so even two of them prove nothing: the CMA's own probe decides.
    this.deps.membership.setState(s, "suspect");
    const entry = { reporters: new Set([reporter]), how };
    this.suspicion.set(s.name, entry);
    this.deps.log.debug({ host: s.name, reportedBy: reporter }, "death reported: probing");
    void this.deps.probe(s).then(async (answered) => {
      if (this.suspicion.get(s.name) !== entry || s.state !== "suspect") return; // overtaken (returned, left)
      this.suspicion.delete(s.name);
      if (answered) {
        this.deps.membership.setState(s, "alive");
        this.deps.event({ type: "deathNotConfirmed", host: s.name, reportedBy: [...entry.reporters] });
        return;
      }
      await this.placeSilence(s, [...entry.reporters], entry.how);
    });
  }

  // ------------------------------------------------------------------ maintenance: silence is no death

  /** Probed like any reported host; if it does not answer it leaves the rings, still in maintenance. */
  private onSilenceInMaintenance(s: HostRecord, reporter: string): void {
    const w = s.maintenance;
    if (!w || w.down) return; // already out of the rings
    const sus = this.suspicion.get(s.name);
    if (sus) {
      sus.reporters.add(reporter);
      return;
    }
    const entry = { reporters: new Set([reporter]), how: "probe" as ConfirmedBy };
    this.suspicion.set(s.name, entry);
    this.deps.log.debug({ host: s.name, reportedBy: reporter }, "silence reported of a host in maintenance: probing");
    void this.deps.probe(s).then((answered) => {
      if (this.suspicion.get(s.name) !== entry) return;
      this.suspicion.delete(s.name);
      if (answered || s.maintenance !== w || w.down) return; // it answers, or its maintenance changed meanwhile
      this.downInMaintenance(s, [...entry.reporters]);
    });
  }

  /** A host in maintenance fell silent (or said goodbye): out of the rings, no death. */
  downInMaintenance(h: HostRecord, reporters: string[]): void {
    if (!h.maintenance || h.maintenance.down) return;
    this.suspicion.delete(h.name);
    h.maintenance.down = true;
    this.deps.membership.changed();
    this.deps.event({ type: "hostDownInMaintenance", host: h.name, segment: h.segment, reportedBy: reporters });
    this.deps.replan();
  }

  /**
   * Its maintenance ends (window w): if it was silent, it is probed now. Answering (or back in the
   * rings already) it is alive; silent, it is judged like any silent host: a death, or its segment's.
   */
  async endMaintenance(h: HostRecord, w: MaintenanceWindow, how: "expired" | "ended"): Promise<void> {
    const answered = w.down ? await this.deps.probe(h) : true;
    if (h.maintenance !== w || h.state !== "maintenance") return; // started again, or removed, meanwhile
    h.maintenance = undefined;
    this.suspicion.delete(h.name);
    const down = w.down; // it may have come back while it was probed
    if (!down || answered) {
      this.deps.membership.setState(h, "alive");
      if (down) h.assignedKey = NOT_ASSIGNED; // out of the rings until now: it needs an assignment
      this.deps.event({ type: "maintenanceEnded", host: h.name, how, down, answered });
      this.deps.replan();
      return;
    }
    this.deps.membership.setState(h, "suspect");
    this.deps.event({ type: "maintenanceEnded", host: h.name, how, down, answered });
    await this.placeSilence(h, ["cma-probe"], "maintenance-end");
  }

  /** Forget a host being judged (it was removed): a probe still in flight then changes nothing. */
  forget(name: string): void {
    this.suspicion.delete(name);
  }

  /** The host's fate is settled elsewhere (it spoke, or said goodbye): no verdict for it here. */
  clearSuspicion(h: HostRecord, state: HostState): void {
    this.suspicion.delete(h.name);
    this.deps.membership.setState(h, state);
  }

  /** One check per segment at a time: concurrent silences in a segment are judged together. */
  private placeSilence(s: HostRecord, reporters: string[], how: ConfirmedBy = "probe"): Promise<void> {
    const prev = this.segmentChecks.get(s.segment) ?? Promise.resolve();
    const next = prev.then(() => this.judgeSegment(s, reporters, how)).catch((e: Error) => this.deps.log.error({ err: e.message }, "segment check failed"));
    this.segmentChecks.set(s.segment, next);
    void next.then(() => {
      if (this.segmentChecks.get(s.segment) === next) this.segmentChecks.delete(s.segment);
    });
    return next;
  }

  private async judgeSegment(s: HostRecord, reporters: string[], how: ConfirmedBy): Promise<void> {
    if (s.state !== "suspect") return;
    const others = this.deps.membership.inSegment(s.segment).filter((h) => h.name !== s.name && h.state === "alive" && !h.revoked);
    if (others.length === 0) return this.declareDead(s, reporters, how);
    // a handful first: its ring neighbours in the segment and the representative
    const ring = this.deps.membership.rings().segments.find((g) => g.segment === s.segment);
    const sampleNames = new Set<string>();
    if (ring) {
      const i = ring.members.indexOf(s.name);
      if (i >= 0) {
        sampleNames.add(ring.members[(i + 1) % ring.members.length]);
        sampleNames.add(ring.members[(i - 1 + ring.members.length) % ring.members.length]);
      }
      sampleNames.add(ring.representative);
    }
    const sample = others.filter((h) => sampleNames.has(h.name)).slice(0, 3);
    const firstLook = sample.length > 0 ? sample : others.slice(0, 3);
    if (await this.anyAnswers(firstLook)) return this.declareDead(s, reporters, how);
    // the sample is silent too: probe the whole segment
    const rest = others.filter((h) => !firstLook.includes(h));
    const answers = await Promise.all(rest.map((h) => this.deps.probe(h)));
    if (answers.some(Boolean)) {
      await this.declareDead(s, reporters, how);
      // the silent ones of the first look and the rest: each confirmed on its own
      for (const h of [...firstLook, ...rest.filter((_, i) => !answers[i])]) this.onDeadReport(h, "cma-probe");
      return;
    }
    const silent = [s, ...others];
    for (const h of silent) this.clearSuspicion(h, "unreachable");
    this.deps.event({ type: "segmentSuspected", segment: s.segment, hosts: silent.map((h) => h.name), reportedBy: reporters });
    this.deps.replan();
    this.startSegmentRecheck(s.segment);
  }

  /** True as soon as one of the hosts answers a probe; false when none does. */
  private anyAnswers(hosts: HostRecord[]): Promise<boolean> {
    return new Promise((resolve) => {
      let left = hosts.length;
      if (left === 0) resolve(false);
      for (const h of hosts) {
        void this.deps.probe(h).then((ok) => {
          if (ok) resolve(true);
          else if (--left === 0) resolve(false);
        });
      }
    });
  }

  private async declareDead(s: HostRecord, reporters: string[], how: ConfirmedBy): Promise<void> {
    if (s.state === "dead" || s.state === "left" || s.state === "removed" || s.state === "maintenance") return;
    this.clearSuspicion(s, "dead");
    this.deps.event({ type: "hostDead", host: s.name, segment: s.segment, reportedBy: reporters, confirmedBy: how });
    this.deps.replan();
  }

  // ------------------------------------------------------------------ silent segments

  private startSegmentRecheck(segment: string): void {
    if (this.recheckTimers.has(segment) || this.stopped) return;
    let turn = 0;
    const t = setInterval(() => {
      const silent = this.deps.membership.inSegment(segment).filter((h) => h.state === "unreachable");
      if (silent.length === 0) {
        clearInterval(t);
        this.recheckTimers.delete(segment);
        return;
      }
      const h = silent[turn++ % silent.length]; // one probe per interval while the segment is out
      void this.deps.probe(h).then((ok) => ok && this.recheckSegment(segment));
    }, this.opts.segmentRecheckMs);
    this.recheckTimers.set(segment, t);
  }

  /** Part of a silent segment is heard again: probe all of it, bring back who answers. */
  recheckSegment(segment: string): void {
    const silent = this.deps.membership.inSegment(segment).filter((h) => h.state === "unreachable");
    if (silent.length === 0) return;
    void Promise.all(silent.map((h) => this.deps.probe(h))).then((answers) => {
      const back = silent.filter((h, i) => answers[i] && h.state === "unreachable");
      for (const h of back) {
        this.deps.membership.setState(h, "alive");
        h.assignedKey = NOT_ASSIGNED;
      }
      if (back.length > 0) this.deps.event({ type: "segmentRecovered", segment, hosts: back.map((h) => h.name) });
      const stillSilent = silent.filter((h, i) => !answers[i] && h.state === "unreachable");
      if (back.length > 0) for (const h of stillSilent) void this.declareDead(h, ["cma-probe"], "segment-recheck");
      this.deps.replan();
    });
  }

  // ------------------------------------------------------------------ after a CMA restart

  /** Hosts await re-announcement (restored from the snapshot, or learnt of from others): probe the silent ones after the grace period. */
  scheduleUnconfirmedCheck(): void {
    if (this.graceTimer || this.stopped) return;
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      void this.probeUnconfirmed();
    }, this.opts.reannounceGraceMs);
  }

  private async probeUnconfirmed(): Promise<void> {
    const waiting = this.deps.membership.hosts().filter((h) => h.unconfirmed && (h.state === "alive" || h.state === "maintenance"));
    if (waiting.length === 0) return;
    this.deps.log.info({ hosts: waiting.length }, "hosts did not re-announce after the CMA restart: probing them");
    const answers = await Promise.all(waiting.map((h) => this.deps.probe(h)));
    waiting.forEach((h, i) => {
      if (!h.unconfirmed || (h.state !== "alive" && h.state !== "maintenance")) return; // re-announced, or its death handled meanwhile
      if (answers[i]) this.deps.askToReannounce(h);
      else if (h.state === "maintenance") {
        h.unconfirmed = false;
        this.downInMaintenance(h, ["cma-probe"]); // silent in maintenance: no death
      } else {
        h.unconfirmed = false;
        this.deps.membership.setState(h, "suspect");
        void this.declareDead(h, ["cma-probe"], "restart-probe");
      }
    });
  }
}

/**
 * The escalation ladder (issue 14, item 3): per unhealthy guest, the policy's steps in order —
 * notify, waits, soft reboot, hard reset, escalate — run by the CMA as a state machine kept on disk
 * (ladder-store.ts). A guestUnhealthy alert starts a ladder; its clearing ends it at once (the
 * guest is healthy again). A step is recorded as in flight before it is carried out: after a CMA
 * restart it is marked interrupted and never repeated. Writes are per tick, not per step. Actions go through the guards
 * (ladder-guards.ts) and then the same path as a person's (actions/domain-actions.ts); every step,
 * refusal and end goes to the audit log (actor "ladder", via "policy") and to the policy's
 * webhooks (ladder-webhooks.ts). In dry-run mode actions are recorded as what they would do.
 *
 * Each step raises the ladder's level (LADDER_LEVELS), announced as a "level" event: the Zabbix
 * bridge turns it into problems of rising severity (translators/ladders.ts); its end announces 0.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "@ringwatch/shared";
import type { AuditRecord } from "../audit/audit-entry.js";
import type { AlertEvent, AlertStore } from "../intake/alert-store.js";
import type { Membership } from "../membership/membership.js";
import { DomainActionError } from "./domain-actions.js";
import type { DomainActions } from "./domain-actions.js";
import { guardAction } from "./ladder-guards.js";
import { stepsFor } from "./ladder-policy.js";
import type { LadderPolicy, LadderStep } from "./ladder-policy.js";
import type { ActionMark, LadderFile, LadderState, LadderStore, StepOutcome } from "./ladder-store.js";
import type { LadderNotice, LadderWebhooks } from "./ladder-webhooks.js";

/** Ended ladders kept for the record (the API, the console), newest last. */
export const KEEP_ENDED = 200;
/** After a restart, how long a ladder waits for its guest's alert to be reported again before it ends. */
export const RESTART_GRACE_MS = 120_000;

export interface LadderDeps {
  policy: LadderPolicy;
  store: LadderStore;
  alerts: AlertStore;
  membership: Membership;
  actions: DomainActions;
  audit: { record(r: AuditRecord): unknown };
  webhooks: LadderWebhooks;
  log: Logger;
  /** where level changes are announced (default: an emitter of its own) */
  events?: EventEmitter<{ level: [LadderLevelEvent] }>;
  /** the guest's ringwatch tags as its hypervisor reports them (the policy may choose by tag); default: none */
  tagsOf?: (host: string, uuid: string) => readonly string[];
  /** how often due steps are looked for (default 1 s) */
  tickMs?: number;
  /**
   * With CMAs in high availability: resolves true once the state just saved is in etcd. Steps
   * marked in flight are carried out only then, so a leader taking over sees the mark and never
   * repeats the step (it records it interrupted); false: not carried out, tried again next tick.
   */
  persist?: () => Promise<boolean>;
  now?: () => number;
}

/**
 * How far a ladder has gone, for Zabbix (one problem per level, severity rising): 1 people were
 * notified, 2 the guest was asked (reboot, shutdown, start, resume…), 3 forced (reset, destroy),
 * 4 escalated to a person. A level never goes down while the ladder runs; its end is 0.
 */
export const LADDER_LEVELS = { ended: 0, notified: 1, asked: 2, forced: 3, escalated: 4 } as const;

export function levelOfStep(step: string): number {
  if (step === "notify") return LADDER_LEVELS.notified;
  if (step === "escalate") return LADDER_LEVELS.escalated;
  if (step === "reset" || step === "destroy") return LADDER_LEVELS.forced;
  return LADDER_LEVELS.asked;
}

/** A ladder's level changed: after a step (with that step's outcome) or at its end (level 0). */
export interface LadderLevelEvent {
  ladder: string;
  uuid: string;
  name: string;
  host: string;
  level: number;
  step: string;
  outcome: string;
  detail: string;
  at: number;
}

const stepName = (s: LadderStep): string => ("wait" in s ? `wait ${s.wait} ms` : s.do);
const stepOf = (name: string): LadderStep => (name.startsWith("wait ") ? { wait: Number(name.split(" ")[1]) } : { do: name as "notify" });

export class Ladders {
  /** each level change (the Zabbix bridge listens; it may be made before the ladders are) */
  readonly events: EventEmitter<{ level: [LadderLevelEvent] }>;
  readonly counters = { started: 0, stepsRun: 0, actionsDone: 0, refusals: 0, escalated: 0, endedHealthy: 0, interruptedSteps: 0, saveErrors: 0, persistFailures: 0 };
  private readonly state: LadderFile;
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt: number;
  private busy = false;
  /** changed since the last save (a start, a wait passed, an end): written at the next tick */
  private dirty = false;
  private stopped = false;
  private readonly now: () => number;
  private readonly onAlert = (e: AlertEvent): void => this.alertChanged(e);

  constructor(private readonly d: LadderDeps) {
    this.now = d.now ?? Date.now;
    this.events = d.events ?? new EventEmitter();
    this.startedAt = this.now();
    this.state = d.store.load();
    for (const l of this.state.ladders) {
      if (l.inFlight === undefined) continue;
      // it may or may not have been done: never again
      l.history.push({ step: l.inFlight, what: l.steps[l.inFlight], at: this.now(), outcome: "interrupted", detail: "the CMA stopped while it was under way: not repeated" });
      l.next = l.inFlight + 1;
      l.inFlight = undefined;
      l.dueAt = this.now();
      this.counters.interruptedSteps++;
    }
    this.save();
    d.alerts.on("event", this.onAlert);
    this.timer = setInterval(() => void this.tick(), d.tickMs ?? 1000);
    this.timer.unref();
  }

  /** "dry-run": every action step is recorded as what it would do, none is done */
  get mode(): LadderPolicy["mode"] { return this.d.policy.mode; }

  /** Ladders under way or escalated, and the last ended ones. */
  list(): LadderState[] {
    return this.state.ladders.map((l) => ({ ...l, history: [...l.history] }));
  }

  active(uuid: string): LadderState | undefined {
    return this.state.ladders.find((l) => l.uuid === uuid.toLowerCase() && l.status !== "ended");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.d.alerts.off("event", this.onAlert);
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    if (this.dirty) this.save();
  }

  private alertChanged(e: AlertEvent): void {
    if (e.alert.kind !== "guestUnhealthy" || this.stopped) return;
    const uuid = e.alert.subject.toLowerCase();
    const running = this.active(uuid);
    if (e.change === "cleared") {
      if (running) this.end(running, "healthy again", "ok");
      return;
    }
    if (running) return; // one ladder per guest: more evidence does not start another
    const steps = stepsFor(this.d.policy, uuid, e.alert.subjectName, this.d.tagsOf?.(e.host, uuid));
    if (!steps) return;
    const now = this.now();
    const l: LadderState = { id: randomUUID(), uuid, name: e.alert.subjectName, host: e.host, startedAt: now, steps: steps.map(stepName), next: 0, dueAt: now, status: "running", history: [], evidence: e.alert.evidenceJson };
    this.state.ladders.push(l);
    this.counters.started++;
    this.d.log.warn({ ladder: l.id, uuid, guest: l.name, host: l.host, steps: l.steps }, "ladder started");
    this.record(l, "ladderStart", "ok", { steps: l.steps, evidence: safeJson(l.evidence) });
    this.dirty = true; // written with the tick's first phase (a storm starts a thousand ladders: one write)
    void this.tick();
  }

  /**
   * Runs every due step. Two phases, one durable write each (not one per step: a storm of 1,000
   * ladders would rewrite the state file thousands of times): first every due ladder advances past
   * its waits and ends, and each due action step is marked in flight — saved; then the marked
   * steps are carried out (guards in order, then the actions at once) — saved again.
   */
  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const marked: LadderState[] = [];
      for (const l of this.state.ladders) {
        if (l.status !== "running" || l.inFlight !== undefined || l.dueAt > this.now()) continue;
        if (this.advance(l)) marked.push(l);
      }
      if (marked.length && (!this.save() || (this.d.persist && !(await this.persisted())))) {
        for (const l of marked) l.inFlight = undefined; // not recorded: not done (tried again next tick)
        this.dirty = true;
        return;
      }
      if (this.dirty) this.save();
      if (marked.length === 0 || this.stopped) return;
      const runs = marked.map((l) => this.decide(l)); // guards in order: each counts the actions before it
      await Promise.all(runs.map((r) => this.finish(r)));
      this.forgetOldMarks();
      this.save();
    } finally {
      this.busy = false;
    }
    // a step that follows at once (no wait between) need not wait for the next tick
    if (!this.stopped && this.state.ladders.some((l) => l.status === "running" && l.inFlight === undefined && l.dueAt <= this.now())) setImmediate(() => void this.tick());
  }

  /** Moves a due ladder past its waits, or ends it; true when its next step is an action, now marked in flight. */
  private advance(l: LadderState): boolean {
    for (;;) {
      if (l.next >= l.steps.length) {
        this.end(l, "every step done", "ok");
        return false;
      }
      if (!this.stillUnhealthy(l)) {
        // after a CMA restart the nanoprobes report their alerts again within seconds: wait for that
        if (this.now() - this.startedAt < RESTART_GRACE_MS) {
          l.dueAt = this.now() + (this.d.tickMs ?? 1000); // looked at again next tick, not spun on
          return false;
        }
        this.end(l, "no longer reported unhealthy", "ok");
        return false;
      }
      const s = stepOf(l.steps[l.next]);
      if (!("wait" in s)) {
        l.inFlight = l.next;
        return true;
      }
      l.next++;
      l.dueAt = this.now() + s.wait;
      this.dirty = true;
      if (s.wait > 0) return false;
    }
  }

  /** What a marked step will do: a notice, a refusal by the guards, a dry run, or an action (its mark taken now). */
  private decide(l: LadderState): { l: LadderState; i: number; s: { do: string }; refusal?: { refusal: string; why: string } } {
    const i = l.inFlight!;
    const s = stepOf(l.steps[i]) as { do: string };
    if (s.do === "notify" || s.do === "escalate") return { l, i, s };
    const g = guardAction(this.d.membership, this.d.policy.limits, this.state.actions, { ladder: l.id, uuid: l.uuid, host: l.host }, this.now());
    if (!g && this.d.policy.mode === "act") this.state.actions.push({ ladder: l.id, uuid: l.uuid, host: l.host, at: this.now() }); // counted before it is done: the next guard sees it
    return { l, i, s, refusal: g };
  }

  /** Carries out a decided step and records it. */
  private async finish(r: { l: LadderState; i: number; s: { do: string }; refusal?: { refusal: string; why: string } }): Promise<void> {
    const { l, i, s } = r;
    this.counters.stepsRun++;
    let outcome: StepOutcome = "ok";
    let detail: string | undefined;
    if (s.do === "notify" || s.do === "escalate") {
      detail = await this.notify(l, s.do === "notify" ? "unhealthy" : "escalated");
    } else if (r.refusal) {
      outcome = "refused";
      detail = `${r.refusal.refusal}: ${r.refusal.why}`;
      this.counters.refusals++;
    } else if (this.d.policy.mode === "dry-run") {
      outcome = "dry-run";
      detail = `would ${s.do} ${l.name} on ${l.host}`;
    } else {
      try {
        const a = await this.d.actions.request(l.uuid, s.do);
        l.host = a.host;
        detail = `${s.do} done on ${a.host}${a.rebootMethod ? ` through ${a.rebootMethod === "agent" ? "the guest agent" : "the ACPI power button"}` : ""}: now ${a.state}`;
        this.counters.actionsDone++;
      } catch (e) {
        outcome = "failed";
        detail = e instanceof DomainActionError ? `${e.code}: ${e.message}` : (e as Error).message;
      }
    }
    l.history.push({ step: i, what: l.steps[i], at: this.now(), outcome, ...(detail ? { detail } : {}) });
    l.inFlight = undefined;
    l.next = i + 1;
    l.dueAt = this.now();
    this.d.log.warn({ ladder: l.id, uuid: l.uuid, guest: l.name, step: l.steps[i], outcome, detail }, "ladder step");
    this.record(l, s.do === "notify" || s.do === "escalate" ? `ladder${s.do === "notify" ? "Notify" : "Escalate"}` : "ladderAction",
      outcome === "ok" || outcome === "dry-run" ? "ok" : outcome === "refused" ? "denied" : "failed", { step: l.steps[i], outcome, detail });
    this.raise(l, s.do, outcome, detail ?? "");
    if (s.do === "escalate") {
      l.status = "escalated";
      this.counters.escalated++;
    } else if (r.refusal?.refusal === "fleet-limit") {
      // a storm has a common cause: straight to the escalation
      const esc = l.steps.indexOf("escalate", i + 1);
      l.next = esc >= 0 ? esc : l.steps.length;
      if (esc < 0) {
        detail = await this.notify(l, "escalated");
        l.status = "escalated";
        this.counters.escalated++;
        this.record(l, "ladderEscalate", "ok", { step: "escalate (fleet limit)", detail });
        this.raise(l, "escalate", "ok", "fleet-wide limit reached: escalated");
      }
    }
  }

  private stillUnhealthy(l: LadderState): boolean {
    return this.d.alerts.active(l.host).some((a) => a.alert.kind === "guestUnhealthy" && a.alert.subject.toLowerCase() === l.uuid)
      || this.d.alerts.active().some((a) => a.alert.kind === "guestUnhealthy" && a.alert.subject.toLowerCase() === l.uuid); // migrated: reported by its new host
  }

  private end(l: LadderState, why: string, outcome: "ok"): void {
    const wasEscalated = l.status === "escalated";
    l.status = "ended";
    l.endedAt = this.now();
    l.endReason = why;
    if (why === "healthy again") this.counters.endedHealthy++;
    this.d.log.info({ ladder: l.id, uuid: l.uuid, guest: l.name, why }, "ladder ended");
    this.record(l, "ladderEnd", outcome, { why, steps: l.history.length, escalated: wasEscalated });
    this.announce({ ladder: l.id, uuid: l.uuid, name: l.name, host: l.host, level: LADDER_LEVELS.ended, step: "end", outcome: "ok", detail: why, at: this.now() });
    void this.d.webhooks.send({ event: "resolved", ladder: l.id, guest: { uuid: l.uuid, name: l.name }, host: l.host, detail: why, at: this.now() });
    const ended = this.state.ladders.filter((x) => x.status === "ended");
    if (ended.length > KEEP_ENDED) this.state.ladders.splice(this.state.ladders.indexOf(ended[0]), 1);
    this.dirty = true; // written at the next tick
  }

  private async notify(l: LadderState, event: LadderNotice["event"]): Promise<string> {
    const r = await this.d.webhooks.send({ event, ladder: l.id, guest: { uuid: l.uuid, name: l.name }, host: l.host, detail: l.evidence, at: this.now(), steps: l.steps, done: l.history.map((h) => `${h.what}: ${h.outcome}`) });
    return r;
  }

  /** The ladder's level after a step: never lower than it was (a refused reset still forced nothing, but the ladder has come that far). */
  private raise(l: LadderState, step: string, outcome: string, detail: string): void {
    l.level = Math.max(l.level ?? 0, levelOfStep(step));
    this.announce({ ladder: l.id, uuid: l.uuid, name: l.name, host: l.host, level: l.level, step, outcome, detail, at: this.now() });
  }

  private announce(e: LadderLevelEvent): void {
    try {
      this.events.emit("level", e);
    } catch (err) {
      this.d.log.error({ err: (err as Error).message, ladder: e.ladder }, "ladder: a level listener failed");
    }
  }

  private forgetOldMarks(): void {
    const keep = Math.max(this.d.policy.limits.windowMs, this.d.policy.limits.guestCooldownMs);
    const now = this.now();
    this.state.actions = this.state.actions.filter((m: ActionMark) => now - m.at < keep);
  }

  private record(l: LadderState, action: string, outcome: "ok" | "denied" | "failed", detail: Record<string, unknown>): void {
    try {
      this.d.audit.record({ actor: "ladder", via: "policy", from: "cma", action, target: l.uuid, outcome, detail: { ladder: l.id, name: l.name, host: l.host, ...detail } });
    } catch (e) {
      this.d.log.error({ err: (e as Error).message, ladder: l.id, action }, "ladder: audit record failed");
    }
  }

  /** false (logged, counted) when the saved state did not reach etcd (high availability) */
  private async persisted(): Promise<boolean> {
    const ok = await this.d.persist!().catch(() => false);
    if (!ok) {
      this.counters.persistFailures++;
      this.d.log.warn("ladder state not in etcd: its steps wait until it is (a leader taking over must see them)");
    }
    return ok;
  }

  /** false (logged, counted) when the state could not be written */
  private save(): boolean {
    try {
      this.d.store.save(this.state);
      this.dirty = false;
      return true;
    } catch (e) {
      this.counters.saveErrors++;
      this.d.log.error({ err: (e as Error).message, path: this.d.store.path }, "ladder state not saved: the next step waits until it can be");
      return false;
    }
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

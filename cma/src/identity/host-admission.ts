/**
 * Admission of announcing hosts by their identity keys, and the admin's operations on the pins.
 *
 * admit() runs before anything about a host changes: it checks the announcement's proof (bound to
 * the cluster, the frame's sender name and session, and the time), asks the policy
 * (admission-policy.ts), records what it decided in the pin store, and answers whether the
 * announcement may go on. Every refusal is counted by reason; a key that is not the pinned one is
 * also logged at warn and emitted as a "mismatch" (the CMA turns it into a membership event and a
 * security alert: monitoring-errors/watchers.ts).
 *
 * mayTalk() is the gate for every other message: a host whose pin waits for approval or was revoked
 * is not heard.
 *
 * Pins made by admission itself (first use, enrolled, rotation) are saved shortly after (one write
 * for a join storm, not one per host); the admin's operations are saved before they answer. A pin
 * made by a one-time enrollment token is saved at once, then the token marked spent: a token admits
 * one key, once.
 */
import { EventEmitter } from "node:events";
import { ProofRefused, keyFingerprint, verifyAnnounceProof, verifyEnrollmentProof } from "@ringwatch/shared";
import type { Announce, InboundMessage, Logger, PublicHostKeys } from "@ringwatch/shared";
import type { AuditRecord } from "../audit/audit-entry.js";
import { BY_ENROLLMENT_TOKEN, REFUSAL_REASONS, decide } from "./admission-policy.js";
import type { EnrollmentCheck, PolicySettings, Presented, RefusalReason } from "./admission-policy.js";
import type { HostPin, PinStore } from "./pin-store.js";
import { EnrollmentStore } from "./enrollment-store.js";
import type { Enrollment } from "./enrollment-store.js";

/** Automatic pin changes are written this long after the first one (a join storm is one write)... */
const SAVE_DELAY_MS = 200;
/** ...or 20 times as long as the last write took, up to 5 s: writing 10,000 pins every 200 ms took ~6 % of the CMA during a join (a crash loses at most these seconds of first-use pins: those hosts are pinned again at their next announcement) */
const SAVE_DELAY_PER_WRITE_MS = 20;
const MAX_SAVE_DELAY_MS = 5000;
/** The same refusal (host and reason) is logged at warn at most this often; the repeats at debug. */
const WARN_EVERY_MS = 10_000;
const MAX_WARN_KEYS = 10_000;
/** Keys waiting for approval kept at most: a host holding the cluster key, announcing made-up names, cannot grow the pin file without bound. */
export const MAX_PENDING_KEYS = 10_000;

export interface MismatchEvent {
  host: string;
  /** where the announcement came from, "address:port" */
  from: string;
  /** the fingerprint it showed */
  presented: string;
  /** the fingerprint pinned (or enrolled) for the name */
  pinned: string;
  at: number;
}

export type PinChange = "pinned" | "pending" | "rotated" | "approved" | "revoked" | "forgotten";

export interface PinChangeEvent {
  host: string;
  change: PinChange;
  /** who: "first use", "enrolled", "rotation" or the admin */
  by: string;
}

export type HostKeyErrorCode = "unknown-host" | "not-pending" | "revoked" | "pinned" | "listed" | "no-enrollment" | "too-many";

export class HostKeyError extends Error {
  constructor(readonly code: HostKeyErrorCode, message: string) {
    super(message);
  }
}

export interface HostAdmissionDeps {
  store: PinStore;
  /** the one-time enrollment tokens made by admins (default: none, in memory) */
  enrollments?: EnrollmentStore;
  settings: PolicySettings;
  /** the cluster name the proofs are bound to */
  cluster: string;
  /** the channel's allowed clock skew: a proof older or newer than this is stale */
  maxSkewMs: number;
  /** rotations are recorded here (the admin's operations are recorded by the API, with the request) */
  audit?: { record(r: AuditRecord): unknown };
  log: Logger;
}

export type AdmissionCounters = {
  admitted: number;
  admittedWithoutKeys: number;
  pinned: number;
  rotated: number;
  pendingRecorded: number;
  approved: number;
  revoked: number;
  forgotten: number;
  /** hosts admitted and pinned by a one-time enrollment token */
  enrolledByToken: number;
  enrollmentsMade: number;
  enrollmentsCancelled: number;
  /** messages other than announcements from a host whose pin is pending or revoked */
  droppedFromUnadmitted: number;
  refused: Record<RefusalReason, number>;
};

export class HostAdmission extends EventEmitter<{ mismatch: [MismatchEvent]; pinChange: [PinChangeEvent] }> {
  readonly counters: AdmissionCounters = {
    admitted: 0, admittedWithoutKeys: 0, pinned: 0, rotated: 0, pendingRecorded: 0, approved: 0, revoked: 0, forgotten: 0, enrolledByToken: 0, enrollmentsMade: 0, enrollmentsCancelled: 0, droppedFromUnadmitted: 0,
    refused: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>,
  };
  private saveTimer: NodeJS.Timeout | undefined;
  /** how long the last write of the pin file took (ms): paces the automatic writes */
  private lastSaveMs = 0;
  private readonly lastWarned = new Map<string, number>();
  private readonly enrollments: EnrollmentStore;

  constructor(private readonly deps: HostAdmissionDeps) {
    super();
    this.enrollments = deps.enrollments ?? EnrollmentStore.open("");
  }

  /** the pins (read-only use: changes go through admit and the admin's operations) */
  get store(): PinStore {
    return this.deps.store;
  }

  get policy(): PolicySettings["policy"] {
    return this.deps.settings.policy;
  }

  /** The pinned public keys of a host (while its pin is in force). */
  keysOf(name: string): PublicHostKeys | undefined {
    return this.deps.store.keysOf(name);
  }

  /** May this announcement go on? Decides, records the pin, counts. Never throws. */
  admit(m: InboundMessage, a: Announce, now = Date.now()): boolean {
    const name = m.from.id;
    const from = `${m.from.address}:${m.from.port}`;
    let shown: Presented;
    try {
      const v = verifyAnnounceProof(a.proof, { cluster: this.deps.cluster, host: name, session: m.from.session }, this.deps.maxSkewMs, now);
      shown = { keys: v.keys, fingerprint: keyFingerprint(v.keys.identityPublic), ...(v.rotatedFrom ? { rotatedFrom: v.rotatedFrom } : {}) };
    } catch (e) {
      if (!(e instanceof ProofRefused)) throw e;
      if (e.reason !== "noProof") return this.refuse(name, from, e.reason, e.message, now);
      shown = { keys: undefined };
    }
    const store = this.deps.store;
    const pin = store.get(name);
    const enrollment = shown.keys ? this.checkEnrollment(name, shown.keys.identityPublic, a.enrollmentProof, now) : "none";
    const d = decide(name, pin, shown, this.deps.settings, enrollment);
    if (d.verdict === "refuse") {
      if (d.reason.startsWith("enrollment") && pin?.state === "pinned" && shown.keys) {
        // a spent (or bad) token shown for a name pinned to another key: a claim on that name, raised like any mismatch
        this.emit("mismatch", { host: name, from, presented: shown.fingerprint, pinned: pin.fingerprint, at: now });
      }
      if (d.reason === "mismatch" && shown.keys) {
        const pinned = pin?.fingerprint ?? this.deps.settings.enrolled.get(name) ?? "?";
        this.emit("mismatch", { host: name, from, presented: shown.fingerprint, pinned, at: now });
        return this.refuse(name, from, "mismatch", `host key mismatch for ${name} from ${m.from.address}: it shows ${shown.fingerprint}, ${pin ? "pinned" : "enrolled"} is ${pinned}`, now);
      }
      return this.refuse(name, from, d.reason, d.reason === "noProof" ? "announcement without host keys (a nanoprobe older than host keys?)" : `${name}: ${d.reason}`, now);
    }
    if (d.verdict === "wait") {
      if (!pin && store.count("pending") >= MAX_PENDING_KEYS) {
        return this.refuse(name, from, "pending", `${MAX_PENDING_KEYS} keys already wait for approval: ${name} is not recorded (approve or forget some)`, now);
      }
      if (!pin) {
        store.set({ name, state: "pending", keys: shown.keys!, fingerprint: (shown as { fingerprint: string }).fingerprint, firstSeenAt: now, lastAddress: from });
        this.counters.pendingRecorded++;
        this.scheduleSave();
        this.deps.log.warn({ host: name, from, fingerprint: (shown as { fingerprint: string }).fingerprint }, "new host key waits for an admin's approval (ringwatch-cma host-keys approve)");
        this.emit("pinChange", { host: name, change: "pending", by: "first use" });
      }
      return this.refuse(name, from, "pending", `${name} waits for approval`, now);
    }
    this.counters.admitted++;
    if (d.pin === "none") {
      this.counters.admittedWithoutKeys++;
      this.warnOnce(`${name}\0nokeys`, now, { host: name, from }, "host admitted without host keys (allowHostsWithoutKeys): upgrade its nanoprobe");
      return true;
    }
    const keys = shown.keys!;
    const fingerprint = (shown as { fingerprint: string }).fingerprint;
    if (d.pin === "keep") {
      if (!pin!.keys.exchangePublic.equals(keys.exchangePublic)) {
        // the identity key vouches for its exchange key: a new one (signed by the pinned key) is taken
        store.set({ ...pin!, keys });
        this.scheduleSave();
        this.deps.log.info({ host: name, fingerprint }, "host's exchange key changed (signed by its pinned identity key)");
      }
      return true;
    }
    const next: HostPin = { name, state: "pinned", keys, fingerprint, firstSeenAt: d.pin === "new" && pin?.fingerprint !== fingerprint ? now : pin?.firstSeenAt ?? now, pinnedAt: now, pinnedBy: d.by, lastAddress: from };
    store.set(next);
    if (d.pin === "new" && d.by === BY_ENROLLMENT_TOKEN) {
      this.spendEnrollment(name, from, fingerprint, now);
    } else {
      this.scheduleSave();
    }
    if (d.pin === "rotate") {
      this.counters.rotated++;
      this.deps.log.warn({ host: name, from, was: pin!.fingerprint, fingerprint }, "host key rotated: re-pinned to the new key (signed by the pinned one)");
      this.record({ actor: "system", via: "admission", from, action: "hostKeyRotate", target: name, outcome: "ok", detail: { was: pin!.fingerprint, fingerprint } });
      this.emit("pinChange", { host: name, change: "rotated", by: "rotation" });
    } else {
      this.counters.pinned++;
      this.deps.log.info({ host: name, from, fingerprint, by: d.by }, "host key pinned");
      this.emit("pinChange", { host: name, change: "pinned", by: d.by });
    }
    return true;
  }

  /**
   * The announcement's enrollment proof against the enrollment made for its name: checked before
   * anything else about the enrollment is told (a proof of another token learns nothing). An
   * expired enrollment met here is dropped.
   */
  private checkEnrollment(name: string, identityPublic: Buffer, proof: Uint8Array | undefined, now: number): EnrollmentCheck {
    if (!proof || proof.length === 0) return "none";
    const e = this.enrollments.get(name);
    if (!e) return "enrollmentUnknown";
    if (!verifyEnrollmentProof(e.key, { cluster: this.deps.cluster, host: name, identityPublic }, proof)) return "enrollmentInvalid";
    if (e.expiresAt <= now) {
      this.dropExpired(name);
      return "enrollmentExpired";
    }
    return e.usedAt === undefined ? "valid" : "enrollmentUsed";
  }

  /** A host admitted by its token: the pin is written now, then the token marked spent (a crash in between leaves the pin: another key for the name is a mismatch). */
  private spendEnrollment(name: string, from: string, fingerprint: string, now: number): void {
    this.flushLogged();
    const e = this.enrollments.get(name);
    try {
      this.enrollments.consume(name, fingerprint, now);
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message, path: this.enrollments.path, host: name }, "could not save the host enrollments (the token is spent in memory)");
      this.enrollments.markSpentInMemory(name, fingerprint, now);
    }
    this.counters.enrolledByToken++;
    this.record({ actor: "system", via: "admission", from, action: "hostKeyEnrolled", target: name, outcome: "ok", detail: { fingerprint, enrollmentBy: e?.createdBy ?? "?" } });
  }

  private dropExpired(name: string): void {
    try {
      this.enrollments.remove(name);
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message, path: this.enrollments.path }, "could not save the host enrollments");
    }
  }

  /** The gate for every message but announcements: false (counted) while the sender's pin is pending or revoked. */
  mayTalk(name: string): boolean {
    const state = this.deps.store.get(name)?.state;
    if (state !== "pending" && state !== "revoked") return true;
    this.counters.droppedFromUnadmitted++;
    return false;
  }

  // ------------------------------------------------------------------ the admin's operations

  /** Pins, those waiting for approval first. */
  list(): HostPin[] {
    const rank = { pending: 0, pinned: 1, revoked: 2 } as const;
    return this.deps.store.all().sort((a, b) => rank[a.state] - rank[b.state] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private pinOf(name: unknown): HostPin {
    const p = typeof name === "string" ? this.deps.store.get(name) : undefined;
    if (!p) throw new HostKeyError("unknown-host", `no host key recorded for ${JSON.stringify(name)}`);
    return p;
  }

  /** A pending key is pinned: its next announcement is admitted. */
  approve(name: unknown, by: string, now = Date.now()): HostPin {
    const p = this.pinOf(name);
    if (p.state !== "pending") throw new HostKeyError(p.state === "revoked" ? "revoked" : "not-pending", `${p.name}: its key is ${p.state}, not pending${p.state === "revoked" ? " (forget it to let the host be admitted as new)" : ""}`);
    const next: HostPin = { ...p, state: "pinned", pinnedAt: now, pinnedBy: by };
    this.commit(next);
    this.counters.approved++;
    this.deps.log.info({ host: p.name, fingerprint: p.fingerprint, by }, "host key approved");
    this.emit("pinChange", { host: p.name, change: "approved", by });
    return next;
  }

  /** The key is refused from now on, and the host taken out of the rings (by whoever listens to pinChange). */
  revoke(name: unknown, by: string, now = Date.now()): HostPin {
    const p = this.pinOf(name);
    const next: HostPin = { ...p, state: "revoked", revokedAt: now, revokedBy: by };
    this.commit(next);
    this.counters.revoked++;
    this.deps.log.warn({ host: p.name, fingerprint: p.fingerprint, by }, "host key revoked");
    this.emit("pinChange", { host: p.name, change: "revoked", by });
    return next;
  }

  /** Forget the pin: the host's next announcement is treated as new (re-keying a host). */
  forget(name: unknown, by: string): HostPin {
    const p = this.pinOf(name);
    this.deps.store.delete(p.name);
    try {
      this.flush();
    } catch (e) {
      this.deps.store.set(p);
      throw e;
    }
    this.counters.forgotten++;
    this.deps.log.warn({ host: p.name, fingerprint: p.fingerprint, by }, "host key forgotten: the next announcement is treated as a new host");
    this.emit("pinChange", { host: p.name, change: "forgotten", by });
    return p;
  }

  /**
   * A one-time enrollment token for a host name, valid for ttlMs: the token is in the answer only
   * (the store keeps its hash). Refused for a name pinned or revoked (forget it first) or listed in
   * hostKeysFile (the file says its key). A new one for the same name voids the earlier token.
   */
  enroll(name: string, ttlMs: number, by: string, now = Date.now()): { token: string; enrollment: Enrollment } {
    const p = this.deps.store.get(name);
    if (p && p.state !== "pending") throw new HostKeyError("pinned", `${name} is ${p.state} (${p.fingerprint}): forget its pin first to enroll it anew`);
    if (this.deps.settings.policy === "enrolled" && this.deps.settings.enrolled.has(name)) throw new HostKeyError("listed", `${name} is listed in hostKeysFile: the file says which key it has`);
    let made: { token: string; enrollment: Enrollment };
    try {
      made = this.enrollments.create(name, ttlMs, by, now);
    } catch (e) {
      if (e instanceof RangeError) throw new HostKeyError("too-many", e.message);
      throw e;
    }
    this.counters.enrollmentsMade++;
    this.deps.log.info({ host: name, by, expiresAt: new Date(made.enrollment.expiresAt).toISOString() }, "enrollment token made");
    return made;
  }

  /** Enrollments not expired (outstanding and spent), by name; never their tokens. */
  listEnrollments(now = Date.now()): Enrollment[] {
    return this.enrollments.list(now);
  }

  /** Cancel an enrollment: its token admits nobody from now on. */
  cancelEnrollment(name: unknown, by: string, now = Date.now()): Enrollment {
    const e = typeof name === "string" ? this.enrollments.get(name) : undefined;
    if (!e || e.expiresAt <= now) throw new HostKeyError("no-enrollment", `no enrollment for ${JSON.stringify(name)}`);
    this.enrollments.remove(e.name);
    this.counters.enrollmentsCancelled++;
    this.deps.log.info({ host: e.name, by }, "enrollment cancelled");
    return e;
  }

  /** Enrollments outstanding (not spent, not expired). */
  get enrollmentsOutstanding(): number {
    return this.enrollments.outstanding();
  }

  /** Write pending automatic changes now (at stop). */
  stop(): void {
    if (this.saveTimer) this.flushLogged();
  }

  private commit(next: HostPin): void {
    const before = this.deps.store.get(next.name);
    this.deps.store.set(next);
    try {
      this.flush();
    } catch (e) {
      if (before) this.deps.store.set(before);
      throw e;
    }
  }

  private flush(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const t0 = performance.now();
    this.deps.store.save();
    this.lastSaveMs = performance.now() - t0;
  }

  private flushLogged(): void {
    try {
      this.flush();
    } catch (e) {
      this.deps.log.error({ err: (e as Error).message, path: this.deps.store.path }, "could not save the host key pins");
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.flushLogged(), Math.min(MAX_SAVE_DELAY_MS, Math.max(SAVE_DELAY_MS, SAVE_DELAY_PER_WRITE_MS * this.lastSaveMs)));
  }

  private refuse(name: string, from: string, reason: RefusalReason, detail: string, now: number): false {
    this.counters.refused[reason]++;
    this.warnOnce(`${name}\0${reason}`, now, { host: name, from, reason, err: detail }, "announcement refused: host identity");
    return false;
  }

  /** At warn once per WARN_EVERY_MS per key (an impostor retrying every second is one line per 10 s), else debug. */
  private warnOnce(key: string, now: number, fields: Record<string, unknown>, msg: string): void {
    const last = this.lastWarned.get(key);
    if (last !== undefined && now - last < WARN_EVERY_MS) {
      this.deps.log.debug(fields, msg);
      return;
    }
    if (this.lastWarned.size >= MAX_WARN_KEYS) this.lastWarned.clear();
    this.lastWarned.set(key, now);
    this.deps.log.warn(fields, msg);
  }

  private record(r: AuditRecord): void {
    try {
      this.deps.audit?.record(r);
    } catch (e) {
      this.deps.log.error({ err: (e as Error).message, action: r.action, target: r.target }, "could not record in the audit log");
    }
  }
}

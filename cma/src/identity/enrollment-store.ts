/**
 * One-time enrollment tokens the CMA has handed out: host name → the token's hash (the MAC key its
 * proofs are checked with; the token itself is never kept), who made it, when it expires, and
 * whether a host already used it (and with which key). Kept in <dataDir>/host-enrollments.json,
 * written atomically like the pins (temp file, fsync, rename, mode 0600: the hashes can make
 * proofs); a file that does not read back stops the CMA at start, so an enrollment an admin
 * cancelled or a host used can never come back by a silent reset.
 *
 * A used enrollment is kept until it would have expired, so a second host showing the same token
 * is refused as "used" (not "unknown"); expired ones are dropped when they are met, at load and at
 * every write.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { writePrivateFileAtomically } from "./private-file.js";
import { join } from "node:path";
import { ConfigError, ENROLLMENT_KEY_BYTES, enrollmentKey, newEnrollmentToken } from "@ringwatch/shared";

export interface Enrollment {
  name: string;
  /** SHA-256 of the token: the key its proofs are made with */
  key: Buffer;
  createdAt: number;
  /** the admin who made it */
  createdBy: string;
  expiresAt: number;
  /** when a host was admitted with it; absent while outstanding */
  usedAt?: number;
  /** the fingerprint of the key it admitted */
  usedBy?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const FILE = "host-enrollments.json";
/** Enrollments kept at most: each is an admin's act, so this is far beyond any real use. */
export const MAX_ENROLLMENTS = 10_000;

function toJson(e: Enrollment): Record<string, unknown> {
  return { ...e, key: e.key.toString("base64") };
}

function fromJson(x: unknown, where: string): Enrollment {
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}`);
  };
  if (!x || typeof x !== "object" || Array.isArray(x)) fail("not an object");
  const o = x as Record<string, unknown>;
  if (typeof o.name !== "string" || !NAME_RE.test(o.name)) fail(`bad name ${JSON.stringify(o.name)}`);
  const key = typeof o.key === "string" && /^[A-Za-z0-9+/]+=*$/.test(o.key) ? Buffer.from(o.key, "base64") : fail("key is not base64");
  if (key.length !== ENROLLMENT_KEY_BYTES) fail(`key is ${key.length} bytes, not ${ENROLLMENT_KEY_BYTES}`);
  const time = (k: string, required: boolean): number | undefined => {
    const v = o[k];
    if (v === undefined && !required) return undefined;
    return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : fail(`${k} is not a time`);
  };
  const text = (k: string, required: boolean): string | undefined => {
    const v = o[k];
    if (v === undefined && !required) return undefined;
    return typeof v === "string" && v.length <= 256 ? v : fail(`${k} is not a short string`);
  };
  const e: Enrollment = { name: o.name as string, key, createdAt: time("createdAt", true)!, createdBy: text("createdBy", true)!, expiresAt: time("expiresAt", true)! };
  const usedAt = time("usedAt", false), usedBy = text("usedBy", false);
  if ((usedAt === undefined) !== (usedBy === undefined)) fail("usedAt and usedBy go together");
  return { ...e, ...(usedAt !== undefined ? { usedAt, usedBy: usedBy! } : {}) };
}

export class EnrollmentStore {
  private readonly byName = new Map<string, Enrollment>();
  /** undefined: in memory only (a CMA without dataDir) */
  readonly path: string | undefined;

  private constructor(path: string | undefined) {
    this.path = path;
  }

  /** The enrollments in dataDir ("" keeps them in memory); a file that does not read back is a ConfigError. */
  static open(dataDir: string, now = Date.now()): EnrollmentStore {
    if (!dataDir) return new EnrollmentStore(undefined);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const store = new EnrollmentStore(join(dataDir, FILE));
    store.load(now);
    return store;
  }

  private load(now: number): void {
    let text: string;
    try {
      text = readFileSync(this.path!, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // none made yet
      throw new ConfigError(`host enrollments ${this.path}: cannot read: ${(e as Error).message}`);
    }
    try {
      const doc = JSON.parse(text) as { version?: unknown; enrollments?: unknown };
      if (!doc || typeof doc !== "object" || doc.version !== 1 || !Array.isArray(doc.enrollments)) throw new Error("not an enrollment file (version 1 with a list of enrollments)");
      for (const [i, x] of (doc.enrollments as unknown[]).entries()) {
        const e = fromJson(x, `enrollments[${i}]`);
        if (this.byName.has(e.name)) throw new Error(`enrollments[${i}]: ${e.name} is listed twice`);
        this.byName.set(e.name, e);
      }
    } catch (e) {
      this.byName.clear();
      throw new ConfigError(`host enrollments ${this.path} are damaged (${(e as Error).message}); the CMA does not start without them: restore the file from a backup, or move it aside (every outstanding enrollment token is then void)`);
    }
    this.prune(now);
  }

  get(name: string): Enrollment | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  /** Not expired, by name (used ones too, marked). */
  list(now = Date.now()): Enrollment[] {
    return [...this.byName.values()].filter((e) => e.expiresAt > now).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Outstanding (not used, not expired). */
  outstanding(now = Date.now()): number {
    let n = 0;
    for (const e of this.byName.values()) if (e.usedAt === undefined && e.expiresAt > now) n++;
    return n;
  }

  /**
   * A new enrollment for a name (replacing one it had: the earlier token is void), saved before it
   * returns; the token is in the answer only. Throws when MAX_ENROLLMENTS are outstanding.
   */
  create(name: string, ttlMs: number, by: string, now = Date.now()): { token: string; enrollment: Enrollment } {
    this.prune(now);
    if (!this.byName.has(name) && this.byName.size >= MAX_ENROLLMENTS) throw new RangeError(`${MAX_ENROLLMENTS} enrollments are kept already: cancel some, or wait for them to expire`);
    const token = newEnrollmentToken();
    const enrollment: Enrollment = { name, key: enrollmentKey(token), createdAt: now, createdBy: by, expiresAt: now + ttlMs };
    this.change(name, enrollment);
    return { token, enrollment };
  }

  /** Spent: a host was admitted with it (kept, used, until it expires). Saved before it returns. */
  consume(name: string, fingerprint: string, now = Date.now()): void {
    const e = this.byName.get(name);
    if (!e) return;
    this.change(name, { ...e, usedAt: now, usedBy: fingerprint });
  }

  /** Spent in memory only (its save failed): a host was admitted, the token must not admit another. */
  markSpentInMemory(name: string, fingerprint: string, now = Date.now()): void {
    const e = this.byName.get(name);
    if (e) this.byName.set(name, { ...e, usedAt: now, usedBy: fingerprint });
  }

  /** Remove one (cancelled, or expired when met); saved before it returns. */
  remove(name: string): Enrollment | undefined {
    const e = this.byName.get(name);
    if (e) this.change(name, undefined);
    return e;
  }

  /** Drop the expired ones (in memory; the next save writes without them). */
  prune(now = Date.now()): number {
    let n = 0;
    for (const [name, e] of this.byName) {
      if (e.expiresAt <= now) {
        this.byName.delete(name);
        n++;
      }
    }
    return n;
  }

  /** Set or delete one and save; on a failed save memory goes back to what the file holds. */
  private change(name: string, next: Enrollment | undefined): void {
    const before = this.byName.get(name);
    if (next) this.byName.set(name, next);
    else this.byName.delete(name);
    try {
      this.save();
    } catch (e) {
      if (before) this.byName.set(name, before);
      else this.byName.delete(name);
      throw e;
    }
  }

  /** Write them all: temp file, fsync, rename. */
  private save(): void {
    if (!this.path) return;
    writePrivateFileAtomically(this.path, JSON.stringify({ version: 1, enrollments: [...this.byName.values()].map(toJson) }));
  }
}

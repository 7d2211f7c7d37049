/**
 * Users and API tokens, kept in the access file (access-file.ts) and re-read whenever that file
 * changes on disk (checked on every lookup: one stat), so users and tokens made by the offline CLI
 * count in the running CMA at once. Every change is a locked read-modify-write of the file
 * (access-lock.ts); password hashing happens before the lock is taken.
 *
 * Refusals are AccessError with a code; nothing here trusts its input.
 */
import type { Logger } from "@ringwatch/shared";
import { accessFilePath, emptyAccess, readAccessFile, sameStamp, stampOf, writeAccessFile, TOKEN_NAME_RE, USER_NAME_RE } from "./access-file.js";
import type { AccessDoc, FileStamp, TokenRecord, UserRecord } from "./access-file.js";
import { withFileLock } from "./access-lock.js";
import { hashPassword, passwordProblem, verifyPassword } from "./passwords.js";
import { newToken, parseToken, secretMatches, TOKEN_ID_RE } from "./tokens.js";
import { isRole, ROLES } from "./roles.js";
import type { Role } from "./roles.js";

export type AccessErrorCode = "bad-name" | "bad-role" | "bad-password" | "bad-expiry" | "exists" | "unknown-user" | "unknown-token" | "last-admin";

export class AccessError extends Error {
  constructor(
    readonly code: AccessErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "AccessError";
  }
}

/** Who is asking, as the API sees it (decorated on each request as req.principal). */
export interface Principal {
  name: string;
  role: Role;
  via: "session" | "token";
  /** the token's id when via is "token" */
  tokenId?: string;
}

export type UserView = Omit<UserRecord, "passwordHash">;
export type TokenView = Omit<TokenRecord, "hash"> & { state: "active" | "expired" | "revoked" };

/** Longest token lifetime: 10 years (a token for Zabbix lives long; "never" is allowed too). */
export const MAX_TOKEN_LIFETIME_MS = 3650 * 86_400_000;
/** Verified against when the user does not exist, so a wrong name costs the same time as a wrong password. */
const DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

const userNameRe = new RegExp(USER_NAME_RE);
const tokenNameRe = new RegExp(TOKEN_NAME_RE);

export type TokenCheck = { ok: true; token: TokenRecord } | { ok: false; why: "malformed" | "unknown" | "expired" | "revoked" };

export class AccessStore {
  readonly counters = { reloads: 0, reloadErrors: 0 };
  private doc: AccessDoc;
  private stamp: FileStamp | undefined;

  private constructor(
    readonly path: string,
    private readonly log: Logger | undefined,
  ) {
    this.stamp = stampOf(path);
    this.doc = readAccessFile(path) ?? emptyAccess(); // a damaged file throws ConfigError: a clear start error
  }

  static open(dataDir: string, log?: Logger): AccessStore {
    return new AccessStore(accessFilePath(dataDir), log);
  }

  /** Re-read the file if it changed. A file damaged while running is logged and counted; the last good state stays. */
  refresh(): void {
    let stamp: FileStamp | undefined;
    try {
      stamp = stampOf(this.path);
    } catch {
      return;
    }
    if (sameStamp(stamp, this.stamp)) return;
    try {
      this.doc = readAccessFile(this.path) ?? emptyAccess();
      this.stamp = stamp;
      this.counters.reloads++;
    } catch (e) {
      this.stamp = stamp; // logged once per bad version, not on every request
      this.counters.reloadErrors++;
      this.log?.error({ err: (e as Error).message }, "access file changed on disk but cannot be used; keeping the users and tokens loaded before");
    }
  }

  /** A locked read-modify-write of the file. */
  private change<T>(fn: (doc: AccessDoc) => T): T {
    return withFileLock(this.path, () => {
      const doc = readAccessFile(this.path) ?? emptyAccess(); // the newest on disk, strictly: never overwrite what we cannot read
      const out = fn(doc);
      writeAccessFile(this.path, doc);
      this.doc = doc;
      this.stamp = stampOf(this.path);
      return out;
    });
  }

  hasUsers(): boolean {
    this.refresh();
    return this.doc.users.length > 0;
  }

  user(name: string): UserRecord | undefined {
    this.refresh();
    return this.doc.users.find((u) => u.name === name);
  }

  users(): UserView[] {
    this.refresh();
    return this.doc.users.map(({ passwordHash: _h, ...u }) => ({ ...u }));
  }

  tokens(now = Date.now()): TokenView[] {
    this.refresh();
    return this.doc.tokens.map(({ hash: _h, ...t }) => ({ ...t, state: t.revokedAt !== null ? "revoked" : t.expiresAt !== null && t.expiresAt <= now ? "expired" : "active" }));
  }

  private static checkName(name: unknown): string {
    if (typeof name !== "string" || !userNameRe.test(name)) throw new AccessError("bad-name", `a user name is 1–64 letters, digits or . _ @ - (starting with a letter or digit), got ${JSON.stringify(name)}`);
    return name;
  }

  private static checkRole(role: unknown): Role {
    if (!isRole(role)) throw new AccessError("bad-role", `a role is one of ${ROLES.join(", ")}, got ${JSON.stringify(role)}`);
    return role;
  }

  private static async hashNew(password: unknown): Promise<string> {
    if (typeof password !== "string") throw new AccessError("bad-password", "a password is required");
    const p = passwordProblem(password);
    if (p) throw new AccessError("bad-password", p);
    return hashPassword(password);
  }

  async addUser(name: unknown, role: unknown, password: unknown, now = Date.now()): Promise<UserView> {
    const n = AccessStore.checkName(name), r = AccessStore.checkRole(role);
    const hash = await AccessStore.hashNew(password);
    return this.change((doc) => {
      if (doc.users.some((u) => u.name === n)) throw new AccessError("exists", `user ${n} exists already (user passwd to change the password)`);
      const u: UserRecord = { name: n, role: r, passwordHash: hash, createdAt: now, passwordChangedAt: now };
      doc.users.push(u);
      return { name: n, role: r, createdAt: now, passwordChangedAt: now };
    });
  }

  /** Also ends the user's sessions (they were started before passwordChangedAt). */
  async setPassword(name: unknown, password: unknown, now = Date.now()): Promise<UserView> {
    const n = AccessStore.checkName(name);
    const hash = await AccessStore.hashNew(password);
    return this.change((doc) => {
      const u = doc.users.find((x) => x.name === n);
      if (!u) throw new AccessError("unknown-user", `no user named ${n}`);
      u.passwordHash = hash;
      u.passwordChangedAt = Math.max(now, u.passwordChangedAt + 1);
      return { name: u.name, role: u.role, createdAt: u.createdAt, passwordChangedAt: u.passwordChangedAt };
    });
  }

  removeUser(name: unknown): void {
    const n = AccessStore.checkName(name);
    this.change((doc) => {
      const u = doc.users.find((x) => x.name === n);
      if (!u) throw new AccessError("unknown-user", `no user named ${n}`);
      if (u.role === "admin" && doc.users.filter((x) => x.role === "admin").length === 1) throw new AccessError("last-admin", `${n} is the last admin; add another admin first`);
      doc.users = doc.users.filter((x) => x !== u);
    });
  }

  /** A new token; the whole token is in the answer and nowhere else. */
  createToken(o: { name: unknown; role: unknown; expiresAt: unknown; createdBy: string }, now = Date.now()): { token: string; view: TokenView } {
    if (typeof o.name !== "string" || !tokenNameRe.test(o.name)) throw new AccessError("bad-name", `a token's name is 1–64 printable characters, got ${JSON.stringify(o.name)}`);
    const role = AccessStore.checkRole(o.role);
    const exp = o.expiresAt;
    if (exp !== null && (typeof exp !== "number" || !Number.isSafeInteger(exp))) throw new AccessError("bad-expiry", `expiresAt must be a time in ms since the epoch or null, got ${JSON.stringify(exp)}`);
    if (exp !== null && exp <= now) throw new AccessError("bad-expiry", "the expiry is not in the future");
    if (exp !== null && exp > now + MAX_TOKEN_LIFETIME_MS) throw new AccessError("bad-expiry", "the expiry is more than 10 years away (give none for a token that does not expire)");
    const name = o.name;
    const t = newToken();
    return this.change((doc) => {
      const rec: TokenRecord = { id: t.id, name, role, hash: t.hash, createdAt: now, createdBy: o.createdBy.slice(0, 80), expiresAt: exp, revokedAt: null };
      doc.tokens.push(rec);
      const { hash: _h, ...view } = rec;
      return { token: t.token, view: { ...view, state: "active" as const } };
    });
  }

  revokeToken(id: unknown, now = Date.now()): TokenView {
    if (typeof id !== "string" || !TOKEN_ID_RE.test(id)) throw new AccessError("unknown-token", `a token id is 12 hex digits, got ${JSON.stringify(id)}`);
    return this.change((doc) => {
      const t = doc.tokens.find((x) => x.id === id);
      if (!t) throw new AccessError("unknown-token", `no token with id ${id}`);
      if (t.revokedAt === null) t.revokedAt = now;
      const { hash: _h, ...view } = t;
      return { ...view, state: "revoked" as const };
    });
  }

  /** The user if the password is theirs; the same work whether or not the user exists. */
  async checkPassword(name: unknown, password: unknown): Promise<UserRecord | undefined> {
    if (typeof name !== "string" || typeof password !== "string") return undefined;
    const u = this.user(name);
    const ok = await verifyPassword(password, u?.passwordHash ?? DUMMY_HASH);
    return ok && u ? this.user(name) : undefined; // re-read: removed or changed while hashing counts
  }

  checkToken(text: string, now = Date.now()): TokenCheck {
    const p = parseToken(text);
    if (!p) return { ok: false, why: "malformed" };
    this.refresh();
    const t = this.doc.tokens.find((x) => x.id === p.id);
    if (!t || !secretMatches(p.secret, t.hash)) return { ok: false, why: "unknown" };
    if (t.revokedAt !== null) return { ok: false, why: "revoked" };
    if (t.expiresAt !== null && t.expiresAt <= now) return { ok: false, why: "expired" };
    return { ok: true, token: t };
  }
}

/**
 * The access file, `<dataDir>/access.json`: local users (scrypt hashes) and API tokens (SHA-256 of
 * their secrets), never a password or token in clear. Validated whole on every load: a file that
 * is not what we wrote is an error naming the file and the fault, never an empty user list (which
 * would lock everybody out, or worse, bootstrap a second admin). Written atomically (temp file,
 * fsync, rename) with mode 0600, so a crash leaves the old file or the new one, and the CMA and
 * the offline CLI can both write it.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { Ajv } from "ajv";
import { ConfigError } from "@ringwatch/shared";
import { ROLES } from "./roles.js";
import type { Role } from "./roles.js";
import { isPasswordHash } from "./passwords.js";
import { TOKEN_HASH_RE, TOKEN_ID_RE } from "./tokens.js";

export const ACCESS_FILE = "access.json";
/** A user name: letters, digits and . _ @ -, starting with a letter or digit (fits logs and URLs). */
export const USER_NAME_RE = "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$";
/** A token's name: what it is for ("zabbix", "backup script"), printable, at most 64 characters. */
export const TOKEN_NAME_RE = "^[^\\u0000-\\u001f\\u007f]{1,64}$";

export interface UserRecord {
  name: string;
  role: Role;
  passwordHash: string;
  createdAt: number;
  /** sessions started before this are no longer valid */
  passwordChangedAt: number;
}

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  hash: string;
  createdAt: number;
  createdBy: string;
  /** ms since the epoch; null: never */
  expiresAt: number | null;
  /** ms since the epoch; null: in force */
  revokedAt: number | null;
}

export interface AccessDoc {
  version: 1;
  users: UserRecord[];
  tokens: TokenRecord[];
}

const time = { type: "integer", minimum: 0 } as const;
const ajv = new Ajv({ allErrors: false, strict: true });
const validate = ajv.compile<AccessDoc>({
  type: "object",
  required: ["version", "users", "tokens"],
  additionalProperties: false,
  properties: {
    version: { const: 1 },
    users: {
      type: "array",
      maxItems: 10_000,
      items: {
        type: "object",
        required: ["name", "role", "passwordHash", "createdAt", "passwordChangedAt"],
        additionalProperties: false,
        properties: { name: { type: "string", pattern: USER_NAME_RE }, role: { enum: ROLES }, passwordHash: { type: "string" }, createdAt: time, passwordChangedAt: time },
      },
    },
    tokens: {
      type: "array",
      maxItems: 100_000,
      items: {
        type: "object",
        required: ["id", "name", "role", "hash", "createdAt", "createdBy", "expiresAt", "revokedAt"],
        additionalProperties: false,
        properties: {
          id: { type: "string", pattern: TOKEN_ID_RE.source }, name: { type: "string", pattern: TOKEN_NAME_RE }, role: { enum: ROLES },
          hash: { type: "string", pattern: TOKEN_HASH_RE.source }, createdAt: time, createdBy: { type: "string", maxLength: 80 },
          expiresAt: { anyOf: [time, { type: "null" }] }, revokedAt: { anyOf: [time, { type: "null" }] },
        },
      },
    },
  },
});

export function emptyAccess(): AccessDoc {
  return { version: 1, users: [], tokens: [] };
}

export function accessFilePath(dataDir: string): string {
  return join(dataDir, ACCESS_FILE);
}

/** What identifies one version of the file on disk (a rename gives a new inode). */
export interface FileStamp {
  ino: number;
  mtimeMs: number;
  size: number;
}

export function stampOf(path: string): FileStamp | undefined {
  try {
    const s = statSync(path);
    return { ino: s.ino, mtimeMs: s.mtimeMs, size: s.size };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export function sameStamp(a: FileStamp | undefined, b: FileStamp | undefined): boolean {
  return a === b || (!!a && !!b && a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.size === b.size);
}

/** Check a parsed document; throws ConfigError naming the file and what is wrong. */
export function checkAccessDoc(doc: unknown, path: string): AccessDoc {
  if (!validate(doc)) {
    const e = validate.errors?.[0];
    throw new ConfigError(`access file ${path}: ${e ? `${e.instancePath || "/"} ${e.message}` : "invalid"} (fix or restore it; the CMA does not start with a damaged user list)`);
  }
  const seen = new Set<string>();
  for (const u of doc.users) {
    if (seen.has(u.name)) throw new ConfigError(`access file ${path}: user ${u.name} appears twice`);
    seen.add(u.name);
    if (!isPasswordHash(u.passwordHash)) throw new ConfigError(`access file ${path}: user ${u.name} has no valid scrypt password hash`);
  }
  const ids = new Set<string>();
  for (const t of doc.tokens) {
    if (ids.has(t.id)) throw new ConfigError(`access file ${path}: token ${t.id} appears twice`);
    ids.add(t.id);
  }
  return doc;
}

/** The file's users and tokens; undefined when there is no file yet. */
export function readAccessFile(path: string): AccessDoc | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError(`access file ${path}: cannot read it: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`access file ${path}: not JSON (${(e as Error).message})`);
  }
  return checkAccessDoc(doc, path);
}

/** Replace the file atomically: temp file (0600) in the same directory, fsync, rename, fsync the directory. */
export function writeAccessFile(path: string, doc: AccessDoc): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(doc, null, 1)}\n`);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

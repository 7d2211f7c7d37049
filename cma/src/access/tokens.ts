/**
 * API tokens for scripts and for Zabbix: `rwt_<id>_<secret>`, where the id (public, 12 hex digits)
 * names the token in lists, revocation and the audit log, and the secret is 32 random bytes
 * (base64url). Only SHA-256 of the secret is stored: with 256 random bits a slow hash adds nothing,
 * and a fast one keeps every API call cheap. Compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const SECRET_BYTES = 32;
const TOKEN_RE = /^rwt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
export const TOKEN_ID_RE = /^[0-9a-f]{12}$/;
export const TOKEN_HASH_RE = /^[0-9a-f]{64}$/;

export interface NewToken {
  id: string;
  /** the whole token, shown once */
  token: string;
  /** what is stored */
  hash: string;
}

function sha256(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function newToken(): NewToken {
  const id = randomBytes(6).toString("hex");
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { id, token: `rwt_${id}_${secret}`, hash: sha256(secret) };
}

/** The id and secret of something that looks like a token, or undefined. */
export function parseToken(text: string): { id: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(text);
  return m ? { id: m[1], secret: m[2] } : undefined;
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(sha256(secret), "hex"), b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

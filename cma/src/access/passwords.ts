/**
 * Password hashing with scrypt (node:crypto): a random salt per password, parameters stored with
 * the hash so they can be raised later without breaking old hashes, comparison in constant time.
 * Stored form: `scrypt$N$r$p$<salt base64>$<hash base64>`.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { ScryptOptions } from "node:crypto";

/** N=2^15, r=8, p=1: ~30–60 ms and 32 MiB per hash here — slow for a guesser, fine for a sign-in. */
const PARAMS = { N: 1 << 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** scrypt needs 128·N·r bytes; allow the stored parameters up to 2^17 without hitting Node's 32 MiB default cap */
const MAX_MEM = 256 * 1024 * 1024;
/** Longest password accepted: a passphrase fits; megabytes of input would only cost CPU. */
export const MAX_PASSWORD_CHARS = 1024;
/** Shortest password accepted for a person's account. */
export const MIN_PASSWORD_CHARS = 12;

const HASH_RE = /^scrypt\$(\d{1,7})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/=]{16,64})\$([A-Za-z0-9+/=]{40,100})$/;

function derive(password: string, salt: Buffer, o: ScryptOptions & { N: number }, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password.normalize("NFC"), salt, bytes, { ...o, maxmem: MAX_MEM }, (e, k) => (e ? reject(e) : resolve(k))));
}

/** Why a new password is not acceptable, or undefined when it is. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_CHARS) return `a password needs at least ${MIN_PASSWORD_CHARS} characters`;
  if (password.length > MAX_PASSWORD_CHARS) return `a password may have at most ${MAX_PASSWORD_CHARS} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password)) return "a password may not hold control characters (a trailing newline from a file is removed)";
  return undefined;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, PARAMS, KEY_BYTES);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

export function isPasswordHash(s: unknown): s is string {
  return typeof s === "string" && HASH_RE.test(s);
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH_RE.exec(stored);
  if (!m || password.length > MAX_PASSWORD_CHARS) return false;
  const want = Buffer.from(m[5], "base64");
  const got = await derive(password, Buffer.from(m[4], "base64"), { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) }, want.length);
  return got.length === want.length && timingSafeEqual(got, want);
}

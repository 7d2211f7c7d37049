/**
 * One-time enrollment tokens: an admin makes one for a host name on the CMA, and the host's
 * nanoprobe proves it holds it without sending it. The proof is an HMAC-SHA256 keyed with the
 * token's hash (what the CMA keeps) over the cluster, the host name and the host's identity public
 * key: it admits that name with that key only, so a proof seen on the wire is of no use to anyone
 * else (they would also need the identity private key to sign the announcement that carries it).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const CONTEXT = "ringwatch enrollment v1";
export const ENROLLMENT_TOKEN_BYTES = 32;
/** what the CMA keeps of a token: SHA-256 of its bytes */
export const ENROLLMENT_KEY_BYTES = 32;
export const ENROLLMENT_PROOF_BYTES = 32;
/** 32 bytes in base64url, no padding */
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export interface EnrollmentSubject {
  cluster: string;
  host: string;
  identityPublic: Uint8Array;
}

/** A new token: 32 random bytes, base64url (shown to the admin once). */
export function newEnrollmentToken(): string {
  return randomBytes(ENROLLMENT_TOKEN_BYTES).toString("base64url");
}

/** The token's text checked (surrounding whitespace dropped); throws saying why it is not a token. */
export function parseEnrollmentToken(text: string, source = "enrollment token"): string {
  const t = text.trim();
  if (!TOKEN_RE.test(t)) throw new Error(`${source}: not an enrollment token (43 base64url characters, as 'ringwatch-cma host-keys enroll' prints it)`);
  return t;
}

/** The MAC key made from a token: all the CMA keeps of it. */
export function enrollmentKey(token: string): Buffer {
  return createHash("sha256").update(Buffer.from(parseEnrollmentToken(token), "base64url")).digest();
}

function mac(key: Uint8Array, s: EnrollmentSubject): Buffer {
  return createHmac("sha256", key).update(Buffer.from(`${CONTEXT}\0${s.cluster}\0${s.host}\0`, "utf8")).update(s.identityPublic).digest();
}

/** The proof a nanoprobe adds to its announcements. */
export function makeEnrollmentProof(token: string, s: EnrollmentSubject): Buffer {
  return mac(enrollmentKey(token), s);
}

/** Does this proof come from the token whose key is given, for this cluster, name and identity key? */
export function verifyEnrollmentProof(key: Uint8Array, s: EnrollmentSubject, proof: Uint8Array): boolean {
  if (key.length !== ENROLLMENT_KEY_BYTES || proof.length !== ENROLLMENT_PROOF_BYTES) return false;
  return timingSafeEqual(mac(key, s), proof);
}

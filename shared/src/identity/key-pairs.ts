/**
 * Ed25519 and X25519 key pairs made from 32 random bytes imported as PKCS#8, never with
 * crypto.generateKeyPairSync.
 *
 * Why: in Node 20, generateKeyPairSync leaves a key-generation job object behind, and its
 * finalizer (run by the garbage collector) locks the new key's mutex. Exporting the key as JWK
 * (rawPublicKey) holds that same mutex while it allocates, so a collection at that moment
 * deadlocks the process. Seen here twice: a whole test run, and a simulator worker, hung at 0 % CPU
 * in futex_wait. gdb showed ~KeyGenJob under ExportJWKEdKey. An imported key has no such job.
 */
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";

/** PKCS#8 DER of an Ed25519 / X25519 private key: this prefix, then the 32-byte private key */
const PKCS8_PREFIX: Record<"ed25519" | "x25519", Buffer> = {
  ed25519: Buffer.from("302e020100300506032b657004220420", "hex"),
  x25519: Buffer.from("302e020100300506032b656e04220420", "hex"),
};

export function newKeyPair(type: "ed25519" | "x25519"): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX[type], randomBytes(32)]), format: "der", type: "pkcs8" });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

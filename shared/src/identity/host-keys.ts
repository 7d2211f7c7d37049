/**
 * A host's identity: an Ed25519 key that signs (its announcements, its exchange key) and an X25519
 * key that agrees pairwise keys with the CMA and its ring neighbours. node:crypto cannot turn one
 * Ed25519 key into an X25519 key, so the host holds both and the Ed25519 key signs the X25519
 * public key: whoever pins the Ed25519 key can trust the exchange key it signed.
 *
 * File: both private keys as PKCS#8 PEM blocks, Ed25519 first, mode 0600. Created on first start
 * (or by `ringwatch-nanoprobe keygen`); never rewritten in place, so a host keeps its identity.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { newKeyPair } from "./key-pairs.js";

export const RAW_PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
/** what the identity key signs to vouch for the exchange key (a signature over anything else never passes for this) */
const EXCHANGE_KEY_CONTEXT = Buffer.from("ringwatch exchange key v1\0");

export interface HostKeys {
  /** Ed25519 private key: signs */
  identity: KeyObject;
  /** its public key, 32 raw bytes: what the CMA pins */
  identityPublic: Buffer;
  /** X25519 private key: agrees pairwise keys */
  exchange: KeyObject;
  /** its public key, 32 raw bytes */
  exchangePublic: Buffer;
  /** the identity key's signature over the exchange public key */
  exchangeSignature: Buffer;
}

/** The public half: what a host tells others, and what they keep of it. */
export interface PublicHostKeys {
  identityPublic: Buffer;
  exchangePublic: Buffer;
  exchangeSignature: Buffer;
}

export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new Error("not an OKP key");
  return Buffer.from(jwk.x, "base64url");
}

export function publicKeyFromRaw(raw: Uint8Array, type: "ed25519" | "x25519"): KeyObject {
  if (raw.length !== RAW_PUBLIC_KEY_BYTES) throw new RangeError(`a ${type} public key is ${RAW_PUBLIC_KEY_BYTES} bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: "OKP", crv: type === "ed25519" ? "Ed25519" : "X25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
}

/** How a key is shown to people (like ssh's): SHA256: and the base64 of its hash, 43 characters. */
export function keyFingerprint(identityPublic: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(identityPublic).digest("base64").replace(/=+$/, "")}`;
}

function fromPrivateKeys(identity: KeyObject, exchange: KeyObject): HostKeys {
  if (identity.asymmetricKeyType !== "ed25519") throw new Error("the first key is not an Ed25519 private key");
  if (exchange.asymmetricKeyType !== "x25519") throw new Error("the second key is not an X25519 private key");
  const exchangePublic = rawPublicKey(createPublicKey(exchange));
  return {
    identity,
    identityPublic: rawPublicKey(createPublicKey(identity)),
    exchange,
    exchangePublic,
    exchangeSignature: sign(null, Buffer.concat([EXCHANGE_KEY_CONTEXT, exchangePublic]), identity),
  };
}

/** Keys for an identity key held elsewhere (the CMA's command key), with a new exchange key unless one is given. */
export function hostKeysOf(identity: KeyObject, exchange: KeyObject = newKeyPair("x25519").privateKey): HostKeys {
  return fromPrivateKeys(identity, exchange);
}

export function generateHostKeys(): HostKeys {
  return fromPrivateKeys(newKeyPair("ed25519").privateKey, newKeyPair("x25519").privateKey);
}

/**
 * Key triples (identity, exchange, signature) whose signature verified: the same keys come again and
 * again (a host's every announcement at the CMA; a key block whose entry pair-keys.ts dropped when
 * its signer or sender changed). Verification is deterministic, so a verified triple stays
 * verified; bounded, oldest first out.
 */
const verifiedKeys = new Set<string>();
const MAX_VERIFIED_KEYS = 16_384;

/**
 * Check a host's public keys: their sizes, and that the identity key signed the exchange key.
 * `vouched`: the keys came inside a message the CMA signed (a neighbour's keys in SetNeighbours);
 * the CMA verified that signature when it admitted the host, so only the sizes are checked here
 * (a simulated fleet's hosts spent a sixth of their CPU verifying it again, twice per assignment).
 */
export function checkPublicHostKeys(k: { identityPublic?: Uint8Array; exchangePublic?: Uint8Array; exchangeSignature?: Uint8Array }, vouched = false): PublicHostKeys {
  const { identityPublic, exchangePublic, exchangeSignature } = k;
  if (!identityPublic || identityPublic.length !== RAW_PUBLIC_KEY_BYTES) throw new Error(`identity key must be ${RAW_PUBLIC_KEY_BYTES} bytes`);
  if (!exchangePublic || exchangePublic.length !== RAW_PUBLIC_KEY_BYTES) throw new Error(`exchange key must be ${RAW_PUBLIC_KEY_BYTES} bytes`);
  if (!exchangeSignature || exchangeSignature.length !== SIGNATURE_BYTES) throw new Error(`exchange key signature must be ${SIGNATURE_BYTES} bytes`);
  if (!vouched) {
    const triple = Buffer.concat([identityPublic, exchangePublic, exchangeSignature]).toString("base64");
    if (!verifiedKeys.has(triple)) {
      let ok = false;
      try {
        ok = verify(null, Buffer.concat([EXCHANGE_KEY_CONTEXT, exchangePublic]), publicKeyFromRaw(identityPublic, "ed25519"), exchangeSignature);
      } catch {
        ok = false;
      }
      if (!ok) throw new Error("the exchange key is not signed by the identity key");
      if (verifiedKeys.size >= MAX_VERIFIED_KEYS) verifiedKeys.delete(verifiedKeys.values().next().value as string);
      verifiedKeys.add(triple);
    }
  }
  return { identityPublic: Buffer.from(identityPublic), exchangePublic: Buffer.from(exchangePublic), exchangeSignature: Buffer.from(exchangeSignature) };
}

export function publicHalf(k: HostKeys): PublicHostKeys {
  return { identityPublic: k.identityPublic, exchangePublic: k.exchangePublic, exchangeSignature: k.exchangeSignature };
}

export function hostKeysToPem(k: HostKeys): string {
  return `${k.identity.export({ type: "pkcs8", format: "pem" }) as string}${k.exchange.export({ type: "pkcs8", format: "pem" }) as string}`;
}

export function parseHostKeysPem(text: string, source = "host identity key"): HostKeys {
  const blocks = text.match(/-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/g) ?? [];
  if (blocks.length !== 2) throw new Error(`${source}: expected 2 PEM private keys (Ed25519, then X25519), found ${blocks.length}`);
  try {
    return fromPrivateKeys(createPrivateKey(blocks[0]), createPrivateKey(blocks[1]));
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
}

/** Write a new identity to path (refuses to overwrite one: that would change the host's identity). */
export function writeNewHostKeys(path: string): HostKeys {
  if (existsSync(path)) throw new Error(`${path} exists: a host keeps its identity (rotate with 'keygen --next', see the README)`);
  const k = generateHostKeys();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, hostKeysToPem(k), { mode: 0o600, flag: "wx" });
  renameSync(tmp, path);
  return k;
}

export function readHostKeys(path: string): HostKeys {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`host identity key ${path}: ${(e as Error).message}`);
  }
  if (statSync(path).mode & 0o077) process.emitWarning(`host identity key ${path} is readable by group or others`);
  return parseHostKeysPem(text, `host identity key ${path}`);
}

/** Where a rotation keeps the key it replaces until the CMA has admitted the new one. */
export const previousKeyPath = (path: string): string => `${path}.previous`;

/**
 * Rotate a host's identity: the key in `path` moves to `path.previous` and a new one takes its
 * place. The next start announces the new key countersigned by the previous one (the CMA re-pins);
 * once admitted, the nanoprobe deletes the previous key. One rotation at a time.
 */
export function rotateHostKeys(path: string): { previous: HostKeys; next: HostKeys } {
  const old = previousKeyPath(path);
  if (existsSync(old)) throw new Error(`${old} exists: a rotation is still waiting for the CMA to admit the new key (start the nanoprobe)`);
  const previous = readHostKeys(path);
  renameSync(path, old);
  try {
    return { previous, next: writeNewHostKeys(path) };
  } catch (e) {
    renameSync(old, path); // nothing rotated
    throw e;
  }
}

/** The host's identity: read, or created on first start. */
export function loadOrCreateHostKeys(path: string): { keys: HostKeys; created: boolean } {
  if (existsSync(path)) return { keys: readHostKeys(path), created: false };
  return { keys: writeNewHostKeys(path), created: true };
}

/**
 * Proof that an announcing host holds the identity key it shows, made fresh for this announcement:
 * the key signs the cluster, the host name, the sender session of the frame that carries it, the
 * time and the keys. Replayed into another session, renamed, or older than the allowed clock skew,
 * it fails. A rotation adds the previous key's signature over the same bytes.
 */
import { sign, verify } from "node:crypto";
import type { AnnounceProof } from "../messages/codec.js";
import type { SessionId } from "../wire/frame.js";
import { checkPublicHostKeys, publicKeyFromRaw, RAW_PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "./host-keys.js";
import type { HostKeys, PublicHostKeys } from "./host-keys.js";

const CONTEXT = "ringwatch announce v1";

export interface ProofSubject {
  cluster: string;
  host: string;
  session: SessionId;
}

function signedBytes(s: ProofSubject, signedAtMs: number, k: { identityPublic: Uint8Array; exchangePublic: Uint8Array }): Buffer {
  const head = Buffer.from(`${CONTEXT}\0${s.cluster}\0${s.host}\0`, "utf8");
  const fixed = Buffer.alloc(6 + 4 + 8);
  fixed.writeUIntBE(s.session.startMs, 0, 6);
  fixed.writeUInt32BE(s.session.random >>> 0, 6);
  fixed.writeBigUInt64BE(BigInt(signedAtMs), 10);
  return Buffer.concat([head, fixed, k.identityPublic, k.exchangePublic]);
}

/** The proof for one announcement; with `previous`, the rotation's second signature too. */
export function makeAnnounceProof(s: ProofSubject, keys: HostKeys, previous?: HostKeys, now = Date.now()): AnnounceProof {
  const bytes = signedBytes(s, now, keys);
  return {
    keys: { identityKey: keys.identityPublic, exchangeKey: keys.exchangePublic, exchangeSignature: keys.exchangeSignature },
    signedAtMs: now,
    signature: sign(null, bytes, keys.identity),
    ...(previous ? { rotatedFrom: previous.identityPublic, rotationSignature: sign(null, bytes, previous.identity) } : {}),
  };
}

export type ProofRefusal = "noProof" | "badKeys" | "badSignature" | "stale" | "badRotation";

export class ProofRefused extends Error {
  constructor(readonly reason: ProofRefusal, detail: string) {
    super(`announcement proof refused (${reason}): ${detail}`);
    this.name = "ProofRefused";
  }
}

export interface VerifiedProof {
  keys: PublicHostKeys;
  /** present when the announcement rotates from this (older) identity key, vouched for by it */
  rotatedFrom?: Buffer;
}

const bytesOf = (b: Uint8Array | undefined): number => b?.length ?? 0;

/** Check a proof for this subject (frame sender and session); throws ProofRefused saying why. */
export function verifyAnnounceProof(proof: AnnounceProof | null | undefined, s: ProofSubject, maxSkewMs: number, now = Date.now()): VerifiedProof {
  if (!proof || !proof.keys) throw new ProofRefused("noProof", "the announcement carries no host keys");
  let keys: PublicHostKeys;
  try {
    keys = checkPublicHostKeys({ identityPublic: proof.keys.identityKey, exchangePublic: proof.keys.exchangeKey, exchangeSignature: proof.keys.exchangeSignature });
  } catch (e) {
    throw new ProofRefused("badKeys", (e as Error).message);
  }
  if (!Number.isSafeInteger(proof.signedAtMs) || Math.abs(now - proof.signedAtMs) > maxSkewMs) {
    throw new ProofRefused("stale", `signed at ${proof.signedAtMs}, ${now - proof.signedAtMs} ms from now (allowed ±${maxSkewMs})`);
  }
  if (bytesOf(proof.signature) !== SIGNATURE_BYTES) throw new ProofRefused("badSignature", `signature must be ${SIGNATURE_BYTES} bytes`);
  const bytes = signedBytes(s, proof.signedAtMs, keys);
  if (!safeVerify(bytes, keys.identityPublic, proof.signature)) throw new ProofRefused("badSignature", `not signed by the key shown, for ${s.host} in this session`);
  if (bytesOf(proof.rotatedFrom) === 0 && bytesOf(proof.rotationSignature) === 0) return { keys };
  if (bytesOf(proof.rotatedFrom) !== RAW_PUBLIC_KEY_BYTES || bytesOf(proof.rotationSignature) !== SIGNATURE_BYTES) {
    throw new ProofRefused("badRotation", "a rotation needs the previous key (32 bytes) and its signature (64 bytes)");
  }
  if (!safeVerify(bytes, proof.rotatedFrom!, proof.rotationSignature!)) throw new ProofRefused("badRotation", "the previous key did not sign this announcement");
  return { keys, rotatedFrom: Buffer.from(proof.rotatedFrom!) };
}

function safeVerify(bytes: Buffer, identityPublic: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, bytes, publicKeyFromRaw(identityPublic, "ed25519"), signature);
  } catch {
    return false;
  }
}

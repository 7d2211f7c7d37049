/**
 * Frame codec: one UDP datagram = one frame.
 *
 *   off size field
 *    0   2   magic "RW"
 *    2   1   protocol version (1)
 *    3   1   type: DATA | ACK | DATAGRAM | RESET
 *    4   1   flags: COMPRESSED, FRAGMENT, NEED_RESET
 *    5   4   cluster id (first 4 bytes of SHA-256 of the cluster name)
 *    9   4   key id (first 4 bytes of SHA-256 of the key that made the tag)
 *   13  10   sender session (u48 start time ms, u32 random): new on every process start
 *   23  10   receiver session as the sender knows it (zeros: not known yet)
 *   33   6   timestamp, ms since epoch (rejects replays older than the allowed skew)
 *   39   6   seq (u48): DATA stream position | DATAGRAM counter | RESET new stream start
 *   45   6   ack (u48): cumulative ack, the highest seq received in order (DATA, ACK)
 *   51   1   sender identity length L (1..64), then L bytes UTF-8
 *    .  16   [COOKIE] the receiver's challenge cookie, echoed (channel/challenge.ts)
 *    .   1   [DATA, ACK] selective-ack block count S (0..8), then S x (u16 offset, u16 length)
 *                  each block covers seq ack+1+offset .. ack+offset+length
 *    .   4   [FRAGMENT] u16 fragment index, u16 fragment count
 *    .   *   payload
 *  n-16 16   tag: HMAC-SHA256 over every preceding byte, truncated to 128 bits
 *
 * Version 2 ("sealed") frames are bound to the pair of hosts: same header with version 2, the key id
 * naming the pair's keys (pair-keys.ts), and:
 *    .  96   [WITH_KEY] the sender's X25519 public key and its identity key's signature over it
 *            (until the receiver has shown it knows the key: it cannot be asked for, only sent)
 *    .   6   nonce counter (u48), never repeated under one key (the key is new every sender session)
 *    .   *   payload, encrypted with AES-256-GCM; every preceding byte is its associated data (AES-GCM,
 *            not ChaCha20-Poly1305: 2 µs less per frame each way in node:crypto on these machines)
 *  n-16 16   the AEAD tag: confidentiality and per-host authenticity in one step
 *
 * 48-bit sequence numbers never wrap in practice (2^48 frames at 1M/s = 8.9 years), so no serial
 * arithmetic is needed and they stay exact as JS numbers.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from "node:crypto";
import type { Keyring, ClusterKey } from "./keyring.js";

export const MAGIC0 = 0x52; // 'R'
export const MAGIC1 = 0x57; // 'W'
export const PROTOCOL_VERSION = 1;
/** frames sealed under the sender's and receiver's pair key */
export const SEALED_VERSION = 2;
export const NONCE_COUNTER_BYTES = 6;
export const WITH_KEY_BYTES = 32 + 64;
const SEAL_CIPHER = "aes-256-gcm";
const EMPTY_PAYLOAD = Buffer.alloc(0);
/** Largest datagram we send or accept: stays under a 1500-byte Ethernet MTU with IP/UDP headers. */
export const MAX_FRAME_BYTES = 1400;
export const TAG_BYTES = 16;
export const FIXED_HEADER_BYTES = 52;
/** Smallest well-formed frame: fixed header, a 1-byte identity, the tag. */
export const MIN_FRAME_BYTES = FIXED_HEADER_BYTES + 1 + TAG_BYTES;
export const MAX_IDENTITY_BYTES = 64;
export const MAX_SACK_BLOCKS = 8;
export const MAX_U48 = 2 ** 48 - 1;

export enum FrameType {
  DATA = 1,
  ACK = 2,
  DATAGRAM = 3,
  RESET = 4,
  /** "prove you receive at this address": a stateless cookie, the whole payload (channel/challenge.ts) */
  CHALLENGE = 5,
}
export const COOKIE_BYTES = 16;

export const Flag = {
  COMPRESSED: 0x01,
  FRAGMENT: 0x02,
  /** on ACK: "I hold no stream state for you: send RESET before more DATA" */
  NEED_RESET: 0x04,
  /** sealed frames: the sender's exchange key rides along (WITH_KEY_BYTES after the identity) */
  WITH_KEY: 0x08,
  /** a challenge's cookie echoed (COOKIE_BYTES after the identity) */
  COOKIE: 0x10,
} as const;
const KNOWN_FLAGS = Flag.COMPRESSED | Flag.FRAGMENT | Flag.NEED_RESET | Flag.COOKIE;
const KNOWN_SEALED_FLAGS = KNOWN_FLAGS | Flag.WITH_KEY;

/** A process incarnation: start time orders incarnations of one sender, random tells them apart. */
export interface SessionId {
  startMs: number;
  random: number;
}
export const NO_SESSION: SessionId = Object.freeze({ startMs: 0, random: 0 });

export function sessionEquals(a: SessionId, b: SessionId): boolean {
  return a.startMs === b.startMs && a.random === b.random;
}
export function sessionIsNone(s: SessionId): boolean {
  return s.startMs === 0 && s.random === 0;
}
/** Positive when a is a later incarnation than b. */
export function compareSessions(a: SessionId, b: SessionId): number {
  return a.startMs !== b.startMs ? a.startMs - b.startMs : a.random - b.random;
}
export function sessionToString(s: SessionId): string {
  return `${s.startMs.toString(16).padStart(12, "0")}-${s.random.toString(16).padStart(8, "0")}`;
}

export interface SackBlock {
  start: number; // first seq covered
  end: number; // last seq covered (inclusive)
}

export interface Frame {
  type: FrameType;
  flags: number;
  keyId: number;
  senderSession: SessionId;
  receiverSession: SessionId;
  timestampMs: number;
  seq: number;
  ack: number;
  sender: string;
  sack: SackBlock[];
  fragIndex: number;
  fragCount: number;
  payload: Buffer;
  /** set on a sealed frame: the sender proved it holds the pair key for this name */
  sealed?: boolean;
  /** [COOKIE] the challenge cookie the sender echoes */
  cookie?: Buffer;
}

/** How to seal a frame for one peer (pair-keys.ts decides). */
export interface FrameSeal {
  keyId: number;
  key: Buffer;
  counter: number;
  /** the sender's exchange key and its signature, for a receiver that may not know it yet */
  withKey?: Buffer;
}

/** What a sealed frame shows before it is opened: enough to find its key, nothing trusted yet. */
export interface SealedHeader {
  sender: string;
  senderSession: SessionId;
  keyId: number;
  withKey: Buffer | undefined;
}

/** Finds the key that opens a sealed frame; undefined when there is none (the frame is dropped, no state kept). */
export type FrameOpener = (h: SealedHeader) => Buffer | undefined;

/** Everything the encoder needs that is not per-endpoint (cluster id and key come from the keyring). */
export type FrameFields = Omit<Frame, "keyId"> & { keyId?: number };

export class FrameError extends Error {
  constructor(
    readonly reason: DropReason,
    message: string,
  ) {
    super(message);
    this.name = "FrameError";
  }
}

/** Why a datagram was dropped before it reached the application. Every reason is a counter. */
export type DropReason =
  | "truncated"
  | "oversized"
  | "badVersion"
  | "wrongCluster"
  | "badAuth"
  | "malformed"
  | "unknownPeerKey";

function headerBytes(f: Pick<Frame, "type" | "flags" | "sack">, identityLen: number, sealed = false): number {
  let n = FIXED_HEADER_BYTES + identityLen + (f.flags & Flag.COOKIE ? COOKIE_BYTES : 0);
  if (sealed) n += NONCE_COUNTER_BYTES + (f.flags & Flag.WITH_KEY ? WITH_KEY_BYTES : 0);
  if (f.type === FrameType.DATA || f.type === FrameType.ACK) n += 1 + 4 * f.sack.length;
  if (f.flags & Flag.FRAGMENT) n += 4;
  return n;
}

/** Payload bytes that fit in one frame with this header shape (room kept for a sealed frame's nonce and a cookie; a WITH_KEY block rides only where it fits). */
export function payloadCapacity(identity: string, type: FrameType, sackBlocks: number, fragment: boolean): number {
  const h = headerBytes(
    { type, flags: (fragment ? Flag.FRAGMENT : 0) | Flag.COOKIE, sack: new Array<SackBlock>(sackBlocks) },
    Buffer.byteLength(identity),
    true,
  );
  return MAX_FRAME_BYTES - h - TAG_BYTES;
}

function writeSession(buf: Buffer, off: number, s: SessionId): void {
  buf.writeUIntBE(s.startMs, off, 6);
  buf.writeUInt32BE(s.random >>> 0, off + 6);
}
function readSession(buf: Buffer, off: number): SessionId {
  return { startMs: buf.readUIntBE(off, 6), random: buf.readUInt32BE(off + 6) };
}

function computeTag(key: ClusterKey, data: Buffer): Buffer {
  return createHmac("sha256", key.secret).update(data).digest().subarray(0, TAG_BYTES);
}

/**
 * Encode a frame: authenticated with the keyring's current key, or with `seal` encrypted and
 * authenticated under the pair key. Throws on fields out of range.
 */
export function encodeFrame(f: FrameFields, keyring: Keyring, seal?: FrameSeal): Buffer {
  const identity = Buffer.from(f.sender, "utf8");
  if (identity.length < 1 || identity.length > MAX_IDENTITY_BYTES) {
    throw new RangeError(`sender identity must be 1..${MAX_IDENTITY_BYTES} bytes, got ${identity.length}`);
  }
  if (f.sack.length > MAX_SACK_BLOCKS) throw new RangeError(`at most ${MAX_SACK_BLOCKS} sack blocks`);
  for (const v of [f.seq, f.ack, f.timestampMs]) {
    if (!Number.isInteger(v) || v < 0 || v > MAX_U48) throw new RangeError(`u48 field out of range: ${v}`);
  }
  const key = keyring.current;
  let flags = (f.flags & ~(Flag.WITH_KEY | Flag.COOKIE)) | (f.cookie ? Flag.COOKIE : 0);
  if (f.cookie && f.cookie.length !== COOKIE_BYTES) throw new RangeError(`cookie must be ${COOKIE_BYTES} bytes`);
  if (seal?.withKey && headerBytes({ ...f, flags: flags | Flag.WITH_KEY }, identity.length, true) + f.payload.length + TAG_BYTES <= MAX_FRAME_BYTES) flags |= Flag.WITH_KEY;
  const h = headerBytes({ type: f.type, flags, sack: f.sack }, identity.length, seal !== undefined);
  const total = h + f.payload.length + TAG_BYTES;
  if (total > MAX_FRAME_BYTES) throw new RangeError(`frame of ${total} bytes exceeds ${MAX_FRAME_BYTES}`);
  const buf = Buffer.allocUnsafe(total);
  buf[0] = MAGIC0;
  buf[1] = MAGIC1;
  buf[2] = seal ? SEALED_VERSION : PROTOCOL_VERSION;
  buf[3] = f.type;
  buf[4] = flags;
  buf.writeUInt32BE(keyring.clusterId, 5);
  buf.writeUInt32BE(seal ? seal.keyId : key.id, 9);
  writeSession(buf, 13, f.senderSession);
  writeSession(buf, 23, f.receiverSession);
  buf.writeUIntBE(f.timestampMs, 33, 6);
  buf.writeUIntBE(f.seq, 39, 6);
  buf.writeUIntBE(f.ack, 45, 6);
  buf[51] = identity.length;
  identity.copy(buf, 52);
  let off = 52 + identity.length;
  if (f.cookie) {
    f.cookie.copy(buf, off);
    off += COOKIE_BYTES;
  }
  if (flags & Flag.WITH_KEY) {
    seal!.withKey!.copy(buf, off);
    off += WITH_KEY_BYTES;
  }
  if (f.type === FrameType.DATA || f.type === FrameType.ACK) {
    buf[off++] = f.sack.length;
    for (const b of f.sack) {
      const offset = b.start - f.ack - 1;
      const length = b.end - b.start + 1;
      if (offset < 0 || offset > 0xffff || length < 1 || length > 0xffff) {
        throw new RangeError(`sack block ${b.start}..${b.end} not encodable against ack ${f.ack}`);
      }
      buf.writeUInt16BE(offset, off);
      buf.writeUInt16BE(length, off + 2);
      off += 4;
    }
  }
  if (f.flags & Flag.FRAGMENT) {
    buf.writeUInt16BE(f.fragIndex, off);
    buf.writeUInt16BE(f.fragCount, off + 2);
    off += 4;
  }
  if (seal) {
    buf.writeUIntBE(seal.counter, off, NONCE_COUNTER_BYTES);
    off += NONCE_COUNTER_BYTES;
    const cipher = createCipheriv(SEAL_CIPHER, seal.key, nonceOf(seal.counter), { authTagLength: TAG_BYTES });
    cipher.setAAD(buf.subarray(0, off), { plaintextLength: f.payload.length });
    off += cipher.update(f.payload).copy(buf, off);
    cipher.final();
    cipher.getAuthTag().copy(buf, off);
    return buf;
  }
  f.payload.copy(buf, off);
  off += f.payload.length;
  computeTag(key, buf.subarray(0, off)).copy(buf, off);
  return buf;
}

/** 96-bit nonce: the counter, zero-padded (each key is used by one sender session, which never repeats a counter) */
function nonceOf(counter: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 6, 6);
  return n;
}

/**
 * Decode and authenticate one datagram. Checks run cheapest first and in a fixed order, so every
 * dropped datagram is counted under exactly one reason:
 * size → magic/version → cluster → key id + tag → structure.
 */
export function decodeFrame(buf: Buffer, keyring: Keyring, opener?: FrameOpener): Frame {
  if (buf.length > MAX_FRAME_BYTES) throw new FrameError("oversized", `datagram of ${buf.length} bytes`);
  if (buf.length < MIN_FRAME_BYTES) throw new FrameError("truncated", `datagram of ${buf.length} bytes`);
  if (buf[0] !== MAGIC0 || buf[1] !== MAGIC1 || (buf[2] !== PROTOCOL_VERSION && !(buf[2] === SEALED_VERSION && opener))) {
    throw new FrameError("badVersion", `bad magic or version ${buf[2]}`);
  }
  if (buf.readUInt32BE(5) !== keyring.clusterId) throw new FrameError("wrongCluster", "frame from another cluster");
  if (buf[2] === SEALED_VERSION) return decodeSealed(buf, opener!);
  const keyId = buf.readUInt32BE(9);
  const key = keyring.byId(keyId);
  if (!key) throw new FrameError("badAuth", "unknown key id");
  const body = buf.subarray(0, buf.length - TAG_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  if (!timingSafeEqual(computeTag(key, body), tag)) throw new FrameError("badAuth", "authentication tag mismatch");

  // Authenticated from here on; a cluster member can still send nonsense, so validate everything.
  const fr = parseStructure(buf, body, false);
  fr.frame.payload = Buffer.from(body.subarray(fr.payloadAt)); // copy: never keep the socket's buffer alive
  return fr.frame;
}

/** A sealed frame: its key found from the clear header, then opened (decrypted and authenticated) in one step. */
function decodeSealed(buf: Buffer, opener: FrameOpener): Frame {
  const body = buf.subarray(0, buf.length - TAG_BYTES);
  // the clear header is parsed before it is authenticated: every bound checked, nothing kept on failure
  const fr = parseStructure(buf, body, true);
  if (fr.payloadAt + NONCE_COUNTER_BYTES > body.length) throw new FrameError("malformed", "missing nonce counter");
  const key = opener({ sender: fr.frame.sender, senderSession: fr.frame.senderSession, keyId: fr.frame.keyId, withKey: fr.withKey });
  if (!key) throw new FrameError("unknownPeerKey", `no key for ${fr.frame.sender}'s frame (key id ${fr.frame.keyId.toString(16)})`);
  const counter = buf.readUIntBE(fr.payloadAt, NONCE_COUNTER_BYTES);
  const aadEnd = fr.payloadAt + NONCE_COUNTER_BYTES;
  let payload: Buffer;
  try {
    const d = createDecipheriv(SEAL_CIPHER, key, nonceOf(counter), { authTagLength: TAG_BYTES });
    d.setAAD(buf.subarray(0, aadEnd), { plaintextLength: body.length - aadEnd });
    d.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
    payload = d.update(body.subarray(aadEnd));
    d.final();
  } catch {
    throw new FrameError("badAuth", "sealed frame did not open under the pair key");
  }
  fr.frame.payload = payload;
  fr.frame.sealed = true;
  return fr.frame;
}

/**
 * The structure after the fixed checks, shared by both versions; payloadAt: where the payload (or
 * the sealed frame's nonce) starts. The frame's payload is empty until the caller sets it (one
 * object per frame, no copy of it: this runs for every datagram).
 */
function parseStructure(buf: Buffer, body: Buffer, sealed: boolean): { frame: Frame; payloadAt: number; withKey: Buffer | undefined } {
  const keyId = buf.readUInt32BE(9);
  const type = buf[3] as FrameType;
  if (type < FrameType.DATA || type > FrameType.CHALLENGE || (sealed && type === FrameType.CHALLENGE)) throw new FrameError("malformed", `unknown frame type ${type}`);
  const flags = buf[4];
  if (flags & ~(sealed ? KNOWN_SEALED_FLAGS : KNOWN_FLAGS)) throw new FrameError("malformed", `unknown flags 0x${flags.toString(16)}`);
  const idLen = buf[51];
  if (idLen < 1 || idLen > MAX_IDENTITY_BYTES || 52 + idLen > body.length) {
    throw new FrameError("malformed", `bad identity length ${idLen}`);
  }
  const sender = buf.toString("utf8", 52, 52 + idLen);
  const ack = buf.readUIntBE(45, 6);
  let off = 52 + idLen;
  let cookie: Buffer | undefined;
  if (flags & Flag.COOKIE) {
    if (off + COOKIE_BYTES > body.length) throw new FrameError("malformed", "missing cookie");
    cookie = buf.subarray(off, off + COOKIE_BYTES);
    off += COOKIE_BYTES;
  }
  let withKey: Buffer | undefined;
  if (flags & Flag.WITH_KEY) {
    if (off + WITH_KEY_BYTES > body.length) throw new FrameError("malformed", "missing key block");
    withKey = buf.subarray(off, off + WITH_KEY_BYTES);
    off += WITH_KEY_BYTES;
  }
  const sack: SackBlock[] = [];
  if (type === FrameType.DATA || type === FrameType.ACK) {
    if (off + 1 > body.length) throw new FrameError("malformed", "missing sack count");
    const n = buf[off++];
    if (n > MAX_SACK_BLOCKS || off + 4 * n > body.length) throw new FrameError("malformed", `bad sack count ${n}`);
    for (let i = 0; i < n; i++, off += 4) {
      const offset = buf.readUInt16BE(off);
      const length = buf.readUInt16BE(off + 2);
      if (length === 0) throw new FrameError("malformed", "empty sack block");
      const start = ack + 1 + offset;
      sack.push({ start, end: start + length - 1 });
    }
  }
  let fragIndex = 0;
  let fragCount = 1;
  if (flags & Flag.FRAGMENT) {
    if (type !== FrameType.DATA && type !== FrameType.DATAGRAM) throw new FrameError("malformed", "fragment flag on control frame");
    if (off + 4 > body.length) throw new FrameError("malformed", "missing fragment header");
    fragIndex = buf.readUInt16BE(off);
    fragCount = buf.readUInt16BE(off + 2);
    off += 4;
    if (fragCount < 2 || fragIndex >= fragCount) throw new FrameError("malformed", `bad fragment ${fragIndex}/${fragCount}`);
  }
  const seq = buf.readUIntBE(39, 6);
  if ((type === FrameType.DATA || type === FrameType.DATAGRAM || type === FrameType.RESET || type === FrameType.CHALLENGE) && seq === 0) {
    throw new FrameError("malformed", "seq 0");
  }
  const frame: Frame = {
    type,
    flags: flags & ~(Flag.WITH_KEY | Flag.COOKIE),
    keyId,
    senderSession: readSession(buf, 13),
    receiverSession: readSession(buf, 23),
    timestampMs: buf.readUIntBE(33, 6),
    seq,
    ack,
    sender,
    sack,
    fragIndex,
    fragCount,
    payload: EMPTY_PAYLOAD,
  };
  if (cookie) frame.cookie = Buffer.from(cookie);
  return { frame, payloadAt: off, withKey };
}

/**
 * The Zabbix sender protocol (Zabbix 6.0): a 13-byte header ("ZBXD", flags, data length, and the
 * uncompressed length when the payload is zlib-compressed), then a JSON "sender data" request; the
 * server answers with one frame of JSON whose "info" says how many values it processed and failed.
 * Replies are validated strictly: whatever the peer sends, the caller gets a reply or a
 * ZabbixProtocolError naming what was wrong (counted by the caller), never a crash.
 */
import { deflateSync, inflateSync } from "node:zlib";

export const ZBXD_MAGIC = Buffer.from("ZBXD", "latin1");
export const FLAG_PROTOCOL = 0x01;
export const FLAG_COMPRESSED = 0x02;
/** 8-byte lengths: only for proxy configuration above 4 GiB; a sender reply never uses it */
export const FLAG_LARGE = 0x04;
export const HEADER_BYTES = 13;
/** Zabbix's own limit per packet (1 GiB); ours for replies is far smaller (see readFrame callers) */
export const ZABBIX_MAX_PACKET = 1 << 30;

export type ProtocolErrorReason =
  | "badMagic" | "badFlags" | "oversized" | "truncated" | "trailingBytes" | "badCompression" | "notJson" | "badReply"
  /** a well-formed answer saying the server did not accept the request at all */
  | "refused";

export class ZabbixProtocolError extends Error {
  constructor(
    readonly reason: ProtocolErrorReason,
    message: string,
  ) {
    super(`zabbix protocol: ${message}`);
    this.name = "ZabbixProtocolError";
  }
}

/** One frame around a payload; compressed (flags 0x03) when asked and when that saves bytes. */
export function encodeFrame(payload: Buffer, compress = false): Buffer {
  let body = payload;
  let flags = FLAG_PROTOCOL;
  if (compress) {
    // level 1: the sender is on the CMA's hot path; most of zlib's gain on JSON comes at level 1
    const z = deflateSync(payload, { level: 1 });
    if (z.length < payload.length) {
      body = z;
      flags |= FLAG_COMPRESSED;
    }
  }
  if (body.length > ZABBIX_MAX_PACKET) throw new RangeError(`zabbix frame of ${body.length} bytes exceeds Zabbix's 1 GiB limit`);
  const h = Buffer.allocUnsafe(HEADER_BYTES);
  ZBXD_MAGIC.copy(h, 0);
  h[4] = flags;
  h.writeUInt32LE(body.length, 5);
  h.writeUInt32LE(flags & FLAG_COMPRESSED ? payload.length : 0, 9);
  return Buffer.concat([h, body]);
}

/**
 * Header check as soon as 13 bytes are there: how long the whole frame is. Throws on bad magic,
 * unknown flags or a length above maxPayload (so an oversized reply is refused before it is read).
 */
export function frameLength(head: Buffer, maxPayload: number): number {
  if (head.length < HEADER_BYTES) throw new ZabbixProtocolError("truncated", `header of ${head.length} bytes (need ${HEADER_BYTES})`);
  if (!head.subarray(0, 4).equals(ZBXD_MAGIC)) {
    throw new ZabbixProtocolError("badMagic", `reply does not start with "ZBXD" (got ${JSON.stringify(head.subarray(0, 4).toString("latin1"))})`);
  }
  const flags = head[4]!;
  if (!(flags & FLAG_PROTOCOL) || flags & ~(FLAG_PROTOCOL | FLAG_COMPRESSED)) {
    throw new ZabbixProtocolError("badFlags", `unsupported header flags 0x${flags.toString(16).padStart(2, "0")}`);
  }
  const len = head.readUInt32LE(5);
  const raw = head.readUInt32LE(9);
  if (len > maxPayload) throw new ZabbixProtocolError("oversized", `reply of ${len} bytes exceeds the limit of ${maxPayload}`);
  if (flags & FLAG_COMPRESSED && raw > maxPayload) {
    throw new ZabbixProtocolError("oversized", `reply of ${raw} bytes uncompressed exceeds the limit of ${maxPayload}`);
  }
  return HEADER_BYTES + len;
}

/** The payload of exactly one complete frame (decompressed when flagged); anything else throws. */
export function decodeFrame(frame: Buffer, maxPayload: number): Buffer {
  const total = frameLength(frame, maxPayload);
  if (frame.length < total) throw new ZabbixProtocolError("truncated", `frame of ${frame.length} bytes, header announced ${total}`);
  if (frame.length > total) throw new ZabbixProtocolError("trailingBytes", `${frame.length - total} bytes after the frame`);
  const body = frame.subarray(HEADER_BYTES, total);
  if (!(frame[4]! & FLAG_COMPRESSED)) return body;
  const raw = frame.readUInt32LE(9);
  let out: Buffer;
  try {
    out = inflateSync(body, { maxOutputLength: Math.max(1, raw) });
  } catch (e) {
    throw new ZabbixProtocolError("badCompression", `compressed payload does not inflate to ${raw} bytes: ${(e as Error).message}`);
  }
  if (out.length !== raw) throw new ZabbixProtocolError("badCompression", `inflated to ${out.length} bytes, header announced ${raw}`);
  return out;
}

/** The request body around entries that are each one JSON object {"host","key","value","clock","ns"}. */
const REQUEST_HEAD = Buffer.from('{"request":"sender data","data":[');
const REQUEST_TAIL = Buffer.from("]}");
const COMMA = Buffer.from(",");

/**
 * A "sender data" request from pre-serialised value entries (see encodeValueEntry). No top-level
 * clock/ns on purpose: with them the server shifts every value's clock by its own clock minus the
 * request's (zabbix_sender's clock-skew correction), and the values would not keep their exact
 * original clock and ns.
 */
export function encodeSenderRequest(entries: readonly Buffer[], compress = false): Buffer {
  const parts: Buffer[] = [REQUEST_HEAD];
  entries.forEach((e, i) => {
    if (i) parts.push(COMMA);
    parts.push(e);
  });
  parts.push(REQUEST_TAIL);
  return encodeFrame(Buffer.concat(parts), compress);
}

/** What the server said about one request. */
export interface SenderReply {
  processed: number;
  failed: number;
  total: number;
  secondsSpent: number;
  /** the server's own words, for logs */
  info: string;
}

const INFO = /^processed: (\d+); failed: (\d+); total: (\d+); seconds spent: (\d+(?:\.\d+)?)$/;

/**
 * Parse a reply payload. {"response":"success","info":"processed: N; failed: M; total: T; seconds
 * spent: S"} is a reply; anything else throws. {"response":"failed","info":...} — the server
 * refused the request as a whole — is reason "refused" with the server's words in the message.
 */
export function parseSenderReply(payload: Buffer): SenderReply {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new ZabbixProtocolError("notJson", `reply is not JSON: ${JSON.stringify(payload.subarray(0, 80).toString("utf8"))}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new ZabbixProtocolError("badReply", "reply is not a JSON object");
  const d = doc as Record<string, unknown>;
  if (d.response !== "success") {
    const why = typeof d.info === "string" ? d.info : JSON.stringify(d).slice(0, 200);
    throw new ZabbixProtocolError(d.response === "failed" ? "refused" : "badReply", `server refused the request (response ${JSON.stringify(d.response)}): ${why}`);
  }
  if (typeof d.info !== "string") throw new ZabbixProtocolError("badReply", 'reply has no "info" string');
  const m = INFO.exec(d.info);
  if (!m) throw new ZabbixProtocolError("badReply", `unrecognised info ${JSON.stringify(d.info.slice(0, 200))}`);
  const [processed, failed, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (processed + failed !== total) throw new ZabbixProtocolError("badReply", `inconsistent counts in ${JSON.stringify(d.info)}`);
  return { processed, failed, total, secondsSpent: Number(m[4]), info: d.info };
}

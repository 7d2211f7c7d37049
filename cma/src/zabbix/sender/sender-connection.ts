/**
 * One sender request on one TCP connection, as Zabbix's trapper expects: connect, write the frame,
 * read one reply frame, close. Every step has a deadline. The error says whether the request can
 * have reached the server: a refused or timed-out connect certainly did not (resending is safe);
 * after the frame was written, a lost or garbled reply leaves it unknown.
 */
import { Socket } from "node:net";
import { HEADER_BYTES, ZabbixProtocolError, decodeFrame, frameLength, parseSenderReply } from "./sender-protocol.js";
import type { SenderReply } from "./sender-protocol.js";

export interface SenderEndpoint {
  host: string;
  port: number;
}

export interface RequestTimeouts {
  /** connect deadline */
  connectTimeoutMs: number;
  /** from the frame written to the whole reply read */
  replyTimeoutMs: number;
  /** largest reply accepted (a sender reply is ~100 bytes) */
  maxReplyBytes?: number;
}

/** The server could not be reached: nothing was sent. */
export class ZabbixUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ZabbixUnreachableError";
  }
}

/** The request was (maybe partly) sent but no valid reply came: the server may have processed it. */
export class ZabbixNoReplyError extends Error {
  constructor(
    message: string,
    readonly protocol?: ZabbixProtocolError,
  ) {
    super(message);
    this.name = "ZabbixNoReplyError";
  }
}

/** "host:port" → endpoint; throws a clear error for anything else (config values are input too). */
export function parseSenderEndpoint(s: string): SenderEndpoint {
  const m = /^\s*(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})\s*$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`zabbixServer ${JSON.stringify(s)}: expected "host:port"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

export function sendRequest(to: SenderEndpoint, frame: Buffer, t: RequestTimeouts): Promise<SenderReply> {
  const maxReply = t.maxReplyBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let connected = false;
    let done = false;
    const chunks: Buffer[] = [];
    let got = 0;
    let need = -1;
    const finish = (err: Error | undefined, reply?: SenderReply): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const fail = (why: string, protocol?: ZabbixProtocolError): void =>
      finish(connected ? new ZabbixNoReplyError(`zabbix ${to.host}:${to.port}: ${why}`, protocol) : new ZabbixUnreachableError(`zabbix ${to.host}:${to.port}: ${why}`));
    let timer = setTimeout(() => fail(`connect timed out after ${t.connectTimeoutMs} ms`), t.connectTimeoutMs);

    sock.setNoDelay(true);
    sock.on("connect", () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(() => fail(`no reply within ${t.replyTimeoutMs} ms`), t.replyTimeoutMs);
      sock.write(frame);
    });
    sock.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      try {
        if (need < 0 && got >= HEADER_BYTES) need = frameLength(Buffer.concat(chunks), maxReply);
        if (need >= 0 && got >= need) finish(undefined, parseSenderReply(decodeFrame(Buffer.concat(chunks), maxReply)));
      } catch (e) {
        if (e instanceof ZabbixProtocolError) fail(e.message, e);
        else fail((e as Error).message);
      }
    });
    sock.on("end", () => {
      const e = new ZabbixProtocolError("truncated", got ? `connection closed after ${got} of ${need < 0 ? "?" : need} reply bytes` : "connection closed without a reply");
      fail(e.message, e);
    });
    sock.on("error", (e) => fail(e.message));
    sock.on("close", () => fail("connection closed"));
    sock.connect(to.port, to.host);
  });
}

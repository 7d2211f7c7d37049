// Streaming parser for /proc/net/tcp and /proc/net/tcp6 (one socket per line, never the whole
// file in memory: a busy host has 100,000 lines and more).
import { createReadStream } from "node:fs";
import { endianness } from "node:os";
import { createInterface } from "node:readline";
import { ipv6Text } from "../net/ipv6-text.js";

/** Kernel TCP states (include/net/tcp_states.h) as they appear in the "st" column. */
export const TCP_ESTABLISHED = 0x01;
export const TCP_LISTEN = 0x0a;

export interface ProcTcpSocket {
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  state: number;
  uid: number;
  /** Socket inode: matches the socket:[inode] links in /proc/<pid>/fd. 0 for sockets without one (TIME_WAIT). */
  inode: number;
}

const littleEndian = endianness() === "LE";

/** The kernel prints each 32-bit word of the address with %08X in host byte order. */
function wordBytes(hex: string, at: number): number[] {
  const w = parseInt(hex.slice(at, at + 8), 16);
  const b = [(w >>> 24) & 255, (w >>> 16) & 255, (w >>> 8) & 255, w & 255];
  return littleEndian ? b.reverse() : b;
}

/**
 * Decodes a hex address from /proc/net/tcp{,6}. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)
 * come out as plain IPv4 so the same peer aggregates the same way from either file.
 */
export function decodeAddress(hex: string): string {
  if (hex.length === 8) return wordBytes(hex, 0).join(".");
  const bytes = [...wordBytes(hex, 0), ...wordBytes(hex, 8), ...wordBytes(hex, 16), ...wordBytes(hex, 24)];
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255;
  return mapped ? bytes.slice(12).join(".") : ipv6Text(bytes);
}

/** A per-run cache: thousands of sockets share a handful of addresses. */
export class AddressDecoder {
  private readonly cache = new Map<string, string>();
  decode(hex: string): string {
    let ip = this.cache.get(hex);
    if (ip === undefined) {
      ip = decodeAddress(hex);
      if (this.cache.size < 100_000) this.cache.set(hex, ip);
    }
    return ip;
  }
}

/** Parses one data line; undefined for the header or a malformed line. */
export function parseTcpLine(line: string, decoder: AddressDecoder = new AddressDecoder()): ProcTcpSocket | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 10 || !f[0].endsWith(":")) return undefined;
  const [lip, lport] = f[1].split(":");
  const [rip, rport] = f[2].split(":");
  if (!lport || !rport) return undefined;
  return {
    localIp: decoder.decode(lip),
    localPort: parseInt(lport, 16),
    remoteIp: decoder.decode(rip),
    remotePort: parseInt(rport, 16),
    state: parseInt(f[3], 16),
    uid: parseInt(f[7], 10),
    inode: parseInt(f[9], 10),
  };
}

/**
 * Calls onSocket for every socket in the file, line by line. Resolves false when the file
 * does not exist (IPv6 disabled), true otherwise.
 */
export function forEachTcpSocket(path: string, onSocket: (s: ProcTcpSocket) => void, decoder = new AddressDecoder()): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const input = createReadStream(path, { encoding: "utf8", highWaterMark: 256 * 1024 });
    let opened = false;
    input.once("open", () => { opened = true; });
    input.once("error", (e: NodeJS.ErrnoException) => {
      if (!opened && e.code === "ENOENT") resolve(false);
      else reject(e);
    });
    const lines = createInterface({ input, crlfDelay: Infinity });
    lines.on("line", (line) => {
      const s = parseTcpLine(line, decoder);
      if (s) onSocket(s);
    });
    lines.once("close", () => { if (opened) resolve(true); });
  });
}

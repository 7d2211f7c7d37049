// IP address text from outside (lease files, the neighbour table) into one canonical form, so the
// same address from two sources deduplicates, sorts the same way on every run and can be tested
// against a subnet.
import { isIP } from "node:net";
import { ipv6Text } from "../net/ipv6-text.js";

export interface ParsedIp {
  family: 4 | 6;
  /** 4 or 16 bytes, network order */
  bytes: Uint8Array;
  /** dotted quad, or RFC 5952 text (lower case, longest zero run compressed) */
  text: string;
}

function v4Bytes(s: string): number[] | null {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) return null;
  return parts.map(Number);
}

function v6Bytes(s: string): number[] | null {
  let text = s;
  // an IPv4 tail ("::ffff:192.0.2.1") stands for the last two words
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    const v4 = v4Bytes(text.slice(lastColon + 1));
    if (!v4) return null;
    text = `${text.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === "") return [];
    const out: number[] = [];
    for (const g of h.split(":")) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  const given = head.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return null;
  const words = [...head, ...new Array<number>(8 - given).fill(0), ...tail];
  return words.flatMap((w) => [w >> 8, w & 255]);
}

/** The address in canonical form, or null for anything that is not a plain IPv4/IPv6 address (zones included). */
export function parseIp(value: unknown): ParsedIp | null {
  if (typeof value !== "string" || value.length > 45 || !isIP(value) || value.includes("%")) return null;
  if (value.includes(":")) {
    const b = v6Bytes(value);
    if (!b) return null;
    const bytes = Uint8Array.from(b);
    return { family: 6, bytes, text: ipv6Text(bytes) };
  }
  const b = v4Bytes(value);
  return b ? { family: 4, bytes: Uint8Array.from(b), text: b.join(".") } : null;
}

/**
 * Addresses that mean the same on every host, so they identify no guest: loopback, link-local
 * (IPv4 169.254/16, IPv6 fe80::/10), unspecified and multicast. The CMA drops the first three too.
 */
export function isHostScoped(ip: ParsedIp): boolean {
  const b = ip.bytes;
  if (ip.family === 4) return b[0] === 127 || (b[0] === 169 && b[1] === 254) || b[0] === 0 || b[0] >= 224;
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return true;
  if (b[0] === 0xff) return true;
  const zeroTo = (n: number): boolean => b.subarray(0, n).every((x) => x === 0);
  if (zeroTo(15) && (b[15] === 0 || b[15] === 1)) return true;  // :: and ::1
  // IPv4-mapped forms of the IPv4 cases
  if (zeroTo(10) && b[10] === 0xff && b[11] === 0xff) return isHostScoped({ family: 4, bytes: b.subarray(12), text: "" });
  return false;
}

/** IPv4 before IPv6, then by value. */
export function compareIps(a: ParsedIp, b: ParsedIp): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i] - b.bytes[i];
  return 0;
}

/** True when the first `prefixLength` bits of a and b are equal (same family). */
export function sameSubnet(a: ParsedIp, b: ParsedIp, prefixLength: number): boolean {
  if (a.family !== b.family || prefixLength < 0 || prefixLength > a.bytes.length * 8) return false;
  const full = prefixLength >> 3, rest = prefixLength & 7;
  for (let i = 0; i < full; i++) if (a.bytes[i] !== b.bytes[i]) return false;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a.bytes[full] & mask) === (b.bytes[full] & mask);
}

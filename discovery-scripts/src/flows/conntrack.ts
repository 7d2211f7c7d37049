// Established TCP connections from the kernel's connection tracking table (/proc/net/nf_conntrack),
// read once per run: they find a guest's connections opened before the capture started (pooled
// database links that never handshake again). The kernel tracks what passes its netfilter hooks:
// routed and NATed guests (libvirt's NAT networks) always, bridged guests only with br_netfilter
// and a rule that uses conntrack. Read as a stream and bounded in lines.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parseIp } from "../guest-addresses/ip-address.js";

export interface TrackedConnection {
  /** The original direction: the client's address and port, and the server it asked for. */
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  /** The reply direction's source: the server that really answered (after a DNAT, not serverIp). */
  replyIp: string;
  replyPort: number;
}

export interface ConntrackRead {
  available: boolean;
  error: string | null;
  /** Established TCP entries read. */
  entries: number;
  /** Lines that were not a conntrack entry. */
  unparsed: number;
  /** The read stopped at maxLines. */
  truncated: boolean;
}

const TUPLE = /src=(\S+) dst=(\S+) sport=(\d{1,5}) dport=(\d{1,5})/g;

/** One line of /proc/net/nf_conntrack if it is an ESTABLISHED TCP entry, else null. */
export function parseConntrackLine(line: string): TrackedConnection | null | "other" {
  const fields = line.split(/\s+/, 6);
  if (fields.length < 6 || !/^ipv[46]$/.test(fields[0])) return null;
  if (fields[2] !== "tcp") return "other";
  if (fields[5] !== "ESTABLISHED") return "other";
  const tuples = [...line.matchAll(TUPLE)];
  if (tuples.length < 2) return null;
  const [o, r] = tuples;
  const ips = [o[1], o[2], r[1]].map((t) => parseIp(t));
  const ports = [o[3], o[4], r[3]].map(Number);
  if (ips.some((ip) => !ip) || ports.some((p) => p < 1 || p > 65535)) return null;
  return { clientIp: ips[0]!.text, clientPort: ports[0], serverIp: ips[1]!.text, serverPort: ports[1], replyIp: ips[2]!.text, replyPort: ports[2] };
}

export async function readConntrack(file: string, maxLines: number, onConnection: (c: TrackedConnection) => void): Promise<ConntrackRead> {
  const result: ConntrackRead = { available: true, error: null, entries: 0, unparsed: 0, truncated: false };
  const stream = createReadStream(file, { encoding: "utf8", highWaterMark: 256 * 1024 });
  try {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) {
      if (++n > maxLines) { result.truncated = true; break; }
      if (!line) continue;
      const c = parseConntrackLine(line);
      if (c === null) result.unparsed++;
      else if (c !== "other") { result.entries++; onConnection(c); }
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ...result, available: false, error: code === "ENOENT" ? `${file} not present (no conntrack in this kernel or namespace)` : `${file}: ${(e as Error).message}` };
  } finally {
    stream.destroy();
  }
  return result;
}

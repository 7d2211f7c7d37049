// One line of `tcpdump -i any -nn -e -l` (Linux cooked capture v2, tcpdump 4.99) for a TCP SYN or
// SYN-ACK, as the guest-flows collector filters them in the kernel:
//   06:28:35.545193 vg1   P   ifindex 315 22:be:37:2b:70:89 ethertype IPv4 (0x0800), length 80: 10.77.0.11.47568 > 10.77.0.12.8080: Flags [S], seq ...
// Anything else (other flags, truncated or foreign lines) is not a handshake packet: null.
import { parseIp } from "../guest-addresses/ip-address.js";
import { normalizeMac } from "../guest-addresses/sighting.js";

export interface HandshakePacket {
  /** The interface the packet was seen on. */
  ifname: string;
  /** "Out": sent by this host onto the interface; anything else (In, P, B, M) arrived on it. */
  outgoing: boolean;
  /** Source MAC, lower case. */
  mac: string;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  /** SYN-ACK (the server's answer) rather than SYN (the client's opening). */
  synAck: boolean;
}

// time, interface, packet type, ifindex, MAC, ethertype, then "src.port > dst.port: Flags [..]"
const LINE = /^\S+ (\S+)\s+(In|Out|P|B|M)\s+ifindex \d+ ([0-9a-fA-F:]{17}) ethertype IPv[46] \(0x[0-9a-f]{4}\), length \d+: (\S+)\.(\d{1,5}) > (\S+)\.(\d{1,5}): Flags \[([^\]]{1,12})\]/;

function port(text: string): number | null {
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

export function parseHandshakeLine(line: string): HandshakePacket | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const flags = m[8];
  if (!flags.includes("S") || flags.includes("R")) return null;
  const src = parseIp(m[4]), dst = parseIp(m[6]);
  const srcPort = port(m[5]), dstPort = port(m[7]);
  const mac = normalizeMac(m[3]);
  if (!src || !dst || srcPort === null || dstPort === null || !mac) return null;
  return { ifname: m[1], outgoing: m[2] === "Out", mac, srcIp: src.text, srcPort, dstIp: dst.text, dstPort, synAck: flags.includes(".") };
}

/** "N packets dropped by kernel" in tcpdump's closing statistics on stderr; null when absent. */
export function kernelDrops(stderr: string): number | null {
  const m = /(\d+) packets? dropped by kernel/.exec(stderr);
  return m ? Number(m[1]) : null;
}

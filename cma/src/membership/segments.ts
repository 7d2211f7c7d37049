/**
 * Network segments: hosts are grouped by subnet (the source address the CMA sees, masked to
 * `prefixLength`, /24 by default) so most heartbeat traffic stays inside one switch. Once LLDP
 * discovery knows a host's switch, that name can replace the subnet (same string key).
 */
import { isIPv4 } from "node:net";

export function segmentOf(address: string, prefixLength: number): string {
  if (!isIPv4(address)) return `host:${address}`;
  const n = address.split(".").reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${prefixLength}`;
}

// One (MAC, IP) pair seen by one agentless source on the hypervisor.
import type { ParsedIp } from "./ip-address.js";

/** The two sources libvirt itself uses for virDomainInterfaceAddresses without a guest agent. */
export type AddressSource = "lease" | "neighbour";

export interface AddressSighting {
  /** lower case, six colon-separated octets */
  mac: string;
  ip: ParsedIp;
  /** host interface it was seen on (a lease file's bridge, a neighbour entry's dev), for the prefix length */
  dev: string | null;
  source: AddressSource;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** An Ethernet MAC in lower case, or null. */
export function normalizeMac(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const m = value.toLowerCase();
  return MAC_RE.test(m) ? m : null;
}

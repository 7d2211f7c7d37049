// Guest IP addresses seen from the hypervisor, with nothing installed in the guest: libvirt's DHCP
// leases and the host's neighbour table (libvirt's own LEASE and ARP sources), each read once per
// run and then looked up by NIC MAC. These addresses are what ties a guest's services to the guest
// in the CMA's graph.
import os from "node:os";
import { compareIps, isHostScoped, parseIp, sameSubnet, type ParsedIp } from "./ip-address.js";
import { DEFAULT_LEASE_DIR, readLeaseSightings } from "./leases.js";
import { readNeighbourSightings } from "./neighbours.js";
import type { AddressProblems } from "./problems.js";
import { normalizeMac, type AddressSighting, type AddressSource } from "./sighting.js";

export interface GuestAddress {
  address: string;
  /** Of the host's own subnet on the interface the address was seen on, when that subnet holds it. */
  prefixLength: number | null;
  source: AddressSource;
}

/** The CMA reads at most 64 addresses per NIC. */
export const MAX_ADDRESSES_PER_NIC = 64;

export interface AddressSourceConfig {
  /** Directory of libvirt's `<bridge>.status` lease files. */
  leaseDir: string;
  /** The iproute2 `ip` executable. */
  ipCommand: string;
}

/** env LIBVIRT_LEASE_DIR (default /var/lib/libvirt/dnsmasq) and IP_COMMAND (default `ip` from PATH). */
export function addressSourceConfig(env: NodeJS.ProcessEnv = process.env): AddressSourceConfig {
  return { leaseDir: env.LIBVIRT_LEASE_DIR || DEFAULT_LEASE_DIR, ipCommand: env.IP_COMMAND || "ip" };
}

export type HostInterfaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

/**
 * Prefix length of the longest subnet the host itself has on `dev` that contains ip: a guest on
 * that link reaches the host directly through it. For a lease this is the libvirt network's own
 * prefix (the file is named after its bridge), which is what libvirt reports too.
 */
export function prefixOnHost(ip: ParsedIp, dev: string | null, host: HostInterfaces): number | null {
  let best: number | null = null;
  for (const a of (dev && host[dev]) || []) {
    const [addr, len] = (a.cidr ?? "").split("/");
    const own = parseIp(addr), n = Number(len);
    if (own && Number.isInteger(n) && sameSubnet(ip, own, n) && (best === null || n > best)) best = n;
  }
  return best;
}

export class GuestAddressBook {
  private readonly byMac = new Map<string, AddressSighting[]>();

  /** Sightings in order of preference: the first sighting of an address decides its source and prefix. */
  constructor(sightings: Iterable<AddressSighting>, private readonly host: HostInterfaces = {}) {
    for (const s of sightings) {
      const list = this.byMac.get(s.mac);
      if (list) list.push(s);
      else this.byMac.set(s.mac, [s]);
    }
  }

  /** Leases, then neighbours: a lease is the DHCP server's record, a neighbour entry only traffic seen. */
  static async read(config: AddressSourceConfig, problems: AddressProblems, nowSec = Math.floor(Date.now() / 1000)): Promise<GuestAddressBook> {
    const leases = await readLeaseSightings(config.leaseDir, nowSec, problems);
    const neighbours = await readNeighbourSightings(config.ipCommand, problems);
    return new GuestAddressBook([leases, neighbours].flat(), os.networkInterfaces());
  }

  /**
   * The addresses of the NIC with this MAC (case-insensitive): one per address, host-scoped ones
   * left out, sorted (IPv4 first) so an unchanged guest gives an unchanged document.
   */
  addressesOf(mac: string, problems: AddressProblems): GuestAddress[] {
    const key = normalizeMac(mac);
    const found = new Map<string, { ip: ParsedIp; address: GuestAddress }>();
    for (const s of (key && this.byMac.get(key)) || []) {
      if (isHostScoped(s.ip) || found.has(s.ip.text)) continue;
      found.set(s.ip.text, { ip: s.ip, address: { address: s.ip.text, prefixLength: prefixOnHost(s.ip, s.dev, this.host), source: s.source } });
    }
    const sorted = [...found.values()].sort((a, b) => compareIps(a.ip, b.ip)).map((f) => f.address);
    if (sorted.length > MAX_ADDRESSES_PER_NIC) {
      problems.add(`NIC ${key}: ${sorted.length} addresses; kept the first ${MAX_ADDRESSES_PER_NIC}`);
      return sorted.slice(0, MAX_ADDRESSES_PER_NIC);
    }
    return sorted;
  }
}

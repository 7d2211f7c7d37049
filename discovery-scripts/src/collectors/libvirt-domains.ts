// Domain inventory through the nanoprobe's in-process libvirt binding (read-only connection), with
// each running guest's NIC addresses from the hypervisor side (see guest-addresses/).
import { LibvirtConnection, type DiskDevice, type DomainInventory, type DomainState, type NicDevice, type VirtualNetwork } from "@ringwatch/libvirt";
import { addressSourceConfig, GuestAddressBook, type AddressSourceConfig, type GuestAddress } from "../guest-addresses/guest-addresses.js";
import { AddressProblems } from "../guest-addresses/problems.js";

export const DEFAULT_LIBVIRT_URI = "qemu:///system";

/** A NIC as the binding reports it; `addresses` on every NIC with a MAC ([] for a guest that is not running). */
export interface GuestNic extends NicDevice {
  addresses?: GuestAddress[];
}

export interface DomainRecord {
  uuid: string;
  name: string;
  state: DomainState;
  active: boolean;
  persistent: boolean;
  vcpus: number;
  maxVcpus: number;
  memoryKiB: number;
  maxMemKiB: number;
  disks: DiskDevice[];
  nics: GuestNic[];
}

export interface LibvirtDomainsData {
  uri: string;
  domains: DomainRecord[];
  /**
   * The active virtual networks: which are private to this host (NAT, isolated), so that the CMA
   * keys their guests' addresses per host (every hypervisor's default network is 192.168.122.0/24).
   */
  networks: VirtualNetwork[];
  /** Why guest addresses may be missing (unreadable lease file, bad entries, no `ip`); bounded. */
  addressErrors: string[];
}

export function domainRecord(d: DomainInventory): DomainRecord {
  return {
    uuid: d.uuid,
    name: d.name,
    state: d.state,
    active: d.active,
    persistent: d.persistent,
    vcpus: d.vcpus,
    maxVcpus: d.devices.maxVcpus || d.vcpus,
    memoryKiB: d.memoryKiB,
    maxMemKiB: d.maxMemKiB,
    disks: d.devices.disks,
    nics: d.devices.nics.map((n) => ({ ...n })),
  };
}

/**
 * Sets `addresses` on every NIC with a MAC. Only running guests get any: a shut-off guest has no
 * address, and a stale lease or neighbour entry for its MAC must not tie services to it. The
 * sources are read once, and not at all when no running guest has a MAC.
 */
export async function addGuestAddresses(domains: DomainRecord[], config: AddressSourceConfig, problems: AddressProblems): Promise<void> {
  const wanted = domains.some((d) => d.active && d.nics.some((n) => n.mac));
  const book = wanted ? await GuestAddressBook.read(config, problems) : new GuestAddressBook([]);
  for (const d of domains) {
    for (const n of d.nics) if (n.mac) n.addresses = d.active ? book.addressesOf(n.mac, problems) : [];
  }
}

/** Throws (so the script exits non-zero) when libvirt cannot be reached. */
export async function collectLibvirtDomains(
  uri = process.env.LIBVIRT_URI || DEFAULT_LIBVIRT_URI,
  addressSources: AddressSourceConfig = addressSourceConfig(),
): Promise<LibvirtDomainsData> {
  let conn: LibvirtConnection;
  try {
    conn = await LibvirtConnection.open(uri, { readOnly: true });
  } catch (e) {
    throw new Error(`cannot connect to libvirt at ${uri}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let domains: DomainRecord[], networks: VirtualNetwork[];
  try {
    domains = (await conn.inventory()).map(domainRecord).sort((a, b) => a.name.localeCompare(b.name) || a.uuid.localeCompare(b.uuid));
    networks = (await conn.networks()).sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    await conn.close().catch(() => undefined);
  }
  const problems = new AddressProblems();
  await addGuestAddresses(domains, addressSources, problems);
  return { uri, domains, networks, addressErrors: problems.list() };
}

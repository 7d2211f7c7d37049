// Domain inventory through the nanoprobe's in-process libvirt binding (read-only connection).
import { LibvirtConnection, type DiskDevice, type DomainInventory, type DomainState, type NicDevice } from "@ringwatch/nanoprobe";

export const DEFAULT_LIBVIRT_URI = "qemu:///system";

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
  nics: NicDevice[];
}

export interface LibvirtDomainsData {
  uri: string;
  domains: DomainRecord[];
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
    nics: d.devices.nics,
  };
}

/** Throws (so the script exits non-zero) when libvirt cannot be reached. */
export async function collectLibvirtDomains(uri = process.env.LIBVIRT_URI || DEFAULT_LIBVIRT_URI): Promise<LibvirtDomainsData> {
  let conn: LibvirtConnection;
  try {
    conn = await LibvirtConnection.open(uri, { readOnly: true });
  } catch (e) {
    throw new Error(`cannot connect to libvirt at ${uri}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    const domains = (await conn.inventory()).map(domainRecord).sort((a, b) => a.name.localeCompare(b.name) || a.uuid.localeCompare(b.uuid));
    return { uri, domains };
  } finally {
    await conn.close().catch(() => undefined);
  }
}

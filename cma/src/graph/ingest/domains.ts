/**
 * Guests on a host, shared by the "libvirt-domains" discovery plugin and the inventory plugin:
 * Domain (uuid), its disks ("uuid/target"), its NICs (MAC; "uuid/target" without one) bridged to
 * the host's bridge NIC, and the host that runs it. A domain now reported by another host moved:
 * its old RUNS is dropped. Devices that left a domain are marked; with a full report, so are
 * the host's domains it no longer lists.
 *
 * A guest's addresses come from the host's side (DHCP leases, the neighbour table: a guest that
 * has been quiet for a while is missing from it), so an address missing from one report is not
 * taken away; an address reported on a guest NIC is taken from a NIC that held it unless that
 * holder still holds it now, which is a conflict (address-claims.ts). An address on a NIC in a
 * NAT or isolated network is keyed per host and network (address-scope.ts).
 */
import { mergeNodes, mergeRels } from "../write-batch.js";
import type { Row } from "../write-batch.js";
import { hostNicKey } from "./nics.js";
import { ip, isHostLocal } from "./input.js";
import { keySet, listed, phased } from "./phased.js";
import { addressNodes, linked } from "./derived.js";
import { addressClaims } from "./address-claims.js";
import type { AddressClaim } from "./address-claims.js";
import type { AddressScopes } from "./address-scope.js";
import type { Phased } from "./phased.js";

export interface GuestShape {
  uuid: string;
  name: string;
  state: string | null;
  vcpus: number | null;
  memoryKiB: number | null;
  disks: { target: string; source: string | null; device?: string | null; type?: string | null; format?: string | null }[];
  /** addresses: the guest's IPs on that NIC when the report has them (what ties guests' services to guests) */
  nics: { target: string | null; mac: string | null; bridge: string | null; network: string | null; type?: string | null; addresses?: { address: string; prefixLength: number | null }[] }[];
}

export const domainNicKey = (uuid: string, mac: string | null, target: string | null, index: number): string => mac ?? `${uuid}/${target || `nic${index}`}`;

export function guestWrites(host: string, guests: readonly GuestShape[], at: number, full: boolean, scopes: AddressScopes): Phased {
  const domains: Row[] = [], disks: Row[] = [], nics: Row[] = [], addrs: Row[] = [], bridges: Row[] = [];
  const runs: Row[] = [], hasDisk: Row[] = [], hasNic: Row[] = [], bridged: Row[] = [], hostNics: Row[] = [], hasIp: Row[] = [];
  const devices: Row[] = [], claims: AddressClaim[] = [];
  for (const g of guests) {
    domains.push({ uuid: g.uuid, name: g.name, state: g.state, vcpus: g.vcpus, memoryKiB: g.memoryKiB, present: true, goneAt: null, updatedAt: at });
    runs.push({ from: host, to: g.uuid });
    const diskKeys: string[] = [], nicKeys: string[] = [];
    for (const d of g.disks) {
      const key = `${g.uuid}/${d.target}`;
      diskKeys.push(key);
      disks.push({ key, target: d.target, source: d.source, device: d.device ?? null, type: d.type ?? null, format: d.format ?? null, present: true, goneAt: null, updatedAt: at });
      hasDisk.push({ from: g.uuid, to: key });
    }
    g.nics.forEach((n, i) => {
      const key = domainNicKey(g.uuid, n.mac, n.target, i);
      nicKeys.push(key);
      // addresses undefined: the report does not say (an inventory event), so the NIC's are not stated
      nics.push({ key, owner: g.uuid, name: n.target, mac: n.mac, kind: n.type ?? null, bridge: n.bridge, network: n.network, present: true, goneAt: null, updatedAt: at, ...(n.addresses ? { addressesAt: at } : {}) });
      hasNic.push({ from: g.uuid, to: key });
      if (n.bridge) {
        const b = hostNicKey(host, n.bridge);
        bridges.push({ key: b, owner: host, name: n.bridge });
        hostNics.push({ from: host, to: b });
        bridged.push({ from: key, to: b });
      }
      for (const a of n.addresses ?? []) {
        const address = ip(a.address);
        if (!address || isHostLocal(address)) continue;
        const row = scopes.addressRow(host, address, at, n.network);
        addrs.push(row);
        hasIp.push({ from: key, to: row.address, prefixLength: a.prefixLength, seenAt: at });
        claims.push({ nic: key, owner: g.uuid, address: row.address, at });
      }
    });
    devices.push({ uuid: g.uuid, disks: keySet(diskKeys), nics: keySet(nicKeys), at });
  }
  const mark = [
    ...(devices.length ? [
      {
        cypher: `UNWIND $rows AS r WITH r, r.uuid AS kv MATCH (d:Domain {uuid: kv})-[:HAS_DISK]->(k:Disk) WHERE k.present = true AND NOT ${listed("disks", "k.key")} SET k.present = false, k.goneAt = r.at`,
        params: { rows: devices },
      },
      {
        cypher: `UNWIND $rows AS r WITH r, r.uuid AS kv MATCH (d:Domain {uuid: kv})-[:HAS_NIC]->(n:NIC) WHERE n.present = true AND NOT ${listed("nics", "n.key")} SET n.present = false, n.goneAt = r.at`,
        params: { rows: devices },
      },
    ] : []),
    ...(full ? [{
      cypher: `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[:RUNS]->(d:Domain) WHERE d.present = true AND NOT ${listed("uuids", "d.uuid")} SET d.present = false, d.goneAt = r.at`,
      params: { rows: [{ host, uuids: keySet(guests.map((g) => g.uuid)), at }] },
    }] : []),
  ];
  return phased({
    nodes: [
      ...mergeNodes("Host", [{ name: host }]),
      ...mergeNodes("Domain", domains),
      ...mergeNodes("Disk", disks),
      ...mergeNodes("NIC", nics),
      ...mergeNodes("NIC", bridges),
      ...addressNodes(addrs),
    ],
    unlink: [
      ...(runs.length ? [{
        cypher: "UNWIND $rows AS r WITH r, r.uuid AS kv MATCH (o:Host)-[x:RUNS]->(d:Domain {uuid: kv}) WHERE o.name <> r.host DELETE x",
        params: { rows: runs.map((r) => ({ uuid: r.to as string, host })) },
        unique: "uuid",
      }] : []),
      ...(bridged.length ? [{
        cypher: "UNWIND $rows AS r WITH r, r.from AS kv MATCH (g:NIC {key: kv})-[x:BRIDGED_TO]->(b:NIC) WHERE b.key <> r.to DELETE x",
        params: { rows: bridged },
        unique: "from",
      }] : []),
      ...addressClaims(claims),
    ],
    link: [
      ...mergeRels("RUNS", "Host", "Domain", runs, "to"),
      ...mergeRels("HAS_DISK", "Domain", "Disk", hasDisk),
      ...mergeRels("HAS_NIC", "Domain", "NIC", hasNic),
      ...mergeRels("HAS_NIC", "Host", "NIC", hostNics),
      ...mergeRels("BRIDGED_TO", "NIC", "NIC", bridged, "from"),
      ...mergeRels("HAS_IP", "NIC", "IPAddr", hasIp),
    ],
    mark,
    derive: linked(claims.map((c) => c.address)),
  });
}

/** A guest the host no longer has (inventory "domainRemoved"): marked, if this host still runs it. */
export function guestGone(host: string, uuid: string, at: number): Phased {
  return phased({
    mark: [{
      cypher: "UNWIND $rows AS r WITH r, r.host AS kv, r.uuid AS u MATCH (h:Host {name: kv})-[:RUNS]->(d:Domain {uuid: u}) WHERE d.present = true SET d.present = false, d.goneAt = r.at",
      params: { rows: [{ host, uuid, at }] },
    }],
  });
}

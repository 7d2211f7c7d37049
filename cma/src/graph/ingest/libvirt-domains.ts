/**
 * discovertype "libvirt-domains": the host's full list of guests (see domains.ts) and its active
 * virtual networks (Network "host/name"): a NAT or isolated one makes the addresses in it this
 * host's own (address-scope.ts). A network no longer listed is marked present=false.
 */
import { mergeNodes, mergeRels } from "../write-batch.js";
import type { DiscoveryIngest } from "./discovery-ingest.js";
import { documentNetworks, formatSubnets, networkKey } from "./address-scope.js";
import type { HostNetwork } from "./address-scope.js";
import { guestWrites } from "./domains.js";
import { combinePhased, keySet, listed, phased } from "./phased.js";
import type { Phased } from "./phased.js";
import type { GuestShape } from "./domains.js";
import { UUID_RE, int, isObject, listField, mac, text } from "./input.js";
import type { BadEntry } from "./input.js";

const DEVICE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function guest(d: unknown, bad: BadEntry): GuestShape | undefined {
  if (!isObject(d) || typeof d.uuid !== "string" || !UUID_RE.test(d.uuid) || !text(d.name, 255)) {
    bad("domain without a valid uuid and name");
    return undefined;
  }
  const disks = (Array.isArray(d.disks) ? d.disks.slice(0, 256) : []).flatMap((k) => {
    const target = isObject(k) ? text(k.target, 64) : null;
    if (!isObject(k) || !target || !DEVICE_NAME.test(target)) return bad(`disk without a target on ${d.name as string}`), [];
    return [{ target, source: text(k.source), device: text(k.device, 32), type: text(k.type, 32), format: text(k.format, 32) }];
  });
  const nics = (Array.isArray(d.nics) ? d.nics.slice(0, 256) : []).flatMap((n) => {
    if (!isObject(n)) return bad(`bad NIC on ${d.name as string}`), [];
    const target = text(n.target, 64);
    const addresses = Array.isArray(n.addresses)
      ? n.addresses.slice(0, 64).flatMap((a) => (isObject(a) && typeof a.address === "string" ? [{ address: a.address, prefixLength: int(a.prefixLength, 0, 128) }] : typeof a === "string" ? [{ address: a, prefixLength: null }] : []))
      : undefined;
    return [{ target: target && DEVICE_NAME.test(target) ? target : null, mac: mac(n.mac), bridge: text(n.bridge, 64), network: text(n.network, 255), type: text(n.type, 32), addresses }];
  });
  return { uuid: d.uuid.toLowerCase(), name: d.name as string, state: text(d.state, 32), vcpus: int(d.vcpus, 0, 1 << 20), memoryKiB: int(d.memoryKiB), disks, nics };
}

export const libvirtDomainsIngest: DiscoveryIngest = {
  discovertype: "libvirt-domains",
  build(host, data, at, bad, ctx) {
    const guests = listField(data, "domains", 10_000).map((d) => guest(d, bad)).filter((g): g is GuestShape => g !== undefined);
    // before the guests: their addresses are keyed by these networks
    const networks = documentNetworks(data, bad);
    if (networks && ctx.scopes.set(host, networks)) ctx.networksChanged(host);
    const guestsPart = guestWrites(host, guests, at, true, ctx.scopes);
    return networks ? combinePhased([networkWrites(host, networks, at), guestsPart]) : guestsPart;
  },
};

function networkWrites(host: string, networks: readonly HostNetwork[], at: number): Phased {
  const rows = networks.map((n) => ({
    key: networkKey(host, n.name), host, name: n.name, forward: n.forward, bridge: n.bridge, hostLocal: n.hostLocal,
    subnets: formatSubnets(n.subnets), present: true, goneAt: null, updatedAt: at,
  }));
  return phased({
    nodes: [...mergeNodes("Host", [{ name: host }]), ...mergeNodes("Network", rows)],
    link: mergeRels("HAS_NETWORK", "Host", "Network", rows.map((r) => ({ from: host, to: r.key }))),
    mark: [{
      cypher: `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[:HAS_NETWORK]->(n:Network) WHERE n.present = true AND NOT ${listed("keys", "n.key")} SET n.present = false, n.goneAt = r.at`,
      params: { rows: [{ host, keys: keySet(rows.map((r) => r.key)), at }] },
    }],
  });
}

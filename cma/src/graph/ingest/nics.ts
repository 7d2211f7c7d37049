/**
 * discovertype "nics": the host's interfaces (NIC "host/ifname") and their addresses. Loopback
 * and link-local addresses are left out: every host has them, so they identify nothing. An
 * address in one of the host's NAT or isolated networks (its virbr0's 192.168.122.1) is keyed per
 * host and network (address-scope.ts). An address another machine holds is a move or a conflict
 * (address-claims.ts). An address that left an interface is unlinked; an interface that
 * disappeared is marked.
 */
import { mergeNodes, mergeRels } from "../write-batch.js";
import type { Row } from "../write-batch.js";
import type { DiscoveryIngest } from "./discovery-ingest.js";
import { int, ip, isHostLocal, isObject, listField, mac, text } from "./input.js";
import { keySet, listed, phased } from "./phased.js";
import { addressNodes, linked, stillOwned, withdrawOffers } from "./derived.js";
import { addressClaims } from "./address-claims.js";

export const hostNicKey = (host: string, ifname: string): string => `${host}/${ifname}`;

export const nicsIngest: DiscoveryIngest = {
  discovertype: "nics",
  build(host, data, at, bad, ctx) {
    const nics: Row[] = [], addrs: Row[] = [], hasNic: Row[] = [], hasIp: Row[] = [];
    const pairs: string[] = [];
    for (const n of listField(data, "interfaces", 4096)) {
      const name = isObject(n) ? text(n.name, 64) : null;
      if (!isObject(n) || !name || name.includes("/")) {
        bad("interface without a usable name");
        continue;
      }
      const key = hostNicKey(host, name);
      nics.push({ key, owner: host, name, mac: mac(n.mac), kind: text(n.kind, 32), state: text(n.state, 32), mtu: int(n.mtu, 0, 1 << 20), speedMbps: int(n.speedMbps), master: text(n.master, 64), addressesAt: at, present: true, goneAt: null, updatedAt: at });
      hasNic.push({ from: host, to: key });
      for (const a of Array.isArray(n.addresses) ? n.addresses.slice(0, 256) : []) {
        const address = isObject(a) ? ip(a.address) : null;
        if (!address) {
          bad(`bad address on ${name}`);
          continue;
        }
        if (isHostLocal(address)) continue;
        const row = ctx.scopes.addressRow(host, address, at);
        addrs.push(row);
        hasIp.push({ from: key, to: row.address, prefixLength: int(a.prefixLength, 0, 128), seenAt: at });
        pairs.push(`${key} ${row.address}`);
      }
    }
    const row = { host, nics: keySet(nics.map((n) => n.key as string)), pairs: keySet(pairs), at };
    // the host's addresses this report no longer lists (h, the NIC n, the address a, its HAS_IP x)
    const leaving = `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[:HAS_NIC]->(n:NIC) WITH r, h, n MATCH (n)-[x:HAS_IP]->(a:IPAddr) WHERE NOT ${listed("pairs", "n.key + ' ' + a.address")}`;
    return phased({
      nodes: [...mergeNodes("Host", [{ name: host }]), ...mergeNodes("NIC", nics), ...addressNodes(addrs)],
      unlink: [
        { cypher: `${leaving} ${withdrawOffers("h", "a")}`, params: { rows: [row] } },
        // owned unless only this host's NICs held it and none of them keeps it
        { cypher: `${leaving} ${stillOwned("a", `m.owner <> r.host OR ${listed("pairs", "m.key + ' ' + a.address")}`)}`, params: { rows: [row] } },
        { cypher: `${leaving} DELETE x`, params: { rows: [row] } },
        ...addressClaims(hasIp.map((h) => ({ nic: h.from as string, owner: host, address: h.to as string, at }))),
      ],
      link: [...mergeRels("HAS_NIC", "Host", "NIC", hasNic), ...mergeRels("HAS_IP", "NIC", "IPAddr", hasIp)],
      mark: [{
        cypher: `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[:HAS_NIC]->(n:NIC) WHERE n.present = true AND NOT ${listed("nics", "n.key")} SET n.present = false, n.goneAt = r.at`,
        params: { rows: [row] },
      }],
      derive: linked(addrs.map((a) => a.address as string)),
    });
  },
};

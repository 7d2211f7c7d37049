/**
 * discovertype "guest-flows": the guests' own TCP services and dependencies, seen from their
 * hypervisor with nothing in the guest (discovery-scripts' guest-flows: handshakes on the host's
 * interfaces, conntrack).
 *
 *  - A listener is a Service "ip:port" the guest runs: (Domain)-[:RUNS_SERVICE]->(Service)
 *    -[:LISTENS_ON]->(IPAddr). The NIC that answered from that address holds it (HAS_IP; taken
 *    from any other guest NIC that held it, as libvirt-domains does): a SYN-ACK from the guest's
 *    own MAC is as good a sighting as a neighbour entry, and it is what makes OFFERS (derived.ts)
 *    tie the service to the guest for the root-cause queries.
 *  - A client connection that was answered is (Domain)-[:DEPENDS_ON {clientHost}]->(Service
 *    "ip:port"), the service created if nobody reported it (a forgotten server shows up). SYNs
 *    never answered stay out of the graph: a port scan from a guest must not make thousands of
 *    services. (The script keeps an answered dependency for an hour, so one whose server died
 *    since stays, and is what servicesWithDownDependencies reports.)
 *  - An address in one of the hypervisor's NAT or isolated networks is keyed per host and network
 *    (address-scope.ts), a listener's and a connection's alike: a guest on a NAT network that
 *    reaches 192.168.122.10 reaches its own host's, never another hypervisor's.
 *  - Services and dependencies of the listed guests that are no longer listed are marked
 *    present=false, never deleted. Guests not listed (stopped, migrated) are left as they are.
 */
import { mergeNodes, mergeRels } from "../write-batch.js";
import type { Row } from "../write-batch.js";
import type { DiscoveryIngest } from "./discovery-ingest.js";
import { addressClaims } from "./address-claims.js";
import type { AddressClaim } from "./address-claims.js";
import { UUID_RE, bool, int, ip, isHostLocal, isObject, listField, mac, text } from "./input.js";
import { keySet, listed, phased } from "./phased.js";
import { addressNodes, linked, offered } from "./derived.js";

/** The script keeps at most 4096 entries per host by default (GUEST_FLOWS_MAX_ENTRIES allows more). */
const MAX_ENTRIES_PER_GUEST = 20_000;

export const guestFlowsIngest: DiscoveryIngest = {
  discovertype: "guest-flows",
  build(host, data, at, bad, ctx) {
    const domains: Row[] = [], services = new Map<string, Row>(), targets = new Map<string, Row>(), addrs = new Map<string, Row>();
    const nics = new Map<string, Row>(), runs: Row[] = [], listensOn: Row[] = [], hasNic: Row[] = [], hasIp: Row[] = [], deps: Row[] = [];
    const guests: Row[] = [], claims: AddressClaim[] = [];
    /** address:port seen from this hypervisor: the Service key, the scope and its address's IPAddr key (the node added once) */
    const place = (address: string, port: number): { key: string; addressKey: string; scope: string | null } => {
      const p = ctx.scopes.endpoint(host, address, port, at);
      if (!addrs.has(p.address.address)) addrs.set(p.address.address, p.address);
      return { key: p.key, addressKey: p.address.address, scope: p.scope };
    };

    for (const g of listField(data, "guests", 10_000)) {
      if (!isObject(g) || typeof g.uuid !== "string" || !UUID_RE.test(g.uuid)) {
        bad("guest without a valid uuid");
        continue;
      }
      const uuid = g.uuid.toLowerCase();
      const name = text(g.name, 255);
      domains.push(name ? { uuid, name } : { uuid });
      const listenerKeys: string[] = [], depKeys: string[] = [];
      const listeners = Array.isArray(g.listeners) ? g.listeners.slice(0, MAX_ENTRIES_PER_GUEST) : [];
      for (const l of listeners) {
        const address = isObject(l) ? ip(l.ip) : null;
        const port = isObject(l) ? int(l.port, 1, 65535) : null;
        if (!isObject(l) || !address || port === null || isHostLocal(address)) {
          bad(`listener of ${uuid} without a valid routable ip and port`);
          continue;
        }
        const { key, addressKey, scope } = place(address, port);
        listenerKeys.push(key);
        services.set(key, { key, ip: address, port, scope, present: true, goneAt: null, updatedAt: at });
        runs.push({ from: uuid, to: key });
        listensOn.push({ from: key, to: addressKey });
        const nic = mac(l.mac);
        if (nic) {
          nics.set(nic, { key: nic, owner: uuid, mac: nic });
          hasNic.push({ from: uuid, to: nic });
          hasIp.push({ from: nic, to: addressKey, seenAt: at });
          claims.push({ nic, owner: uuid, address: addressKey, at });
        }
      }
      const clients = Array.isArray(g.clients) ? g.clients.slice(0, MAX_ENTRIES_PER_GUEST) : [];
      for (const c of clients) {
        const address = isObject(c) ? ip(c.remoteIp) : null;
        const port = isObject(c) ? int(c.remotePort, 1, 65535) : null;
        if (!isObject(c) || !address || port === null || isHostLocal(address)) {
          bad(`client connection of ${uuid} without a valid routable remote ip and port`);
          continue;
        }
        if (bool(c.answered) !== true) continue; // never answered: not a dependency (see above)
        const { key, addressKey, scope } = place(address, port);
        if (!targets.has(key)) {
          targets.set(key, { key, ip: address, port, scope });
          listensOn.push({ from: key, to: addressKey });
        }
        depKeys.push(key);
        deps.push({ from: uuid, to: key, clientHost: host, present: true, updatedAt: at });
      }
      guests.push({ uuid, keys: keySet(listenerKeys), deps: keySet(depKeys), at });
    }
    for (const k of services.keys()) targets.delete(k);

    return phased({
      nodes: [
        ...mergeNodes("Host", [{ name: host }]),
        ...mergeNodes("Domain", domains),
        ...mergeNodes("NIC", [...nics.values()]),
        ...mergeNodes("Service", [...services.values()]),
        ...mergeNodes("Service", [...targets.values()]),
        ...addressNodes([...addrs.values()]),
      ],
      unlink: [
        // a service now answered by this guest no longer runs on another guest (an address moved)
        ...(runs.length ? [{
          cypher: "UNWIND $rows AS r WITH r, r.to AS kv MATCH (o:Domain)-[x:RUNS_SERVICE]->(s:Service {key: kv}) WHERE o.uuid <> r.from DELETE x",
          params: { rows: runs },
          unique: "to",
        }] : []),
        ...addressClaims(claims),
      ],
      link: [
        ...mergeRels("HAS_NIC", "Domain", "NIC", hasNic),
        ...mergeRels("HAS_IP", "NIC", "IPAddr", hasIp),
        ...mergeRels("RUNS_SERVICE", "Domain", "Service", runs, "to"),
        ...mergeRels("LISTENS_ON", "Service", "IPAddr", listensOn),
        ...mergeRels("DEPENDS_ON", "Domain", "Service", deps),
      ],
      mark: guests.length ? [
        {
          cypher: `UNWIND $rows AS r WITH r, r.uuid AS kv MATCH (d:Domain {uuid: kv})-[:RUNS_SERVICE]->(s:Service) WHERE s.present = true AND NOT ${listed("keys", "s.key")} SET s.present = false, s.goneAt = r.at`,
          params: { rows: guests },
        },
        {
          cypher: `UNWIND $rows AS r WITH r, r.uuid AS kv MATCH (d:Domain {uuid: kv})-[x:DEPENDS_ON]->(t:Service) WHERE x.present = true AND NOT ${listed("deps", "t.key")} SET x.present = false, x.updatedAt = r.at`,
          params: { rows: guests },
        },
      ] : [],
      // addresses a NIC answered from are owned now (and OFFER their services); the others
      // (remote services' addresses) get OFFERS from whoever holds them
      derive: [...linked(claims.map((c) => c.address)), ...offered([...addrs.keys()].filter((a) => !claims.some((c) => c.address === a)))],
    });
  },
};

/**
 * discovertype "tcp-services": listening services (Service, RUNS_SERVICE, LISTENS_ON) and the
 * host's client connections as dependencies (DEPENDS_ON) from the listening service of the same
 * process, else from the host. A connection to another machine's ip:port depends on the Service
 * "ip:port" (created if nobody reported it: that is how forgotten servers show up); one to this
 * host's own loopback or wildcard listener depends on that listener. An address in one of the
 * host's NAT or isolated networks (its guests' 192.168.122.x) is this host's own: its services are
 * keyed "host/network|ip:port" (address-scope.ts). Services and dependencies
 * that disappear are marked present=false, never deleted: a client whose server died loses its
 * connection, and that lost dependency is exactly what root-cause queries ask about.
 */
import { mergeNodes, mergeRels } from "../write-batch.js";
import type { Row } from "../write-batch.js";
import type { DiscoveryIngest } from "./discovery-ingest.js";
import { endpoint, int, ip, isHostLocal, isObject, isWildcard, listField, text } from "./input.js";
import { keySet, listed, phased } from "./phased.js";
import { addressNodes, offered } from "./derived.js";

function cmdline(v: unknown): string | null {
  if (!Array.isArray(v)) return null;
  const s = v.filter((x): x is string => typeof x === "string").join(" ");
  return s ? s.slice(0, 1024) : null;
}

export const tcpServicesIngest: DiscoveryIngest = {
  discovertype: "tcp-services",
  build(host, data, at, bad, ctx) {
    const services = new Map<string, Row>();
    const addrs = new Map<string, Row>();
    const listensOn: Row[] = [], runs: Row[] = [], wildcardPorts = new Set<number>();
    const byPid = new Map<number, string>();
    /**
     * address:port seen from this host: a loopback or wildcard one is "host|ip:port" (every host has
     * them) with no address node; another is keyed in its scope, its IPAddr node added once.
     */
    const place = (address: string, port: number): { key: string; scope: string | null; addressKey: string | null } => {
      if (isHostLocal(address)) return { key: `${host}|${endpoint(address, port)}`, scope: null, addressKey: null };
      const p = ctx.scopes.endpoint(host, address, port, at);
      if (!addrs.has(p.address.address)) addrs.set(p.address.address, p.address);
      return { key: p.key, scope: p.scope, addressKey: p.address.address };
    };

    for (const l of listField(data, "listeners", 20_000)) {
      const address = isObject(l) ? ip(l.ip) : null;
      const port = isObject(l) ? int(l.port, 1, 65535) : null;
      if (!isObject(l) || !address || port === null) {
        bad("listener without a valid ip and port");
        continue;
      }
      const { key, scope, addressKey } = place(address, port);
      const pid = int(l.pid, 1);
      services.set(key, { key, ip: address, port, scope, process: text(l.process, 64), pid, cmdline: cmdline(l.cmdline), present: true, goneAt: null, updatedAt: at });
      runs.push({ from: host, to: key });
      if (isWildcard(address)) wildcardPorts.add(port);
      else if (addressKey) listensOn.push({ from: key, to: addressKey });
      if (pid !== null && !byPid.has(pid)) byPid.set(pid, key);
    }
    const listenerKeys = [...services.keys()];

    const targets = new Map<string, Row>();
    const deps = new Map<string, Row & { count: number }>();
    for (const c of listField(data, "clients", 100_000)) {
      const address = isObject(c) ? ip(c.remoteIp) : null;
      const port = isObject(c) ? int(c.remotePort, 1, 65535) : null;
      if (!isObject(c) || !address || port === null) {
        bad("client connection without a valid remote ip and port");
        continue;
      }
      const placed = place(address, port);
      let target = placed.key;
      if (isHostLocal(address) && !services.has(target)) {
        const wild = [place("0.0.0.0", port).key, place("::", port).key].find((k) => services.has(k));
        if (wild) target = wild;
      }
      if (!services.has(target) && !targets.has(target)) {
        targets.set(target, { key: target, ip: address, port, scope: placed.scope });
        if (placed.addressKey) listensOn.push({ from: target, to: placed.addressKey });
      }
      const pid = int(c.pid, 1);
      const from = (pid !== null && byPid.get(pid)) || host;
      if (from === target) continue; // a process talking to its own listener
      const k = `${from} ${target}`;
      const d = deps.get(k);
      const count = int(c.count, 1) ?? 1;
      if (d) d.count += count;
      else deps.set(k, { from, to: target, clientHost: host, process: text(c.process, 64), count, present: true, updatedAt: at });
    }
    const depRows = [...deps.values()];
    const fromService = depRows.filter((d) => d.from !== host);
    const fromHost = depRows.filter((d) => d.from === host);
    const row = { host, keys: keySet(listenerKeys), deps: keySet(deps.keys()), at };

    return phased({
      nodes: [
        ...mergeNodes("Host", [{ name: host }]),
        ...mergeNodes("Service", [...services.values()]),
        ...mergeNodes("Service", [...targets.values()]),
        ...addressNodes([...addrs.values()]),
      ],
      unlink: [
        // a service that moved here (a failed-over address) no longer runs where it was
        ...(listenerKeys.length ? [{
          cypher: "UNWIND $rows AS r WITH r, r.key AS kv MATCH (o:Host)-[x:RUNS_SERVICE]->(s:Service {key: kv}) WHERE o.name <> r.host DELETE x",
          params: { rows: listenerKeys.map((key) => ({ key, host })) },
          unique: "key",
        }] : []),
        // services others reached on this host's addresses: gone unless a listener still covers them (re-set in link)
        {
          cypher: `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[:HAS_NIC]->(n:NIC) WITH r, n MATCH (n)-[:HAS_IP]->(a:IPAddr) WITH r, a MATCH (a)<-[:LISTENS_ON]-(s:Service) WHERE s.present = true AND NOT ${listed("keys", "s.key")} SET s.present = false, s.goneAt = r.at`,
          params: { rows: [row] },
        },
      ],
      link: [
        ...mergeRels("RUNS_SERVICE", "Host", "Service", runs, "to"),
        ...mergeRels("LISTENS_ON", "Service", "IPAddr", listensOn),
        ...mergeRels("DEPENDS_ON", "Service", "Service", fromService),
        ...mergeRels("DEPENDS_ON", "Host", "Service", fromHost),
        ...(wildcardPorts.size ? [{
          cypher: "UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[:HAS_NIC]->(n:NIC) WITH r, n MATCH (n)-[:HAS_IP]->(a:IPAddr) WITH r, a MATCH (a)<-[:LISTENS_ON]-(s:Service) WHERE s.port = r.port SET s.present = true, s.goneAt = NULL, s.updatedAt = r.at",
          params: { rows: [...wildcardPorts].map((port) => ({ host, port, at })) },
        }] : []),
      ],
      mark: [
        {
          cypher: `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[:RUNS_SERVICE]->(s:Service) WHERE s.present = true AND NOT ${listed("keys", "s.key")} SET s.present = false, s.goneAt = r.at`,
          params: { rows: [row] },
        },
        {
          cypher: `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[x:DEPENDS_ON]->(t:Service) WHERE x.present = true AND NOT ${listed("deps", "h.name + ' ' + t.key")} SET x.present = false, x.updatedAt = r.at`,
          params: { rows: [row] },
        },
        {
          cypher: `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[:RUNS_SERVICE]->(s:Service) WITH r, s MATCH (s)-[x:DEPENDS_ON]->(t:Service) WHERE x.present = true AND NOT ${listed("deps", "s.key + ' ' + t.key")} SET x.present = false, x.updatedAt = r.at`,
          params: { rows: [row] },
        },
      ],
      derive: offered(addrs.keys()),
    });
  },
};

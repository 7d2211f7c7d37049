/**
 * The graph schema: the one place it is defined (README "Graph schema" has the picture).
 *
 *   (Host)-[:IN_SEGMENT]->(Segment)          ring segment: the subnet the CMA sees the host in
 *   (Host)-[:WATCHES {ring}]->(Host)         who heartbeats whom (ring membership; Host.ringOrder is the order)
 *   (Host)-[:RUNS]->(Domain)                 guests; a domain that disappears keeps present=false
 *   (Domain)-[:HAS_DISK]->(Disk)
 *   (Host|Domain)-[:HAS_NIC]->(NIC)-[:HAS_IP {seenAt}]->(IPAddr)
 *   (Host)-[:HAS_NETWORK]->(Network)         libvirt virtual networks; a NAT or isolated one scopes its addresses
 *   (NIC)-[:LINKED_TO {portId}]->(Switch)    from LLDP
 *   (NIC)-[:BRIDGED_TO]->(NIC)               a guest's NIC to the host bridge it is plugged into
 *   (Host|Domain)-[:RUNS_SERVICE]->(Service)-[:LISTENS_ON]->(IPAddr)   a guest's: from guest-flows
 *   (Host|Domain)-[:OFFERS]->(Service)       derived: the machine holds the address the service
 *                                            listens on; and IPAddr.owned: a NIC holds it
 *                                            (ingest/derived.ts keeps both true)
 *   (Service)-[:SERVED_BY]->(Host|Domain)    derived: OFFERS the other way round, so that a chain of
 *                                            dependencies is one direction: client -DEPENDS_ON->
 *                                            service -SERVED_BY-> machine -DEPENDS_ON-> ... (blastRadius)
 *   (Service|Host|Domain)-[:DEPENDS_ON {clientHost, process, count}]->(Service)   client connections
 *                                            (a guest's from guest-flows: clientHost is its hypervisor)
 *   (Event|Alert)-[:CONCERNS]->(Host|Domain|Segment|IPAddr)
 *   (RecoveryAction)-[:ACTED_ON]->(Domain)   an action on a guest, from the audit log (ingest/recovery-actions.ts)
 *
 * Keys (every write is a MERGE on them, so ingesting twice changes nothing): Host.name (the host
 * identity the CMA admitted), Domain.uuid, NIC.key (a guest NIC's MAC; a host interface is
 * "host/ifname" because bridges and bonds share their ports' MACs), IPAddr.address (the address;
 * "host/network|address" in a host's NAT or isolated network), Service.key ("ip:port", "[v6]:port";
 * "host/network|ip:port" in such a network; listeners on a wildcard or loopback address are
 * "host|ip:port" because every host has them), Network.key ("host/name"), Disk.key ("uuid/target"), Switch.id (chassis id,
 * else name), Segment.name, Event.id, Alert.key ("host|kind|subject"), RecoveryAction.seq (the audit
 * entry's seq).
 *
 * Nothing that disappears is deleted: hosts keep their membership state (dead, left ...),
 * domains, disks, NICs and services get present=false and goneAt; relationships that describe
 * the current shape (RUNS after a migration, WATCHES after a ring change) are replaced. The one
 * exception: a guest keeps only its newest recovery actions (the audit log keeps them all).
 *
 * Properties are scalars only (no lists): Kuzu cannot type an empty or all-null list parameter.
 */

export type PropertyType = "STRING" | "INT64" | "DOUBLE" | "BOOLEAN";

export interface NodeTable {
  key: string;
  properties: Record<string, PropertyType>;
}

export interface RelTable {
  /** every (from, to) pair the relationship may join */
  pairs: readonly (readonly [string, string])[];
  properties: Record<string, PropertyType>;
}

const S = "STRING", I = "INT64", B = "BOOLEAN";

export const nodeTables = {
  Host: {
    key: "name",
    properties: {
      name: S, machineId: S, address: S, port: I, segment: S, state: S, since: I, joinedAt: I, version: S,
      ringOrder: I, representative: B, os: S, kernel: S, bootTime: I, cpuModel: S, cpus: I, memoryKiB: I, lldpAvailable: B, updatedAt: I,
      maintenanceUntil: I, maintenanceReason: S, removedAt: I,
    },
  },
  Segment: { key: "name", properties: { name: S, updatedAt: I } },
  Switch: { key: "id", properties: { id: S, name: S, chassisId: S, mgmtIp: S, updatedAt: I } },
  NIC: {
    key: "key",
    // addressesAt: the last report that stated the NIC's whole address list (a guest's in libvirt-domains, a host's in nics)
    properties: { key: S, owner: S, name: S, mac: S, kind: S, state: S, mtu: I, speedMbps: I, master: S, bridge: S, network: S, addressesAt: I, present: B, goneAt: I, updatedAt: I },
  },
  // a virtual network of a host (libvirt-domains): its key "host/name" is the scope of the addresses in a host-local one
  Network: { key: "key", properties: { key: S, host: S, name: S, forward: S, bridge: S, hostLocal: B, subnets: S, present: B, goneAt: I, updatedAt: I } },
  // address: the key (the address, or "host/network|address" in a host-local network: ingest/address-scope.ts);
  // ip: the address alone; conflict: two machines' latest reports both hold it (ingest/address-claims.ts)
  IPAddr: { key: "address", properties: { address: S, ip: S, scope: S, family: S, owned: B, stale: B, conflict: B, conflictAt: I, firstSeen: I, updatedAt: I } },
  Domain: { key: "uuid", properties: { uuid: S, name: S, state: S, vcpus: I, memoryKiB: I, present: B, goneAt: I, updatedAt: I } },
  Disk: { key: "key", properties: { key: S, target: S, source: S, device: S, type: S, format: S, present: B, goneAt: I, updatedAt: I } },
  Service: { key: "key", properties: { key: S, ip: S, port: I, scope: S, process: S, pid: I, cmdline: S, present: B, goneAt: I, updatedAt: I } },
  Event: { key: "id", properties: { id: S, type: S, at: I, detail: S } },
  Alert: { key: "key", properties: { key: S, host: S, kind: S, subject: S, subjectName: S, active: B, raisedAt: I, clearedAt: I, evidence: S, updatedAt: I } },
  RecoveryAction: {
    key: "seq",
    properties: { seq: I, at: I, time: S, kind: S, action: S, actor: S, via: S, outcome: S, dryRun: B, reason: S, result: S, state: S, host: S, ladder: S, guest: S },
  },
} as const satisfies Record<string, NodeTable>;

export type NodeLabel = keyof typeof nodeTables;

export const relTables = {
  IN_SEGMENT: { pairs: [["Host", "Segment"]], properties: {} },
  WATCHES: { pairs: [["Host", "Host"]], properties: { ring: S } },
  RUNS: { pairs: [["Host", "Domain"]], properties: { since: I } },
  HAS_DISK: { pairs: [["Domain", "Disk"]], properties: {} },
  HAS_NIC: { pairs: [["Host", "NIC"], ["Domain", "NIC"]], properties: {} },
  // seenAt: the last report that listed the address on the NIC (a guest's may omit it and keep it)
  HAS_IP: { pairs: [["NIC", "IPAddr"]], properties: { prefixLength: I, seenAt: I } },
  HAS_NETWORK: { pairs: [["Host", "Network"]], properties: {} },
  LINKED_TO: { pairs: [["NIC", "Switch"]], properties: { portId: S, portDescription: S } },
  BRIDGED_TO: { pairs: [["NIC", "NIC"]], properties: {} },
  RUNS_SERVICE: { pairs: [["Host", "Service"], ["Domain", "Service"]], properties: {} },
  LISTENS_ON: { pairs: [["Service", "IPAddr"]], properties: {} },
  OFFERS: { pairs: [["Host", "Service"], ["Domain", "Service"]], properties: {} },
  SERVED_BY: { pairs: [["Service", "Host"], ["Service", "Domain"]], properties: {} },
  DEPENDS_ON: { pairs: [["Service", "Service"], ["Host", "Service"], ["Domain", "Service"]], properties: { clientHost: S, process: S, count: I, present: B, updatedAt: I } },
  CONCERNS: {
    pairs: [["Event", "Host"], ["Event", "Segment"], ["Event", "IPAddr"], ["Alert", "Host"], ["Alert", "Domain"]],
    properties: {},
  },
  ACTED_ON: { pairs: [["RecoveryAction", "Domain"]], properties: {} },
} as const satisfies Record<string, RelTable>;

export type RelType = keyof typeof relTables;

/** Kuzu DDL: node tables first (relationship tables name them). */
export function kuzuDdl(): string[] {
  const col = (props: Record<string, PropertyType>): string[] => Object.entries(props).map(([p, t]) => `${p} ${t}`);
  const nodes = Object.entries(nodeTables as Record<string, NodeTable>).map(([label, t]) =>
    `CREATE NODE TABLE IF NOT EXISTS ${label}(${[...col(t.properties), `PRIMARY KEY(${t.key})`].join(", ")})`);
  const rels = Object.entries(relTables as Record<string, RelTable>).map(([type, t]) =>
    `CREATE REL TABLE IF NOT EXISTS ${type}(${[...t.pairs.map(([f, to]) => `FROM ${f} TO ${to}`), ...col(t.properties)].join(", ")})`);
  return [...nodes, ...rels];
}

/** Every relationship table's (from, to) pairs: a store written by an older schema may lack some (Kuzu: ALTER TABLE ... ADD IF NOT EXISTS FROM ... TO ...). */
export function relationshipPairs(): [string, readonly (readonly [string, string])[]][] {
  return Object.entries(relTables as Record<string, RelTable>).map(([type, t]) => [type, t.pairs]);
}

/** Every table's properties (node and relationship tables): what a store written by an older schema may lack. */
export function tableProperties(): [string, Record<string, PropertyType>][] {
  return [...Object.entries(nodeTables as Record<string, NodeTable>), ...Object.entries(relTables as Record<string, RelTable>)].map(([name, t]) => [name, t.properties]);
}

/** Neo4j 5: a uniqueness constraint per node key (it is also the index MERGE uses) and indexes the named queries filter on. */
export function neo4jDdl(): string[] {
  const unique = Object.entries(nodeTables as Record<string, NodeTable>).map(([label, t]) =>
    `CREATE CONSTRAINT ${label.toLowerCase()}_${t.key}_unique IF NOT EXISTS FOR (n:${label}) REQUIRE n.${t.key} IS UNIQUE`);
  const indexes = [["Host", "state"], ["Domain", "present"], ["Service", "present"], ["IPAddr", "owned"], ["Alert", "active"], ["Event", "at"]].map(([label, p]) =>
    `CREATE INDEX ${label.toLowerCase()}_${p} IF NOT EXISTS FOR (n:${label}) ON (n.${p})`);
  return [...unique, ...indexes];
}

/**
 * Host states in which a host is down (the CMA confirmed it dead, or its whole segment went silent).
 * Neither "maintenance" (planned: its silence is no failure) nor "removed" (out of service, kept as history) is down.
 */
export const DOWN_STATES = ["dead", "unreachable"] as const;
/** Host states in which a host is in the rings. */
export const UP_STATES = ["alive", "suspect"] as const;

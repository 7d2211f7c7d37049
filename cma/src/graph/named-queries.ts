/**
 * The named root-cause queries: one text each, run unchanged on both stores, so they keep to the
 * Cypher both understand (no list comprehensions, labels(), CAST or toInteger; property checks
 * tell a Host from a Domain where a pattern can bind either). Parameters are strings or
 * integers; an empty string means "all". Every collect() is wrapped in coalesce(..., []): Kuzu
 * returns NULL, Neo4j an empty list, when nothing was collected. States: a host is down when "dead" or "unreachable"
 * and up when "alive" or "suspect" (schema.ts DOWN_STATES / UP_STATES); one in "maintenance" is neither (its
 * silence is planned), and a "removed" one is history: the switch-or-host verdict leaves it out.
 */

export interface NamedQueryParam { type: "string" | "int"; doc: string; default?: string | number; /** bounds of an int */ min?: number; max?: number }
export interface NamedQuery { name: string; description: string; cypher: string; params: Record<string, NamedQueryParam> }

// Spelled out with OR: Kuzu 0.11 evaluates `CASE WHEN x.state IN [...]` wrongly when x comes
// from an OPTIONAL MATCH (always the ELSE branch), while `x.state = 'a' OR x.state = 'b'` is right.
const down = (v: string): string => `(${v}.state = 'dead' OR ${v}.state = 'unreachable')`;
const up = (v: string): string => `(${v}.state = 'alive' OR ${v}.state = 'suspect')`;

// A typed empty value for the other side of a UNION: Kuzu cannot type a bare NULL or [].
const none = (typed: string, empty = "NULL"): string => `CASE WHEN false THEN ${typed} ELSE ${empty} END`;

const downGuest = `(h.state = 'dead' OR h.state = 'unreachable') AND ($host = '' OR h.name = $host) AND d.present = true`;

// The queries follow (Host|Domain)-[:OFFERS]->(Service), derived at ingestion (ingest/offers.ts),
// instead of HAS_NIC → HAS_IP → LISTENS_ON: Kuzu 0.11 joins whole tables per hop, and at 300,000
// guests those three hops alone cost more than the 100 ms an operator waits (BENCHMARKS.md).
// Each part is one filtered pattern (Kuzu pushes filters into a pattern, not across a WITH);
// filters on a relationship's properties come after a WITH, where Kuzu applies them to the few
// rows found instead of starting the pattern from that relationship's whole table.
const deadHostImpact: NamedQuery = {
  name: "deadHostImpact",
  description:
    "What a dead host takes with it: each guest it ran, the services listening on that guest's addresses, and the hosts, services and guests that depend on them (client connections seen by discovery: the hosts' own and, through guest-flows, the guests'). One row per guest and service (service null for a guest with no known service), in no particular order.",
  params: { host: { type: "string", doc: "the dead host's name; empty: every host that is down", default: "" } },
  cypher: `MATCH (h:Host)-[:RUNS]->(d:Domain)-[:OFFERS]->(s:Service)<-[dep:DEPENDS_ON]-(c)
WHERE ${downGuest}
RETURN h.name AS host, h.state AS hostState, d.name AS domain, d.uuid AS uuid, s.key AS service, s.process AS process,
  coalesce(collect(DISTINCT dep.clientHost), []) AS dependentHosts, coalesce(collect(DISTINCT c.key), []) AS dependentServices,
  coalesce(collect(DISTINCT CASE WHEN c.uuid IS NULL THEN NULL ELSE c.name END), []) AS dependentGuests
UNION ALL
MATCH (h:Host)-[:RUNS]->(d:Domain)-[:OFFERS]->(s:Service)
WHERE ${downGuest} AND NOT EXISTS { MATCH (s)<-[:DEPENDS_ON]-() }
RETURN h.name AS host, h.state AS hostState, d.name AS domain, d.uuid AS uuid, s.key AS service, s.process AS process,
  ${none("[d.name]", "[]")} AS dependentHosts, ${none("[d.name]", "[]")} AS dependentServices, ${none("[d.name]", "[]")} AS dependentGuests
UNION ALL
MATCH (h:Host)-[:RUNS]->(d:Domain)
WHERE ${downGuest} AND NOT EXISTS { MATCH (d)-[:OFFERS]->() }
RETURN h.name AS host, h.state AS hostState, d.name AS domain, d.uuid AS uuid, ${none("d.name")} AS service, ${none("d.name")} AS process,
  ${none("[d.name]", "[]")} AS dependentHosts, ${none("[d.name]", "[]")} AS dependentServices, ${none("[d.name]", "[]")} AS dependentGuests`,
};

// One part per grouping (switch, then segment); each host counted once per group.
const groupVerdict = (kind: string, match: string, group: string, label: string): string => `MATCH ${match}
WHERE h.state <> 'removed'
WITH DISTINCT ${group} AS g, h
WITH g, coalesce(collect(CASE WHEN ${down("h")} THEN h.name ELSE NULL END), []) AS downHosts,
  sum(CASE WHEN ${up("h")} THEN 1 ELSE 0 END) AS upHosts, count(h) AS hosts
WHERE size(downHosts) > 0
RETURN '${kind}' AS kind, ${label} AS name, downHosts, upHosts, hosts,
  CASE WHEN upHosts > 0 THEN 'host' WHEN size(downHosts) > 1 THEN 'switch' ELSE 'host-or-switch' END AS suspect`;

const switchVersusHost: NamedQuery = {
  name: "switchVersusHost",
  description:
    "Switch or host? For every LLDP switch and every ring segment with a host down: the hosts down (in no particular order), how many behind it are still up, and the verdict: 'switch' when several are down and none is up, 'host' when others behind it still answer, 'host-or-switch' when it is the only host there.",
  params: {},
  cypher: `${groupVerdict("switch", "(h:Host)-[:HAS_NIC]->(:NIC)-[:LINKED_TO]->(sw:Switch)", "sw", "coalesce(g.name, g.id)")}
UNION ALL
${groupVerdict("segment", "(h:Host)-[:IN_SEGMENT]->(seg:Segment)", "seg", "g.name")}`,
};

const forgottenServers: NamedQuery = {
  name: "forgottenServers",
  description:
    "Forgotten servers: addresses monitored hosts talk to (as clients of a service there, or that sent heartbeats nobody expected) which belong to no monitored host or known guest.",
  params: {},
  // owned: some NIC holds the address (ingest/derived.ts)
  cypher: `MATCH (a:IPAddr)
WHERE a.owned = false
OPTIONAL MATCH (a)<-[:LISTENS_ON]-(s:Service)<-[dep:DEPENDS_ON]-()
OPTIONAL MATCH (e:Event)-[:CONCERNS]->(a)
WITH a, coalesce(collect(DISTINCT s.key), []) AS services, coalesce(collect(DISTINCT dep.clientHost), []) AS seenBy, count(DISTINCT e) AS unexpectedHeartbeats
WHERE size(services) > 0 OR unexpectedHeartbeats > 0
RETURN a.address AS address, services, seenBy, unexpectedHeartbeats
ORDER BY address`,
};

/** How many dependency hops servicesWithDownDependencies and blastRadius follow at most (a literal: neither store takes a parameter as a variable-length bound). */
const DEPENDENCY_DEPTH = 3;
const depthParam: NamedQueryParam = { type: "int", doc: `dependency hops to follow, 1 to ${DEPENDENCY_DEPTH}`, default: DEPENDENCY_DEPTH, min: 1, max: DEPENDENCY_DEPTH };

// servicesWithDownDependencies: one part per reason something is down, each the direct dependencies
// (depth 1: c -dep-> t, t down) and, by OPTIONAL MATCH, the chains on top of them up to
// DEPENDENCY_DEPTH (x -DEPENDS_ON-> s -SERVED_BY-> c -> t, as blastRadius follows them), then one row per
// depth reached (UNWIND of a list of maps) and DISTINCT. Unlike blastRadius the roots here are
// thousands (every direct client of everything down), so on Kuzu 0.11:
//  - the hops are plain relationships: a hash join against the relationship table costs ~10 ms at
//    2,400 hosts, where the one-step variable-length extend costs ~35 us per source row (220 ms for
//    6,500 direct clients);
//  - DISTINCT runs over scalars (the chain's names c1..c6) and the chain list is built after it:
//    DISTINCT over a list or a map took 1.8 s for 10,000 rows, over the scalars 13 ms.
const chainSlots = Array.from({ length: 2 * DEPENDENCY_DEPTH }, (_, i) => `c${i + 1}`);
/** The part for one reason: `match` binds t (a service that is down), dep and c (its direct client); `why` says why t is down. */
function downChainPart(match: string, why: string): string {
  const keep = " WHERE t.key = t.key"; // the primary-key equality that keeps Kuzu's estimates small (see blastRadius)
  const carried = ["t", "why", "c", "dep"];
  const lines = [match, `WITH t, ${why} AS why, c, dep${keep}`];
  const name = (x: string): string => `coalesce(${x}.key, ${x}.name)`;
  const chain = [name("c"), "t.key"]; // dependent first
  const row = (depth: number, x: string, d: string): string => {
    const slots = [...Array<string>(chainSlots.length - chain.length).fill("NULL"), ...chain];
    return `{depth: ${depth}, found: ${name(x)} IS NOT NULL, client: ${name(x)}, clientHost: ${d}.clientHost, process: ${d}.process, ` +
      slots.map((v, i) => `${chainSlots[i]}: ${v}`).join(", ") + "}";
  };
  const rows = [row(1, "c", "dep")];
  for (let level = 2; level <= DEPENDENCY_DEPTH; level++) {
    const [from, s, x, d] = [level === 2 ? "c" : `x${level - 1}`, `s${level}`, `x${level}`, `d${level}`];
    carried.push(s);
    lines.push(`OPTIONAL MATCH (${from})<-[:SERVED_BY]-(${s}:Service) WITH ${carried.join(", ")}${keep}`);
    carried.push(x, d);
    lines.push(`OPTIONAL MATCH (${s})<-[${d}:DEPENDS_ON {present: true}]-(${x}) WITH ${carried.join(", ")}${keep}`);
    chain.unshift(name(x), `${s}.key`);
    rows.push(row(level, x, d));
  }
  const chainOf = (depth: number): string => `[${chainSlots.slice(chainSlots.length - 2 * depth).join(", ")}]`;
  lines.push(`UNWIND [${rows.join(",\n  ")}] AS r`);
  lines.push("WITH t, why, r WHERE r.found AND r.depth <= $depth AND ($host = '' OR r.clientHost = $host)");
  lines.push(`WITH DISTINCT r.clientHost AS clientHost, r.client AS client, r.process AS process, t.key AS dependency, why, r.depth AS depth, ${chainSlots.map((c) => `r.${c} AS ${c}`).join(", ")}`);
  const byDepth = Array.from({ length: DEPENDENCY_DEPTH - 1 }, (_, i) => `WHEN ${i + 1} THEN ${chainOf(i + 1)}`).join(" ");
  lines.push(`RETURN clientHost, client, process, dependency, why, depth, CASE depth ${byDepth} ELSE ${chainOf(DEPENDENCY_DEPTH)} END AS chain`);
  return lines.join("\n");
}

const servicesWithDownDependencies: NamedQuery = {
  name: "servicesWithDownDependencies",
  description:
    "Services, hosts and guests whose dependencies are down, directly or through a chain: depth 1 holds (or held) client connections to a service whose host is down, whose guest is on a host that is down, gone or not running, or whose listener is gone; depth 2 and 3 use a service of a machine at the depth before (connections seen by tcp-services and guest-flows; gone ones not followed). One row per client, dependency that is down, reason and chain (names, client first, ending at the dependency), in no particular order.",
  params: {
    host: { type: "string", doc: "only clients on this host; empty: all", default: "" },
    depth: depthParam,
  },
  // a part per reason, each starting from what is down
  cypher: [
    downChainPart(`MATCH (o:Host)-[:OFFERS]->(t:Service)<-[dep:DEPENDS_ON]-(c) WHERE ${down("o")}`, "'host ' + o.name + ' ' + o.state"),
    downChainPart(`MATCH (h:Host)-[:RUNS]->(o:Domain)-[:OFFERS]->(t:Service)<-[dep:DEPENDS_ON]-(c) WHERE ${down("h")}`, "'guest ' + o.name + ' on host ' + h.name + ' ' + h.state"),
    downChainPart("MATCH (o:Domain)-[:OFFERS]->(t:Service)<-[dep:DEPENDS_ON]-(c) WHERE o.present = false OR o.state <> 'running'",
      "CASE WHEN o.present = false THEN 'guest ' + o.name + ' gone' ELSE 'guest ' + o.name + ' ' + o.state END"),
    downChainPart("MATCH (c)-[dep:DEPENDS_ON]->(t:Service) WHERE t.present = false", "'service gone'"),
  ].join("\nUNION ALL\n"),
};

// blastRadius: a chain of dependencies is client -DEPENDS_ON-> service -SERVED_BY-> machine
// -DEPENDS_ON-> service ... (SERVED_BY is OFFERS reversed, derived at ingestion: ingest/derived.ts),
// so it has the same two hops at every level. One query per kind of node, one UNION part per root
// set (not per depth): the first hop by MATCH, the deeper ones by OPTIONAL MATCH, then one row per
// depth reached (UNWIND of a list of maps, a depth past $depth or not reached dropped), DISTINCT.
// What keeps it in proportion to the rows found rather than the tables, on Kuzu 0.11:
//  - Kuzu extends by adjacency only from the node a plan starts by scanning (the root's key
//    lookup); any later hop is a hash join against a scan of the bound table, and its semi-masks
//    only skip whole 2048-row vectors. A variable-length pattern is different: a recursive extend
//    started from exactly the rows found so far (a node-level semi-mask). Hence every hop is a
//    one-step variable-length pattern, `*1..1`, each in its own clause (in one pattern, or with
//    longer bounds, Kuzu planned them from the far end or materialised the whole path).
//  - the gone-dependency test is `{present: true}` on the hop: Kuzu applies it inside the
//    recursive extend; a WHERE on the relationship (relationships(p)) scans the path's
//    relationship tables. NULL present now counts as gone (backfill it to true).
//  - `WITH ... WHERE root.<key> = root.<key>` after each hop is always true; it is there because
//    Kuzu estimates an equality on a primary key at one row, which keeps its cost model from
//    multiplying a recursive hop's estimate by 100 per hop and then planning the next hop from
//    the far end (a scan of the whole Service or node tables). The same goes for the guest
//    lookup, written as one equality on uuid (an OR is estimated at a tenth of the table).
//  - Kuzu drops a WHERE on a parameter alone; `r.depth <= $depth` names r, so it stays.
//  - `found` tests properties (each node has its key), not `x IS NOT NULL`: Kuzu took 15 ms more
//    to prepare that inside the list of maps.
//  - a dense root set (a switch's guests: 1,500 sources) takes its first hop as a plain
//    relationship: the recursive extend costs ~25 us per source.
const ROOT_KEY: Record<string, string> = { Host: "name", Domain: "uuid", Service: "key" };
/** The part for one root set: `rootMatch` binds `root` (a Host, Domain or Service: `fromService`); rows dependent, dependentKind, root, depth, path. */
function radiusParts(rootMatch: string, rootName: string, fromService = false, denseRoots = false): string[] {
  const label = /\(root:(\w+)/.exec(rootMatch)?.[1] ?? "";
  const key = ROOT_KEY[label];
  if (!key) throw new Error(`radiusParts: no (root:Host|Domain|Service) in ${rootMatch}`);
  const keep = ` WHERE root.${key} = root.${key}`;
  const lines = [`${rootMatch} WITH root${keep}`];
  const carried = ["root"];
  const path: string[] = [];
  const rows: string[] = [];
  for (let level = 1; level <= DEPENDENCY_DEPTH; level++) {
    const match = level === 1 ? "MATCH" : "OPTIONAL MATCH";
    const from = level === 1 ? "root" : `x${level - 1}`;
    const s = fromService && level === 1 ? "root" : `s${level}`;
    if (!(fromService && level === 1)) {
      const hop = level === 1 && denseRoots ? "[:SERVED_BY]" : "[:SERVED_BY*1..1]";
      carried.push(s);
      lines.push(`${match} (${from})<-${hop}-(${s}:Service) WITH ${carried.join(", ")}${keep}`);
    }
    const x = `x${level}`;
    carried.push(x);
    lines.push(`${match} (${s})<-[:DEPENDS_ON*1..1 {present: true}]-(${x}) WITH ${carried.join(", ")}${keep}`);
    path.unshift(`${s}.key`, level === 1 ? rootName : `x${level - 1}.name`);
    const names = fromService ? path.slice(0, -1) : path; // from a service, the path ends at it
    rows.push(`{depth: ${level}, found: coalesce(${x}.uuid, ${x}.key, ${x}.name) IS NOT NULL, dependent: coalesce(${x}.name, ${x}.key), ` +
      `dependentKind: CASE WHEN ${x}.uuid IS NOT NULL THEN 'guest' WHEN ${x}.key IS NOT NULL THEN 'service' ELSE 'host' END, ` +
      `path: [coalesce(${x}.name, ${x}.key), ${names.join(", ")}]}`);
  }
  lines.push(`UNWIND [${rows.join(",\n  ")}] AS r`);
  lines.push(`WITH ${rootName} AS root, r WHERE r.found AND r.depth <= $depth`);
  lines.push("RETURN DISTINCT r.dependent AS dependent, r.dependentKind AS dependentKind, root, r.depth AS depth, r.path AS path");
  return [lines.join("\n")];
}

const switchHosts = "MATCH (sw:Switch)<-[:LINKED_TO]-(:NIC)<-[:HAS_NIC]-(h:Host) WHERE sw.id = $name OR sw.name = $name WITH DISTINCT h";
const radiusDoc = "One row per dependent and path: the dependent (a guest, host or client service), its kind, its depth (1: it uses the node's own service), the root it reaches and the path (names, dependent first). Dependencies marked gone are not followed; a host's services that depend through one of its listeners (tcp-services' per-process dependencies) end a chain there.";
/** One of the blastRadius queries: a query per kind of node, so each runs only its own parts. */
const radius = (kind: string, what: string, name: NamedQueryParam, parts: string[]): NamedQuery => ({
  name: `blastRadius${kind}`,
  description: `What depends on ${what}, following dependencies (client connections seen by tcp-services and guest-flows) through the machines that serve them, up to depth hops. ${radiusDoc}`,
  params: { name, depth: depthParam },
  cypher: parts.join("\nUNION ALL\n"),
});
const blastRadiusHost = radius("Host", "a host (its running guests and itself: what its death takes with it)", { type: "string", doc: "the host's name" }, [
  ...radiusParts("MATCH (h:Host {name: $name})-[:RUNS]->(root:Domain) WHERE root.present = true", "root.name"),
  ...radiusParts("MATCH (root:Host {name: $name})", "root.name"),
]);
const blastRadiusGuest = radius("Guest", "a guest", { type: "string", doc: "the guest's uuid (any case) or name" }, [
  // uuid = toLower($name) OR name = $name, as one equality (see above)
  ...radiusParts("MATCH (root:Domain) WHERE root.uuid = CASE WHEN root.name = $name THEN root.uuid ELSE toLower($name) END", "root.name"),
]);
const blastRadiusService = radius("Service", "a service", { type: "string", doc: "the service's key (ip:port, [v6]:port)" }, [
  ...radiusParts("MATCH (root:Service {key: $name})", "root.key", true),
]);
const blastRadiusSwitch = radius("Switch", "a switch (the hosts behind it, by LLDP, and their running guests)", { type: "string", doc: "the switch's chassis id or name" }, [
  // RUNS one step variable-length from the hosts found, root.present after the WITH: as a plain hop
  // with the filter inside the MATCH, Kuzu joined every Domain and RUNS
  ...radiusParts(`${switchHosts} WHERE h.name = h.name MATCH (h)-[:RUNS*1..1]->(root:Domain) WITH root WHERE root.present = true`, "root.name", false, true),
  ...radiusParts(switchHosts.replace(/\bh\b/g, "root"), "root.name", false, true),
]);

const ringHealth: NamedQuery = {
  name: "ringHealth",
  description:
    "Ring health: hosts in the rings that fewer than two live neighbours watch, and holes (a live host still assigned to watch a host that is down or gone).",
  params: { segment: { type: "string", doc: "only this segment; empty: all", default: "" } },
  cypher: `MATCH (h:Host)
WHERE ${up("h")} AND ($segment = '' OR h.segment = $segment)
OPTIONAL MATCH (w:Host)-[:WATCHES]->(h)
WITH h, sum(CASE WHEN ${up("w")} THEN 1 ELSE 0 END) AS watchers
OPTIONAL MATCH (h)-[:WATCHES]->(n:Host)
WITH h, watchers, coalesce(collect(CASE WHEN ${up("n")} THEN NULL ELSE n.name END), []) AS watchingDown
WHERE watchers < 2 OR size(watchingDown) > 0
RETURN h.name AS host, h.segment AS segment, h.ringOrder AS ringOrder, watchers, watchingDown,
  CASE WHEN size(watchingDown) > 0 THEN 'hole' ELSE 'under-watched' END AS problem
ORDER BY segment, ringOrder, host`,
};

// IPAddr.conflict is kept by the ingestion (ingest/address-claims.ts): two machines' latest reports both hold the address.
const addressConflicts: NamedQuery = {
  name: "addressConflicts",
  description:
    "Addresses two machines hold at once (each one's latest report lists it and each is live), one row per holder: the address key (\"host/network|ip\" for one private to a host's NAT or isolated network), since when, the holder (guest or host) and its NIC. The root-cause queries cannot tell which holder a client reached: both are linked.",
  params: {},
  cypher: `MATCH (a:IPAddr) WHERE a.conflict = true
WITH a MATCH (a)<-[x:HAS_IP]-(n:NIC)
WITH a, x, n MATCH (o)-[:HAS_NIC]->(n)
RETURN a.address AS address, a.ip AS ip, a.conflictAt AS since, coalesce(o.name, o.uuid) AS holder,
  CASE WHEN o.uuid IS NULL THEN 'host' ELSE 'guest' END AS holderKind, n.key AS nic, x.seenAt AS seenAt
ORDER BY address, holder`,
};

const guestActions: NamedQuery = {
  name: "guestActions",
  description:
    "Recovery actions on a guest, newest first: what a person, a token, a Zabbix script or the escalation ladder did or tried (reboot, reset, a ladder's notices and steps, refusals by its guards, dry runs), with who, how, the outcome, why and what came of it. The graph keeps a guest's 50 newest; the audit log has them all.",
  params: { uuid: { type: "string", doc: "the guest's uuid (any case)" } },
  // uuids are stored lower-case (ingest/recovery-actions.ts); toLower is spelled the same on both stores
  cypher: `WITH toLower($uuid) AS u
MATCH (d:Domain {uuid: u})<-[:ACTED_ON]-(a:RecoveryAction)
RETURN a.seq AS seq, a.time AS time, a.kind AS kind, a.action AS action, a.actor AS actor, a.via AS via, a.outcome AS outcome,
  a.dryRun AS dryRun, a.reason AS reason, a.result AS result, a.state AS state, a.host AS host, a.ladder AS ladder
ORDER BY seq DESC`,
};

export const namedQueries: Readonly<Record<string, NamedQuery>> = Object.freeze(
  Object.fromEntries([deadHostImpact, blastRadiusHost, blastRadiusGuest, blastRadiusService, blastRadiusSwitch, switchVersusHost, forgottenServers, servicesWithDownDependencies, ringHealth, addressConflicts, guestActions].map((q) => [q.name, q])),
);

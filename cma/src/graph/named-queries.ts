/**
 * The named root-cause queries: one text each, run unchanged on both stores, so they keep to the
 * Cypher both understand (no list comprehensions, labels(), CAST or toInteger; property checks
 * tell a Host from a Domain where a pattern can bind either). Parameters are strings or
 * integers; an empty string means "all". Every collect() is wrapped in coalesce(..., []): Kuzu
 * returns NULL, Neo4j an empty list, when nothing was collected. States: a host is down when "dead" or "unreachable"
 * and up when "alive" or "suspect" (schema.ts DOWN_STATES / UP_STATES); one in "maintenance" is neither (its
 * silence is planned), and a "removed" one is history: the switch-or-host verdict leaves it out.
 */

export interface NamedQueryParam { type: "string" | "int"; doc: string; default?: string | number }
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

const dependencyRow = (keep: string, why: string): string => `WITH ${keep ? `${keep}, ` : ""}dep, c, t WHERE ($host = '' OR dep.clientHost = $host)
RETURN dep.clientHost AS clientHost, coalesce(c.key, c.name) AS client, dep.process AS process, t.key AS dependency, ${why} AS why`;

const servicesWithDownDependencies: NamedQuery = {
  name: "servicesWithDownDependencies",
  description:
    "Services (and hosts) whose dependencies are down: they hold (or held) client connections to a service whose host is down, whose guest is on a host that is down, gone or not running, or whose listener is gone. One row per dependency and reason, in no particular order.",
  params: { host: { type: "string", doc: "only clients on this host; empty: all", default: "" } },
  // a part per reason, each starting from what is down
  cypher: `MATCH (o:Host)-[:OFFERS]->(t:Service)<-[dep:DEPENDS_ON]-(c)
WHERE ${down("o")}
${dependencyRow("o", "'host ' + o.name + ' ' + o.state")}
UNION ALL
MATCH (h:Host)-[:RUNS]->(o:Domain)-[:OFFERS]->(t:Service)<-[dep:DEPENDS_ON]-(c)
WHERE ${down("h")}
${dependencyRow("h, o", "'guest ' + o.name + ' on host ' + h.name + ' ' + h.state")}
UNION ALL
MATCH (o:Domain)-[:OFFERS]->(t:Service)<-[dep:DEPENDS_ON]-(c)
WHERE o.present = false OR o.state <> 'running'
${dependencyRow("o", "CASE WHEN o.present = false THEN 'guest ' + o.name + ' gone' ELSE 'guest ' + o.name + ' ' + o.state END")}
UNION ALL
MATCH (c)-[dep:DEPENDS_ON]->(t:Service)
WHERE t.present = false
${dependencyRow("", "'service gone'")}`,
};

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
  Object.fromEntries([deadHostImpact, switchVersusHost, forgottenServers, servicesWithDownDependencies, ringHealth, guestActions].map((q) => [q.name, q])),
);

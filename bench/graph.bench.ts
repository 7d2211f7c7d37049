/**
 * The topology graph at scale, through the CMA's real ingestion path (Membership, DiscoveryStore,
 * GraphIngestor, the Kuzu store and its worker process):
 *
 *  1. ingest --hosts hosts (default 1,000) × --domains guests (30) with services: time, and memory
 *     of this process (RSS, heap) and of the Kuzu worker (peak RSS);
 *  2. grow to --big-hosts (10,000 hosts, 300,000 guests) and time each named root-cause query
 *     (--runs runs after 3 warm-ups): p50 / p99 per query; target < 100 ms on Kuzu — while
 *     ingestion runs (--ingest-ms: every 200 ms one live host's state and its four documents go
 *     through the ingestor and are flushed; 0: on an idle graph).
 *  3. fresh reads under ingestion (--fresh cycles): a write every 200 ms and deadHostImpact on the
 *     host written right after it, through the store (a READ ONLY transaction on the live database),
 *     then the same cycles the way the store read before (a read-only Database opened after each
 *     write, in the writer's process), on the same graph in the same run.
 *
 * Each host: a nics document (its address, and virbr0's 192.168.122.1 in libvirt's default NAT
 * network), libvirt-domains (its guests, 1–2 disks, one NIC with an address; that NAT network and
 * the bridged one), lldp (eth0 on its segment's top-of-rack switch), tcp-services (sshd and an app listening; the app a client of databases on three
 * other hosts' guests, and one outside address), guest-flows (5 api guests using a database guest
 * of another host, 5 web guests using an api of a third: chains of three), and its place in the
 * rings (segments of 50).
 * After loading, 20 scattered hosts are dead and one whole segment unreachable.
 *
 *   node bench/dist/graph.bench.js [--hosts 1000] [--domains 30] [--big-hosts 10000] [--runs 50] [--pool-mb 1024] [--slow-ms 500] [--fresh 30] [--ingest-ms 200]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import kuzu from "kuzu";
import type { KuzuValue } from "kuzu";
import { createLogger, seededRandom, silentLogger } from "@ringwatch/shared";
import { DiscoveryStore, GraphIngestor, KuzuStore, Membership, namedQueries } from "@ringwatch/cma";
import type { HostRecord, HostState } from "@ringwatch/cma";

// The peer of servicesWithDownDependencies: the direct-only query it replaced (2026-12-07), measured
// in the same run so the cost of following chains shows beside it.
const DIRECT_ONLY = "servicesWithDownDependencies before: direct only";
const directRow = (keep: string, why: string): string => `WITH ${keep ? `${keep}, ` : ""}dep, c, t WHERE ($host = '' OR dep.clientHost = $host)
RETURN dep.clientHost AS clientHost, coalesce(c.key, c.name) AS client, dep.process AS process, t.key AS dependency, ${why} AS why`;
const downState = (v: string): string => `(${v}.state = 'dead' OR ${v}.state = 'unreachable')`;
const directOnlyCypher = [
  `MATCH (o:Host)-[:OFFERS]->(t:Service)<-[dep:DEPENDS_ON]-(c)\nWHERE ${downState("o")}\n${directRow("o", "'host ' + o.name + ' ' + o.state")}`,
  `MATCH (h:Host)-[:RUNS]->(o:Domain)-[:OFFERS]->(t:Service)<-[dep:DEPENDS_ON]-(c)\nWHERE ${downState("h")}\n${directRow("h, o", "'guest ' + o.name + ' on host ' + h.name + ' ' + h.state")}`,
  `MATCH (o:Domain)-[:OFFERS]->(t:Service)<-[dep:DEPENDS_ON]-(c)\nWHERE o.present = false OR o.state <> 'running'\n${directRow("o", "CASE WHEN o.present = false THEN 'guest ' + o.name + ' gone' ELSE 'guest ' + o.name + ' ' + o.state END")}`,
  `MATCH (c)-[dep:DEPENDS_ON]->(t:Service)\nWHERE t.present = false\n${directRow("", "'service gone'")}`,
].join("\nUNION ALL\n");

const { values: args } = parseArgs({
  options: {
    hosts: { type: "string", default: "1000" }, domains: { type: "string", default: "30" }, "big-hosts": { type: "string", default: "10000" },
    runs: { type: "string", default: "50" }, "pool-mb": { type: "string", default: "1024" }, "slow-ms": { type: "string", default: "0" },
    keep: { type: "string" }, fresh: { type: "string", default: "30" }, "ingest-ms": { type: "string", default: "200" },
  },
});
const HOSTS = Number(args.hosts), DOMAINS = Number(args.domains), BIG = Number(args["big-hosts"]), RUNS = Number(args.runs), POOL = Number(args["pool-mb"]);
const PER_SEGMENT = 50;
const rand = seededRandom(20261121);
const hex = (n: number, w: number): string => n.toString(16).padStart(w, "0");

const hostName = (i: number): string => `hv${String(i).padStart(5, "0")}`;
const hostIp = (i: number): string => `10.${(i >> 8) & 255}.${i & 255}.1`;
const segmentOf = (i: number): string => `seg${Math.floor(i / PER_SEGMENT)}`;
const guestUuid = (h: number, d: number): string => `${hex(h, 8)}-0000-4000-8000-${hex(d, 12)}`;
const guestIp = (h: number, d: number): string => `100.${64 + (h >> 8)}.${h & 255}.${d + 10}`; // unique up to 16,384 hosts

function documents(h: number): { discovertype: string; data: object }[] {
  const name = hostName(h);
  const domains = Array.from({ length: DOMAINS }, (_, d) => ({
    uuid: guestUuid(h, d), name: `${name}-vm${d}`, state: d % 10 === 3 ? "shutoff" : "running", active: true, persistent: true, vcpus: 1 + (d % 4), maxVcpus: 4,
    memoryKiB: 1_048_576, maxMemKiB: 1_048_576,
    disks: Array.from({ length: 1 + (d % 2) }, (_, k) => ({ target: `vd${String.fromCharCode(97 + k)}`, device: "disk", type: "file", source: `/var/lib/libvirt/images/${name}-vm${d}-${k}.qcow2`, format: "qcow2" })),
    nics: [{ target: `tap${d}`, mac: `52:54:${hex((h >> 8) & 255, 2)}:${hex(h & 255, 2)}:00:${hex(d, 2)}`, type: "bridge", bridge: "br0", addresses: [guestIp(h, d)] }],
  }));
  const clients = [1, 2, 3].map((k) => {
    const other = (h + k * 37) % HOSTS_NOW;
    return { process: "app", pid: 4000, remoteIp: guestIp(other, (h + k) % DOMAINS), remotePort: 5432, count: 4 };
  });
  clients.push({ process: "app", pid: 4000, remoteIp: `203.0.113.${h % 200}`, remotePort: 443, count: 1 });
  // the guests' own services and dependencies (guest-flows): guests 0–4 are apis (port 8080) that
  // use a database guest (10–14, port 5432) of another host; guests 20–24 are webs that use an api
  // of a third host: chains web → api → db across three hypervisors, for blastRadius at depth 3
  const mac = (d: number): string => `52:54:${hex((h >> 8) & 255, 2)}:${hex(h & 255, 2)}:00:${hex(d, 2)}`;
  const flows = Array.from({ length: DOMAINS }, (_, d) => {
    const listeners = (d < 5 ? [8080] : d >= 10 && d < 15 ? [5432] : []).map((port) => ({ ip: guestIp(h, d), port, mac: mac(d), firstSeen: "2026-12-07T00:00:00.000Z", source: "capture" }));
    const target = d < 5 ? { remoteIp: guestIp((h + 101) % HOSTS_NOW, d + 10), remotePort: 5432 } : d >= 20 && d < 25 ? { remoteIp: guestIp((h + 211) % HOSTS_NOW, d - 20), remotePort: 8080 } : undefined;
    return { uuid: guestUuid(h, d), name: `${name}-vm${d}`, listeners, clients: target ? [{ ...target, answered: true, firstSeen: "2026-12-07T00:00:00.000Z", source: "capture" }] : [] };
  });
  return [
    { discovertype: "guest-flows", data: { uri: "qemu:///system", guests: flows } },
    { discovertype: "nics", data: { interfaces: [
      { name: "eth0", ifindex: 2, mac: `02:00:${hex((h >> 8) & 255, 2)}:${hex(h & 255, 2)}:00:01`, mtu: 1500, state: "up", kind: "physical", master: "br0", speedMbps: 10000, addresses: [] },
      { name: "br0", ifindex: 3, mac: `02:00:${hex((h >> 8) & 255, 2)}:${hex(h & 255, 2)}:00:01`, mtu: 1500, state: "up", kind: "bridge", master: null, speedMbps: null, addresses: [{ family: "IPv4", address: hostIp(h), prefixLength: 16 }] },
      // libvirt's default NAT network, the same on every host: its address is keyed per host
      { name: "virbr0", ifindex: 4, mac: `52:54:00:${hex((h >> 8) & 255, 2)}:${hex(h & 255, 2)}:ff`, mtu: 1500, state: "up", kind: "bridge", master: null, speedMbps: null, addresses: [{ family: "IPv4", address: "192.168.122.1", prefixLength: 24 }] },
    ] } },
    { discovertype: "libvirt-domains", data: { uri: "qemu:///system", domains, networks: [
      { name: "default", bridge: "virbr0", forward: "nat", hostLocal: true, addresses: [{ address: "192.168.122.1", prefixLength: 24 }] },
      { name: "lan", bridge: "br0", forward: "bridge", hostLocal: false, addresses: [] },
    ] } },
    { discovertype: "lldp", data: { available: true, neighbours: [{ interface: "eth0", chassisName: `tor-${segmentOf(h)}`, chassisId: `02:ff:00:00:${hex(Math.floor(h / PER_SEGMENT) >> 8, 2)}:${hex(Math.floor(h / PER_SEGMENT) & 255, 2)}`, portId: `Ethernet${h % PER_SEGMENT}`, portDescription: null, mgmtIp: null }] } },
    { discovertype: "tcp-services", data: {
      listeners: [{ ip: "0.0.0.0", port: 22, pid: 700, process: "sshd", cmdline: ["/usr/sbin/sshd", "-D"] }, { ip: "0.0.0.0", port: 8080, pid: 4000, process: "app", cmdline: ["/opt/app/bin/app"] }],
      clients, summary: { serverConnections: 0, clientConnections: clients.length, unownedSockets: 0 },
    } },
  ];
}
let HOSTS_NOW = HOSTS;

function hostRecord(i: number, state: HostState, total: number): HostRecord {
  const seg = Math.floor(i / PER_SEGMENT), first = seg * PER_SEGMENT, size = Math.min(PER_SEGMENT, total - first);
  const prev = first + ((i - first - 1 + size) % size), next = first + ((i - first + 1) % size);
  return {
    name: hostName(i), machineId: hex(i, 32), address: hostIp(i), port: 1984, segment: segmentOf(i), state, since: 1_763_700_000_000, joinedAt: 1_763_700_000_000,
    version: "0.1.0", assignedKey: [prev, next].map((n) => `${hostName(n)}@${hostIp(n)}:1984`).join(","), unconfirmed: false,
  };
}

function workerPeakRss(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}
const mib = (b: number): string => (b / 1048576).toFixed(0);

async function load(ing: GraphIngestor, membership: Membership, discovery: DiscoveryStore, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) membership.upsert(hostRecord(i, "alive", to));
  for (let i = 0; i < from; i++) membership.upsert(hostRecord(i, "alive", to)); // ring neighbours across the old/new boundary
  membership.replan();
  for (let i = from; i < to; i++) {
    for (const d of documents(i)) {
      discovery.apply(hostName(i), { script: d.discovertype, documentJson: JSON.stringify({ discovertype: d.discovertype, description: "", host: hostName(i), source: d.discovertype, data: d.data }), atMs: 1_763_700_000_000 });
    }
    if ((i + 1) % 250 === 0) await ing.flush();
  }
  await ing.flush();
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

// --keep DIR: build the graph in DIR and leave it there (to try query variants against it)
const dir = args.keep ?? mkdtempSync(join(tmpdir(), "ringwatch-graph-bench-"));
// --slow-ms N: log write statements slower than N ms to stderr (where the ingest time goes)
const SLOW = Number(args["slow-ms"]);
const store = new KuzuStore({ path: join(dir, "graph"), bufferPoolMb: POOL, log: SLOW ? createLogger({ name: "bench", level: "warn", fd: 2 }) : silentLogger(), slowStatementMs: SLOW || undefined });
try {
  await store.init();
  const membership = new Membership(1);
  const discovery = new DiscoveryStore(silentLogger());
  const ing = new GraphIngestor(store, { membership, discovery }, { flushMs: 3_600_000, maxItems: 1_000_000, maxRows: 5000, retryMaxMs: 1000 }, silentLogger());
  ing.start();

  // ---- 1. ingest
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let t0 = performance.now();
  await load(ing, membership, discovery, 0, HOSTS);
  const ingestMs = performance.now() - t0;
  const mem = process.memoryUsage();
  const [counts] = (await store.read("MATCH (d:Domain) WITH count(d) AS domains MATCH (s:Service) RETURN domains, count(s) AS services")).rows;
  console.log(`graph bench (Kuzu ${store.kind}, buffer pool ${POOL} MiB, ${new Date().toISOString()})`);
  console.log(`ingest ${HOSTS} hosts × ${DOMAINS} domains (${String(counts.domains)} domains, ${String(counts.services)} services): ${(ingestMs / 1000).toFixed(1)} s, ${(ingestMs / HOSTS).toFixed(1)} ms/host`);
  console.log(`  this process: RSS ${mib(mem.rss)} MiB, heap ${mib(mem.heapUsed)} MiB (+${mib(mem.heapUsed - heap0)}); Kuzu worker peak RSS ${workerPeakRss(store.workerPid).toFixed(0)} MiB; writes ${ing.counters.flushes}, failures ${ing.counters.writeFailures}`);

  // ---- 2. queries at scale
  if (BIG > HOSTS) {
    HOSTS_NOW = BIG;
    t0 = performance.now();
    await load(ing, membership, discovery, HOSTS, BIG);
    const growMs = performance.now() - t0;
    console.log(`grow to ${BIG} hosts × ${DOMAINS}: ${(growMs / 1000).toFixed(1)} s more; Kuzu worker peak RSS ${workerPeakRss(store.workerPid).toFixed(0)} MiB`);
  }
  const total = Math.max(BIG, HOSTS);
  const dead = Array.from({ length: 20 }, (_, k) => (k * 397 + 11) % total).filter((i) => Math.floor(i / PER_SEGMENT) !== 3);
  for (const i of dead) membership.setState(membership.get(hostName(i))!, "dead");
  for (let i = 3 * PER_SEGMENT; i < 4 * PER_SEGMENT; i++) membership.setState(membership.get(hostName(i))!, "unreachable");
  await ing.flush();
  const [size] = (await store.read("MATCH (h:Host) WITH count(h) AS hosts MATCH (d:Domain) WITH hosts, count(d) AS domains MATCH (a:IPAddr) RETURN hosts, domains, count(a) AS addresses")).rows;
  console.log(`queries on ${String(size.hosts)} hosts, ${String(size.domains)} domains, ${String(size.addresses)} addresses (${dead.length} hosts dead, one segment of ${PER_SEGMENT} unreachable); ${RUNS} runs each after 3 warm-ups`);
  // the derived OFFERS (cma/src/graph/ingest/derived.ts) against the long way round, at full scale
  const pairs = async (cypher: string): Promise<Set<string>> =>
    new Set((await store.read(cypher, {}, { timeoutMs: 600_000, maxRows: 10_000_000 })).rows.map((r) => `${String(r.o)} ${String(r.s)}`));
  const derived = await pairs("MATCH (o)-[:OFFERS]->(s:Service) RETURN coalesce(o.uuid, o.name) AS o, s.key AS s");
  const longWay = new Set([
    ...await pairs("MATCH (o:Host)-[:HAS_NIC]->(:NIC)-[:HAS_IP]->(:IPAddr)<-[:LISTENS_ON]-(s:Service) RETURN DISTINCT o.name AS o, s.key AS s"),
    ...await pairs("MATCH (o:Domain)-[:HAS_NIC]->(:NIC)-[:HAS_IP]->(:IPAddr)<-[:LISTENS_ON]-(s:Service) RETURN DISTINCT o.uuid AS o, s.key AS s"),
  ]);
  const wrong = [...derived].filter((p) => !longWay.has(p)).length, missing = [...longWay].filter((p) => !derived.has(p)).length;
  console.log(`derived OFFERS: ${derived.size}; the long way: ${longWay.size}; wrong ${wrong}, missing ${missing}`);
  const cases: [string, Record<string, unknown>][] = [
    ["deadHostImpact", { host: hostName(dead[0]) }],
    ["deadHostImpact", { host: "" }],
    ["switchVersusHost", {}],
    ["forgottenServers", {}],
    ["servicesWithDownDependencies", { host: "", depth: 3 }],
    ["servicesWithDownDependencies", { host: "", depth: 1 }],
    [DIRECT_ONLY, { host: "" }],
    ["ringHealth", { segment: "" }],
    ["blastRadiusHost", { name: hostName(dead[0]), depth: 3 }],
    ["blastRadiusGuest", { name: `${hostName(dead[0])}-vm10`, depth: 3 }],
    ["blastRadiusGuest", { name: guestUuid(dead[0], 10), depth: 3 }],
    ["blastRadiusService", { name: `${guestIp(dead[0], 10)}:5432`, depth: 3 }],
    ["blastRadiusSwitch", { name: `tor-${segmentOf(dead[0])}`, depth: 3 }],
  ];
  const INGEST_MS = Number(args["ingest-ms"]);
  let ingesting = INGEST_MS > 0;
  let ingestFlushes = 0;
  const ingestion = (async () => {
    for (let k = 0; ingesting; k++) {
      await new Promise((r) => setTimeout(r, INGEST_MS));
      const i = (k * 7919 + 5) % total;
      if (dead.includes(i) || Math.floor(i / PER_SEGMENT) === 3) continue; // the down set the queries read stays as it is
      membership.setState(membership.get(hostName(i))!, k % 2 ? "suspect" : "alive");
      for (const d of documents(i)) {
        discovery.apply(hostName(i), { script: d.discovertype, documentJson: JSON.stringify({ discovertype: d.discovertype, description: "", host: hostName(i), source: d.discovertype, data: d.data }), atMs: 1_763_700_000_000 + k });
      }
      await ing.flush();
      ingestFlushes++;
    }
  })();
  for (const [name, params] of cases) {
    const q = name === DIRECT_ONLY ? { cypher: directOnlyCypher } : namedQueries[name];
    const times: number[] = [];
    let rows = 0;
    for (let r = 0; r < RUNS + 3; r++) {
      const t = performance.now();
      const res = await store.read(q.cypher, params, { timeoutMs: 60_000, maxRows: 1_000_000 });
      if (r >= 3) times.push(performance.now() - t);
      rows = res.rows.length;
    }
    const p50 = pct(times, 50), p99 = pct(times, 99);
    console.log(`  ${`${name}(${JSON.stringify(params)})`.padEnd(52)} p50 ${p50.toFixed(1).padStart(7)} ms  p99 ${p99.toFixed(1).padStart(7)} ms  ${String(rows).padStart(6)} rows  ${p99 < 100 ? "< 100 ms" : "MISSES 100 ms"}`);
  }
  ingesting = false;
  await ingestion;
  const es = await store.engineStats();
  console.log(`${INGEST_MS > 0 ? `  (while ingestion ran: ${ingestFlushes} flushes, each one live host's state and its 4 documents, every ${INGEST_MS} ms)` : "  (on an idle graph)"}; so far ${es.writes} writes, ${es.checkpoints} checkpoints (longest: waited ${es.checkpointWaitMsMax} ms, ran ${es.checkpointMsMax} ms)`);
  await ing.stop();

  // ---- 3. fresh reads under ingestion (--fresh 0: skipped)
  const FRESH = Number(args.fresh);
  if (FRESH > 0) await freshReads(FRESH, dead);
} finally {
  await store.close();
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}

async function freshReads(FRESH: number, dead: number[]): Promise<void> {
  const impact = namedQueries.deadHostImpact.cypher;
  const flip = (i: number): { cypher: string; params: Record<string, KuzuValue> } => ({
    cypher: "MATCH (h:Host {name: $name}) SET h.state = $state", params: { name: hostName(dead[i % dead.length]), state: "dead" }, // a write each time, to a host whose impact then has rows
  });
  const cycles = async (write: (st: ReturnType<typeof flip>) => Promise<void>, read: (host: string) => Promise<number>): Promise<{ p50: number; p99: number; rows: number }> => {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < FRESH + 3; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const st = flip(i);
      await write(st);
      const t = performance.now();
      rows = await read(String(st.params.name));
      if (i >= 3) times.push(performance.now() - t);
    }
    return { p50: pct(times, 50), p99: pct(times, 99), rows };
  };
  const live = await cycles(
    (st) => store.write([st]),
    async (host) => (await store.read(impact, { host }, { timeoutMs: 60_000, maxRows: 1_000_000 })).rows.length,
  );
  const stats = await store.engineStats();
  await store.close();
  const graphPath = join(dir, "graph");
  const db = new kuzu.Database(graphPath, POOL * 1024 * 1024);
  await db.init();
  const writer = new kuzu.Connection(db);
  await writer.init();
  const reopened = await cycles(
    async (st) => (await writer.execute(await writer.prepare(st.cypher), st.params) as kuzu.QueryResult).close(),
    async (host) => {
      const ro = new kuzu.Database(graphPath, POOL * 1024 * 1024, true, true);
      await ro.init();
      const c = new kuzu.Connection(ro);
      await c.init();
      const r = (await c.execute(await c.prepare(impact), { host })) as kuzu.QueryResult;
      const n = (await r.getAll()).length;
      r.close();
      await c.close();
      await ro.close();
      return n;
    },
  );
  await writer.close();
  await db.close();
  console.log(`fresh reads under ingestion: a write every 200 ms, deadHostImpact({host}) right after it, ${FRESH} cycles after 3 warm-ups`);
  console.log(`  READ ONLY transaction on the live database (the store): p50 ${live.p50.toFixed(1)} ms  p99 ${live.p99.toFixed(1)} ms  ${live.rows} rows; databases opened ${stats.databaseOpens}, checkpoints ${stats.checkpoints}`);
  console.log(`  read-only Database opened after each write (before):    p50 ${reopened.p50.toFixed(1)} ms  p99 ${reopened.p99.toFixed(1)} ms  ${reopened.rows} rows`);
}

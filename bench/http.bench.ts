/**
 * HTTP API overhead: request latency (p50/p99, one request at a time) and throughput (requests/s
 * with several keep-alive connections) for GET /api/hosts over 1,000 hosts from a real Membership,
 * and for a named query (deadHostImpact) against a real Kuzu store holding the same 1,000 hosts and
 * their guests, each side by side with the same answer from a direct in-process call (the peer)
 * and through fastify's inject (routing, validation and serialization without a socket).
 * The HTTP server runs in a child process (this file with --serve) so client and server do not
 * share one event loop; it opens the Kuzu store after the parent has closed it. Every request carries
 * a viewer API token (made offline in an access directory both processes open), so the figures
 * include access control (a token check and a stat of the access file per request).
 *
 *   node bench/dist/http.bench.js [--requests 2000] [--seconds 10] [--concurrency 8] [--domains 10]
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { Agent, request } from "node:http";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { AccessStore, AlertStore, DiscoveryStore, InventoryStore, Membership, MonitoringErrors, StatsStore, buildApi, hostView } from "@ringwatch/cma";
import type { ApiSources, HostRecord } from "@ringwatch/cma";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import { KuzuStore } from "@ringwatch/cma/dist/src/graph/kuzu-store.js";
import { namedQueries } from "@ringwatch/cma/dist/src/graph/named-queries.js";
import { chunk, mergeNodes, mergeRels } from "@ringwatch/cma/dist/src/graph/write-batch.js";

const { values } = parseArgs({
  options: {
    serve: { type: "boolean" }, graph: { type: "string" }, access: { type: "string" }, domains: { type: "string", default: "10" }, requests: { type: "string", default: "2000" }, seconds: { type: "string", default: "10" }, concurrency: { type: "string", default: "8" },
  },
});
const HOSTS = 1000;

function filledMembership(): Membership {
  const m = new Membership(1);
  for (let i = 0; i < HOSTS; i++) {
    const seg = Math.floor(i / 50);
    const h: HostRecord = {
      name: `hv${String(i).padStart(4, "0")}`, machineId: `m${i}`, address: `10.0.${seg}.${(i % 50) + 1}`, port: 1984, segment: `10.0.${seg}.0/24`,
      state: i % 97 === 0 ? "dead" : "alive", since: 1_700_000_000_000 + i, joinedAt: 1_700_000_000_000, version: "0.1.0", assignedKey: "", unconfirmed: false,
    };
    m.upsert(h);
  }
  m.replan();
  return m;
}

function sources(m: Membership, store: KuzuStore, accessDir: string): ApiSources {
  const log = silentLogger();
  return {
    status: () => ({ hosts: m.countByState() }), membership: m, inventory: new InventoryStore(log), alerts: new AlertStore(log), discovery: new DiscoveryStore(log),
    stats: new StatsStore(log), monitoringErrors: new MonitoringErrors(log), graph: { store, queries: namedQueries }, access: AccessStore.open(accessDir),
  };
}

const openStore = async (path: string): Promise<KuzuStore> => {
  const store = new KuzuStore({ path, bufferPoolMb: 256, log: silentLogger() });
  await store.init();
  return store;
};

const uuid = (i: number): string => `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;

/** The membership's hosts in the graph, each running `perHost` domains, written through the store's write(). */
async function fillGraph(store: KuzuStore, m: Membership, perHost: number): Promise<void> {
  const hosts = m.hosts();
  const domains = hosts.flatMap((h, i) => Array.from({ length: perHost }, (_, j) => ({ host: h.name, uuid: uuid(i * perHost + j), name: `${h.name}-vm${j}` })));
  for (const part of chunk(hosts, 1000)) await store.write(mergeNodes("Host", part.map((h) => ({ name: h.name, state: h.state, segment: h.segment, address: h.address, since: h.since }))));
  for (const part of chunk(domains, 2000)) await store.write(mergeNodes("Domain", part.map((d) => ({ uuid: d.uuid, name: d.name, state: "running", present: true }))));
  for (const part of chunk(domains, 2000)) await store.write(mergeRels("RUNS", "Host", "Domain", part.map((d) => ({ from: d.host, to: d.uuid }))));
}

const QUERY = namedQueries.deadHostImpact;
const QUERY_HOST = "hv0097"; // a dead host (every 97th)

const API_OPTIONS = { queryTimeoutMs: 10_000, maxRows: 10_000, maxBodyBytes: 65_536, sessionMaxAgeMs: 3600_000, signInMaxFailures: 5, signInWindowMs: 900_000 };

if (values.serve) {
  const { app } = await buildApi(sources(filledMembership(), await openStore(values.graph!), values.access!), API_OPTIONS, silentLogger());
  await app.listen({ host: "127.0.0.1", port: 0 });
  const a = app.server.address();
  process.send!({ port: typeof a === "object" && a ? a.port : 0 });
  process.on("disconnect", () => void app.close().then(() => process.exit(0)));
} else {
  await main();
}

interface Figures {
  p50: number;
  p99: number;
  perSecond: number;
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

/** Latency of `n` sequential runs, and runs per second with `concurrency` in flight for `seconds`. */
async function measure(once: () => Promise<unknown> | unknown, n: number, seconds: number, concurrency: number): Promise<Figures> {
  for (let i = 0; i < 200; i++) await once(); // warm-up
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await once();
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  lat.sort((a, b) => a - b);
  let done = 0;
  const end = Date.now() + seconds * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      await once();
      done++;
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { p50: pct(lat, 50), p99: pct(lat, 99), perSecond: done / secs };
}

function httpGet(agent: Agent, port: number, path: string, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent, headers: { authorization } }, (res) => {
      let bytes = 0;
      res.on("data", (d: Buffer) => (bytes += d.length));
      res.on("end", () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`HTTP ${res.statusCode} for ${path}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const n = Number(values.requests);
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);
  const perHost = Number(values.domains);
  const m = filledMembership();
  const rows: string[] = [];
  const row = (what: string, f: Figures, bytes: number): void => {
    const ms = (x: number): string => (Number.isNaN(x) ? "–" : x.toFixed(3));
    rows.push(`| ${what} | ${ms(f.p50)} | ${ms(f.p99)} | ${Math.round(f.perSecond).toLocaleString("en")} | ${bytes.toLocaleString("en")} |`);
    console.error(`done: ${rows.at(-1)}`);
  };
  const dir = mkdtempSync(join(tmpdir(), "rw-bench-http-"));
  const graphPath = join(dir, "graph");
  const accessDir = join(dir, "access");
  mkdirSync(accessDir);
  const authorization = `Bearer ${AccessStore.open(accessDir).createToken({ name: "bench", role: "viewer", expiresAt: null, createdBy: "bench" }).token}`;
  const store = await openStore(graphPath);
  const tFill = Date.now();
  await fillGraph(store, m, perHost);
  const fillSecs = (Date.now() - tFill) / 1000;
  console.error(`done: graph filled with ${HOSTS} hosts and ${HOSTS * perHost} domains in ${fillSecs.toFixed(1)} s`);

  // the peer: what the route computes, called directly in-process
  const direct = (): unknown => ({ hosts: m.hosts().sort((a, b) => (a.name < b.name ? -1 : 1)).map(hostView), counts: m.countByState() });
  const json = JSON.stringify(direct());
  row("GET /api/hosts: direct in-process call (objects)", await measure(direct, n, seconds, 1), 0);
  row("GET /api/hosts: direct in-process call + JSON.stringify", await measure(() => JSON.stringify(direct()), n, seconds, 1), json.length);

  const { app } = await buildApi(sources(m, store, accessDir), API_OPTIONS, silentLogger());
  let injected = 0;
  row("GET /api/hosts: fastify inject (no socket)", await measure(async () => (injected = (await app.inject({ url: "/api/hosts", headers: { authorization } })).rawPayload.length), n, seconds, concurrency), injected);

  // the named query: direct store.read() in-process (the peer), then inject
  const limits = { timeoutMs: API_OPTIONS.queryTimeoutMs, maxRows: API_OPTIONS.maxRows };
  const answer = await store.read(QUERY.cypher, { host: QUERY_HOST }, limits);
  if (answer.rows.length !== perHost) throw new Error(`${QUERY.name}: expected ${perHost} rows, got ${answer.rows.length}`);
  const queryJson = JSON.stringify(answer).length;
  row(`${QUERY.name}: direct store.read() in-process`, await measure(() => store.read(QUERY.cypher, { host: QUERY_HOST }, limits), n, seconds, 1), queryJson);
  row(`${QUERY.name}: direct store.read() in-process, ${concurrency} in flight`, await measure(() => store.read(QUERY.cypher, { host: QUERY_HOST }, limits), 0, seconds, concurrency), queryJson);
  const path = `/api/queries/${QUERY.name}?host=${QUERY_HOST}`;
  row(`${QUERY.name}: fastify inject (no socket)`, await measure(async () => (injected = (await app.inject({ url: path, headers: { authorization } })).rawPayload.length), n, seconds, concurrency), injected);
  await app.close();
  await store.close();

  const server: ChildProcess = fork(fileURLToPath(import.meta.url), ["--serve", "--graph", graphPath, "--access", accessDir], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const port = await new Promise<number>((resolve) => server.once("message", (msg) => resolve((msg as { port: number }).port)));
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let got = 0;
  row(`GET /api/hosts: HTTP over loopback (keep-alive; ${concurrency} connections for req/s)`, await measure(async () => (got = await httpGet(agent, port, "/api/hosts", authorization)), n, seconds, concurrency), got);
  row(`${QUERY.name}: HTTP over loopback (keep-alive; ${concurrency} connections for req/s)`, await measure(async () => (got = await httpGet(agent, port, path, authorization)), n, seconds, concurrency), got);
  agent.destroy();
  server.disconnect();
  await new Promise((r) => server.once("exit", r));
  rmSync(dir, { recursive: true, force: true });

  console.log(`# HTTP API benchmark — ${new Date().toISOString()} — ${HOSTS} hosts (Membership); Kuzu graph: ${HOSTS} hosts, ${HOSTS * perHost} domains (filled in ${fillSecs.toFixed(1)} s); ${QUERY.name} for one dead host (${perHost} rows)`);
  console.log(`# latency: ${n} sequential requests after 200 warm-up; requests/s: ${seconds} s with the stated number in flight`);
  console.log("");
  console.log("| path | p50 ms | p99 ms | requests/s | response bytes |");
  console.log("|---|---:|---:|---:|---:|");
  for (const r of rows) console.log(r);
}

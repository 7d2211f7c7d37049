/**
 * HTTP API overhead: request latency (p50/p99, one request at a time) and throughput (requests/s
 * with several keep-alive connections) for GET /api/hosts over 1,000 hosts from a real Membership,
 * side by side with the same answer from a direct in-process call (the peer) and through
 * fastify's inject (routing, validation and serialization without a socket).
 * The server runs in a child process (this file with --serve) so client and server do not share
 * one event loop.
 *
 *   node bench/dist/http.bench.js [--requests 2000] [--seconds 10] [--concurrency 8]
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { Agent, request } from "node:http";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { AlertStore, DiscoveryStore, InventoryStore, Membership, StatsStore, buildApi, hostView } from "@ringwatch/cma";
import type { ApiSources, HostRecord } from "@ringwatch/cma";
import { silentLogger } from "@ringwatch/shared";

const { values } = parseArgs({
  options: {
    serve: { type: "boolean" }, requests: { type: "string", default: "2000" }, seconds: { type: "string", default: "10" }, concurrency: { type: "string", default: "8" },
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

function sources(m: Membership): ApiSources {
  const log = silentLogger();
  return {
    status: () => ({ hosts: m.countByState() }), membership: m, inventory: new InventoryStore(log), alerts: new AlertStore(log), discovery: new DiscoveryStore(log),
    stats: new StatsStore(log), graph: undefined,
  };
}

const API_OPTIONS = { queryTimeoutMs: 10_000, maxRows: 10_000, maxBodyBytes: 65_536 };

if (values.serve) {
  const { app } = await buildApi(sources(filledMembership()), API_OPTIONS, silentLogger());
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
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Latency of `n` sequential runs, and runs per second with `concurrency` in flight for `seconds`. */
async function measure(once: () => Promise<unknown> | unknown, n: number, seconds: number, concurrency: number): Promise<Figures> {
  for (let i = 0; i < Math.min(200, n); i++) await once(); // warm-up
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

function httpGet(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent }, (res) => {
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
  const m = filledMembership();
  const rows: string[] = [];
  const row = (what: string, f: Figures, bytes: number): void => {
    rows.push(`| ${what} | ${f.p50.toFixed(3)} | ${f.p99.toFixed(3)} | ${Math.round(f.perSecond).toLocaleString("en")} | ${bytes.toLocaleString("en")} |`);
    console.error(`done: ${rows.at(-1)}`);
  };

  // the peer: what the route computes, called directly in-process
  const direct = (): unknown => ({ hosts: m.hosts().sort((a, b) => (a.name < b.name ? -1 : 1)).map(hostView), counts: m.countByState() });
  const json = JSON.stringify(direct());
  row("direct in-process call (objects)", await measure(direct, n, seconds, 1), 0);
  row("direct in-process call + JSON.stringify", await measure(() => JSON.stringify(direct()), n, seconds, 1), json.length);

  const { app } = await buildApi(sources(m), API_OPTIONS, silentLogger());
  let injected = 0;
  row("fastify inject (no socket)", await measure(async () => (injected = (await app.inject("/api/hosts")).rawPayload.length), n, seconds, concurrency), injected);
  await app.close();

  const server: ChildProcess = fork(fileURLToPath(import.meta.url), ["--serve"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const port = await new Promise<number>((resolve) => server.once("message", (msg) => resolve((msg as { port: number }).port)));
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let got = 0;
  row(`HTTP over loopback, keep-alive (${concurrency} connections for req/s)`, await measure(async () => (got = await httpGet(agent, port, "/api/hosts")), n, seconds, concurrency), got);
  agent.destroy();
  server.disconnect();

  console.log(`# HTTP API benchmark — ${new Date().toISOString()} — GET /api/hosts, ${HOSTS} hosts; latency: ${n} sequential requests; throughput: ${seconds} s`);
  console.log("");
  console.log("| path | p50 ms | p99 ms | requests/s | response bytes |");
  console.log("|---|---:|---:|---:|---:|");
  for (const r of rows) console.log(r);
}

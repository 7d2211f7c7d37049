/**
 * Values from the CMA into the real Zabbix 6.0 server (scripts/zabbix.sh), side by side with
 * Zabbix's own zabbix_sender CLI sending the same number of values from a file in the same run.
 *
 *  1. throughput: N values over hosts × items, pushed into the DurableSender at once; rate until the
 *     server replied "processed" for all, and until history.get shows all of them;
 *     the same N values (other timestamps) with `zabbix_sender -z -p -T -N -i file`.
 *  2. lag at a steady rate: a sample is stamped (clock, ns) when pushed; lag = when history.get
 *     first shows it minus that stamp (history polled every 100 ms: up to +100 ms of error).
 *  3. spool replay: values spooled while Zabbix is unreachable (the sender pointed at a closed
 *     port, the path of ECONNREFUSED), then a new sender on the same spool replays them: values/s.
 *
 *   node bench/dist/zabbix-sender.bench.js [--values 200000] [--hosts 50] [--items 100] [--rate 5000] [--lag-secs 20] [--replay 200000]
 *
 * zabbix_sender: Debian 12 ships it inside the zabbix-agent package; when it is not on PATH the
 * bench fetches that package with apt-get download and unpacks only the binary (no agent daemon).
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { DurableSender } from "@ringwatch/cma";
import type { DurableSenderOptions, ZabbixValue } from "@ringwatch/cma";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil, unusedTcpPort } from "@ringwatch/shared/testing";
import type * as ZabbixSupport from "../test/dist/support/zabbix.js";

const Z = (await import(new URL("../../test/dist/support/zabbix.js", import.meta.url).href)) as typeof ZabbixSupport;
const run = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    values: { type: "string", default: "200000" }, hosts: { type: "string", default: "50" }, items: { type: "string", default: "100" },
    rate: { type: "string", default: "5000" }, "lag-secs": { type: "string", default: "20" }, replay: { type: "string", default: "200000" },
  },
});
const N = Number(args.values);
const HOSTS = Number(args.hosts);
const ITEMS = Number(args.items);
const RATE = Number(args.rate);
const LAG_SECS = Number(args["lag-secs"]);
const REPLAY = Number(args.replay);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = silentLogger();
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

function zabbixSenderBinary(): string {
  try {
    return execFileSync("bash", ["-c", "command -v zabbix_sender"], { encoding: "utf8" }).trim();
  } catch {
    /* not installed */
  }
  const dir = "/tmp/ringwatch-zabbix-sender";
  const bin = join(dir, "usr/bin/zabbix_sender");
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  console.error("zabbix_sender not on PATH: apt-get download zabbix-agent (Debian ships zabbix_sender in it), unpacking the binary only");
  execFileSync("apt-get", ["download", "-q", "zabbix-agent"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  const deb = readdirSync(dir).find((f) => f.startsWith("zabbix-agent_") && f.endsWith(".deb"))!;
  execFileSync("dpkg-deb", ["-x", join(dir, deb), dir]);
  return bin;
}


const zbx = await Z.ensureZabbix();
const server = { host: zbx.serverHost, port: zbx.serverPort };
const senderBin = zabbixSenderBinary();
const base = (over: Partial<DurableSenderOptions> = {}): DurableSenderOptions => ({
  server, spoolDir: mkdtempSync(join(tmpdir(), "rw-zbench-")), spoolMaxBytes: 1 << 30, batchMax: 1000, batchMs: 1000,
  connectTimeoutMs: 5000, replyTimeoutMs: 30_000, backoffMaxMs: 1000, unknownHoldMs: 600_000, compress: false, ...over,
});

// ---- hosts × items (trapper, float), plus a few items for the lag probe
const prefix = `rwt-zbench-${process.pid}`;
await Z.deleteHostsByPrefix("rwt-zbench-");
const keys = Array.from({ length: ITEMS }, (_, i) => `ringwatch.bench[${i}]`);
const hosts: ZabbixSupport.TrapperHost[] = [];
const tSetup = Date.now();
for (let h = 0; h < HOSTS; h++) hosts.push(await Z.createTrapperHost(`${prefix}-${String(h).padStart(3, "0")}`, keys));
const lagHost = await Z.createTrapperHost(`${prefix}-lag`, Array.from({ length: 10 }, (_, i) => `ringwatch.lag[${i}]`));
await Z.reloadZabbixConfig();
await sleep(3000);
const allItemIds = hosts.flatMap((h) => [...h.items.values()]);
console.error(`setup: ${HOSTS} hosts × ${ITEMS} items in ${((Date.now() - tSetup) / 1000).toFixed(1)} s`);

/** N values over all pairs; clock within [from, from + span), ns unique per (pair, clock) */
function makeValues(count: number, from: number, span: number): ZabbixValue[] {
  const out: ZabbixValue[] = new Array(count);
  const pairs = HOSTS * ITEMS;
  for (let i = 0; i < count; i++) {
    const p = i % pairs;
    const round = Math.floor(i / pairs);
    out[i] = { host: hosts[p % HOSTS]!.host, key: keys[Math.floor(p / HOSTS)]!, value: (i % 10_000) / 7, clock: from + (round % span), ns: round * 1000 + 1 };
  }
  return out;
}

async function waitHistory(from: number, till: number, count: number, timeoutMs = 600_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  let n = 0;
  while ((n = await Z.historyCount(allItemIds, Z.ValueType.float, { from, till })) < count && Date.now() < end) await sleep(250);
  return n;
}

const rows: string[] = [];
const now = Math.floor(Date.now() / 1000);

// ---- warm-up: one value per pair, so every pair is confirmed (probes are a one-time cost per item)
async function warm(s: DurableSender, clock: number): Promise<number> {
  const t = performance.now();
  s.push(makeValues(HOSTS * ITEMS, clock, 1).map((v) => ({ ...v, ns: 999_999_999 })));
  await waitUntil(() => s.backlog === 0, 600_000, "warm-up", 10);
  return (performance.now() - t) / 1000;
}

// ---- 1. throughput, ours (plain and compressed), then zabbix_sender
for (const [label, compress, window] of [["ringwatch DurableSender", false, 0], ["ringwatch DurableSender, zlib", true, 1]] as const) {
  const from = now - 7200 + window * 1800;
  const s = DurableSender.start(base({ compress }), log);
  const warmS = await warm(s, from - 1);
  const values = makeValues(N, from, 1500);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < values.length; i += 1000) s.push(values.slice(i, i + 1000));
  const pushS = (performance.now() - t0) / 1000;
  await waitUntil(() => s.backlog === 0, 600_000, "all processed", 2);
  const processedS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stored = await waitHistory(from, from + 1499, N);
  const storedS = (performance.now() - t0) / 1000;
  rows.push(`| ${label} | ${fmt(N)} | ${fmt(N / processedS)} | ${fmt(stored / storedS)} | ${((cpu.user + cpu.system) / 1000 / (N / 1000)).toFixed(2)} | ${s.counters.requests} | push ${pushS.toFixed(2)} s; warm-up (${fmt(HOSTS * ITEMS)} probes) ${warmS.toFixed(1)} s |`);
  if (s.counters.processed !== N + HOSTS * ITEMS || stored !== N) rows.push(`| ↳ check | processed ${s.counters.processed}, stored ${stored} of ${N} | | | | | |`);
  await s.stop();
}
{
  const from = now - 7200 + 2 * 1800;
  const values = makeValues(N, from, 1500);
  const file = join(mkdtempSync(join(tmpdir(), "rw-zbench-cli-")), "values.txt");
  writeFileSync(file, values.map((v) => `${v.host} ${v.key} ${v.clock} ${v.ns} ${v.value}`).join("\n") + "\n");
  const t0 = performance.now();
  const { stdout } = await run(senderBin, ["-z", server.host, "-p", String(server.port), "-T", "-N", "-i", file], { maxBuffer: 64 << 20 }).catch((e: { stdout: string }) => e);
  const processedS = (performance.now() - t0) / 1000;
  const m = /processed: (\d+); failed: (\d+); total: (\d+)/.exec(stdout.split("\n").filter((l) => l.startsWith("sent:")).at(-1) ?? stdout);
  const sent = /sent: (\d+); skipped: (\d+); total: (\d+)/.exec(stdout);
  const stored = await waitHistory(from, from + 1499, N);
  const storedS = (performance.now() - t0) / 1000;
  const version = execFileSync(senderBin, ["-V"], { encoding: "utf8" }).split("\n")[0];
  rows.push(`| zabbix_sender CLI (${version}), -T -N -i file | ${fmt(N)} | ${fmt(N / processedS)} | ${fmt(stored / storedS)} | (own process) | ${Math.ceil(N / 250)} | ${sent ? `sent ${sent[1]}` : m ? `processed ${m[1]}` : stdout.slice(-200)}; stored ${stored} |`);
  rmSync(file);
}

// ---- 2. lag at a steady rate
let lagLine = "";
{
  const s = DurableSender.start(base(), log);
  const lagKeys = [...lagHost.items.keys()];
  const lagIds = [...lagHost.items.values()];
  await warm(s, now - 7200 + 3 * 1800); // the bulk pairs
  s.push(lagKeys.map((key) => ({ host: lagHost.host, key, value: 0, clock: now - 3600, ns: 0 })));
  await waitUntil(() => s.backlog === 0, 60_000, "lag pairs confirmed", 10);
  const stamps = new Map<string, number>(); // "itemid clock ns" → sample time ms
  const seen: number[] = [];
  const t0 = Date.now();
  const tick = 50;
  let i = 0;
  let pushed = 0;
  const pusher = setInterval(() => {
    const ms = Date.now();
    const due = Math.floor(((ms - t0) / 1000) * RATE) - pushed;
    if (due <= 0) return;
    const batch: ZabbixValue[] = [];
    for (let j = 0; j < due; j++, i++) {
      const clock = Math.floor(ms / 1000);
      const ns = (ms % 1000) * 1_000_000 + (i % 1_000_000);
      if (i % 100 === 0) {
        const k = (i / 100) % lagKeys.length;
        batch.push({ host: lagHost.host, key: lagKeys[k]!, value: i, clock, ns });
        stamps.set(`${lagIds[k]} ${clock} ${ns}`, clock * 1000 + ns / 1e6);
      } else {
        const p = i % (HOSTS * ITEMS);
        batch.push({ host: hosts[p % HOSTS]!.host, key: keys[Math.floor(p / HOSTS)]!, value: i, clock, ns });
      }
    }
    pushed += due;
    s.push(batch);
  }, tick);
  const from = Math.floor(t0 / 1000) - 1;
  const pending = (): number => stamps.size;
  while (Date.now() - t0 < LAG_SECS * 1000 || (pending() > 0 && Date.now() - t0 < (LAG_SECS + 60) * 1000)) {
    if (Date.now() - t0 >= LAG_SECS * 1000) clearInterval(pusher);
    const polled = Date.now();
    for (const r of await Z.historySince(lagIds, from)) {
      const k = `${r.itemid} ${r.clock} ${r.ns}`;
      const at = stamps.get(k);
      if (at !== undefined) {
        seen.push(polled - at);
        stamps.delete(k);
      }
    }
    await sleep(100);
  }
  clearInterval(pusher);
  lagLine = `| ${fmt(RATE)} values/s for ${LAG_SECS} s (batchMs 1000, batchMax 1000) | ${seen.length} samples | ${fmt(pct(seen, 50))} | ${fmt(pct(seen, 99))} | ${fmt(Math.max(...seen))} | ${stamps.size} never seen |`;
  await s.stop();
}

// ---- 3. spool replay
let replayLine = "";
{
  const o = base({ server: { host: "127.0.0.1", port: await unusedTcpPort() } });
  const from = now - 7200 + 3 * 1800 + 100;
  // confirm the pairs first through a connected sender on the same spool directory
  const w = DurableSender.start({ ...o, server }, log);
  await warm(w, from - 1);
  await w.stop();
  const a = DurableSender.start(o, log);
  const values = makeValues(REPLAY, from, 1400);
  for (let i = 0; i < values.length; i += 1000) a.push(values.slice(i, i + 1000));
  await waitUntil(() => a.counters.connectFailures > 0, 10_000, "unreachable");
  await a.stop();
  const t0 = performance.now();
  const b = DurableSender.start({ ...o, server }, log);
  const spooled = b.backlog;
  const spoolMB = (b.status().spool as { bytes: number }).bytes / 1e6;
  await waitUntil(() => b.backlog === 0, 600_000, "replayed", 2);
  const replayS = (performance.now() - t0) / 1000;
  const stored = await waitHistory(from, from + 1399, REPLAY);
  replayLine = `| ${fmt(spooled)} values spooled (${spoolMB.toFixed(1)} MB on disk) | ${fmt(b.counters.replayed / replayS)} | ${replayS.toFixed(2)} s | ${stored} stored |`;
  await b.stop();
}

await Z.deleteHostsByPrefix("rwt-zbench-");

console.log(`\nZabbix sender, ${new Date().toISOString().slice(0, 10)}, node ${process.version}; ${fmt(N)} values over ${HOSTS} hosts × ${ITEMS} items\n`);
console.log("| sender | values | values/s until processed (server replies) | values/s until in history.get | CMA CPU ms per 1000 values | requests | notes |");
console.log("|---|---:|---:|---:|---:|---:|---|");
for (const r of rows) console.log(r);
console.log("\n| lag: steady rate | samples | p50 ms | p99 ms | max ms | |\n|---|---:|---:|---:|---:|---|");
console.log(lagLine);
console.log("\n| spool replay | values/s replayed | time | |\n|---|---:|---:|---|");
console.log(replayLine);

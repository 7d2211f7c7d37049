/**
 * Recovery actions (issue 14): how long from a guest's service failing to each step, and what the
 * CMA pays for guest health and ladders. Real processes (the CMA and nanoprobe CLIs, default
 * configuration but for the options named), libvirt's test driver (its guests have no OS: the
 * bench serves the guests' service itself on loopback and flips it), times from the processes'
 * own JSON log lines (pino `time`, ms) against the moment the bench flipped the service.
 *
 *  1. latency (--runs runs): service 503 → the nanoprobe's `guest unhealthy` → the CMA's
 *     `ladder started` → `domain action sent` (reboot) → the nanoprobe's `domain action done` →
 *     the CMA's `ladder step` reboot → the same for the reset → escalate. Checks every 1 s, 3
 *     failures in a row; policy notify, reboot, wait 2 s, reset, wait 2 s, escalate; ladderTickMs
 *     1 s (the default). The first term is the configuration's (failures × interval), by design.
 *  2. cost (--guests guests, default 1,000): nanoprobes of 250 domains each (the test driver's
 *     fixture numbers at most 255), a TCP check per running guest; the CMA's CPU (/proc/<pid>/stat utime+stime) over --window seconds with every guest
 *     healthy, then with every guest unhealthy and its ladder running (dry-run: no action is
 *     sent, every step still decided, audited and saved), and the ladder state file's size.
 *
 *  3. --versus N: the same ladder through Zabbix's own action escalation beside ringwatch's (below;
 *     needs the Zabbix of scripts/zabbix.sh, ~4 min).
 *
 *   node bench/dist/ladder.bench.js [--runs 5] [--guests 1000] [--window 60] [--versus 3]
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo, Server as TcpServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { unusedTcpPort } from "@ringwatch/shared/testing";
import type * as ProcessSupport from "../test/dist/support/processes.js";
import type { LogLine, RunningProcess } from "../test/dist/support/processes.js";
import type * as ZabbixSupport from "../test/dist/support/zabbix.js";

// the tests' process helpers, from the built tests (bench/dist sits one level deeper than the sources)
const { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } = (await import(new URL("../../test/dist/support/processes.js", import.meta.url).href)) as typeof ProcessSupport;

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "5" }, guests: { type: "string", default: "1000" }, window: { type: "string", default: "60" }, versus: { type: "string", default: "0" } } });
const listen = (s: Server | TcpServer): Promise<number> => new Promise((r) => s.listen(0, "127.0.0.1", () => r((s.address() as AddressInfo).port)));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]; };
const cpuMs = (pid: number): number => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; }; // clock ticks of 10 ms

interface Cluster { cma: RunningProcess; np: RunningProcess; dir: string; stop(): Promise<void> }

/** a CMA and `hosts` nanoprobes, each on its own test-driver fixture of `guests` domains (UUIDs made distinct per host) */
async function cluster(name: string, guests: number, checks: (uuids: { uuid: string; name: string }[]) => unknown, policy: unknown, hosts = 1, cmaEnv: Record<string, string> = {}): Promise<Cluster & { domains: { uuid: string; name: string }[]; nps: RunningProcess[] }> {
  const dir = mkdtempSync(join(tmpdir(), `rw-ladder-bench-${name}-`));
  const kg = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
  if (kg.code !== 0) throw new Error(kg.stderr);
  if (policy) writeFileSync(join(dir, "policy.json"), JSON.stringify(policy));
  const port = 21000 + Math.floor(Math.random() * 20000);
  const common = { RINGWATCH_CLUSTER: `lb${name}`, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0", RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_LOG_FORMAT: "json" };
  const cma = startProcess("cma", CMA_CLI, ["run"], {
    ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_PORT: String(port), RINGWATCH_MULTICAST_GROUP: "",
    RINGWATCH_DATA_DIR: join(dir, "cma"), RINGWATCH_HTTP_LISTEN: "off", RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none", RINGWATCH_ACTION_POLICY_FILE: policy ? join(dir, "policy.json") : "",
    ...cmaEnv,
  });
  await cma.waitFor((l) => l.msg === "CMA started", 30_000, "CMA started");
  const nps: RunningProcess[] = [];
  const fixtures: ReturnType<typeof writeFixture>[] = [];
  const domains: { uuid: string; name: string }[] = [];
  for (let h = 0; h < hosts; h++) {
    const fx = writeFixture(guests);
    const tag = `5e${h.toString(16).padStart(2, "0")}0000-`;
    writeFileSync(fx.file, readFileSync(fx.file, "utf8").replaceAll("5e1f0000-", tag));
    fixtures.push(fx);
    const running = fx.domains.filter((d) => d.state === "running").map((d) => ({ uuid: d.uuid.replace("5e1f0000-", tag), name: d.name }));
    domains.push(...running);
    writeFileSync(join(dir, `checks-${h}.json`), JSON.stringify(checks(running)));
    const np = startProcess(`nanoprobe${h}`, NANOPROBE_CLI, ["run"], {
      ...common, RINGWATCH_IDENTITY: `hv-${name}-${h}`, RINGWATCH_PORT: String(port + 1 + h), RINGWATCH_CMA: `127.0.0.1:${port}`, RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"),
      RINGWATCH_DISCOVERY_DIR: "", RINGWATCH_ZABBIX_AGENT_CONFIG: "", RINGWATCH_LIBVIRT_URI: fx.uri, RINGWATCH_GUEST_CHECKS_FILE: join(dir, `checks-${h}.json`),
    });
    await np.waitFor((l) => l.msg === "registered with the CMA", 30_000, "registered");
    nps.push(np);
  }
  return { cma, np: nps[0], nps, dir, domains, stop: async () => { for (const np of nps) await np.stop(); await cma.stop(); for (const f of fixtures) f.cleanup(); rmSync(dir, { recursive: true, force: true }); } };
}

/** a log line's time in ms (the processes log ISO times) */
const at = (l: LogLine): number => Date.parse(String(l.time));
/** the first line at or after `since` (ms) that matches */
const after = (p: RunningProcess, since: number, match: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> =>
  p.waitFor((l) => at(l) >= since && match(l), timeoutMs, what);

async function latency(runs: number): Promise<void> {
  let status = 200;
  const service = createServer((_q, r) => { r.statusCode = status; r.end(); });
  const port = await listen(service);
  const c = await cluster("lat", 4, (ds) => ({ defaults: { intervalMs: 1000, timeoutMs: 500, failures: 3 }, checks: [{ guest: ds[0].uuid, http: `http://127.0.0.1:${port}/` }] }),
    { default: ["notify", "reboot", { wait: "2s" }, "reset", { wait: "2s" }, "escalate"], limits: { guestCooldown: "1s", fleet: 1000, perHost: 1000 } });
  const rows: Record<string, number[]> = {};
  const add = (k: string, v: number) => (rows[k] ??= []).push(v);
  try {
    await sleep(3000);
    for (let i = 0; i < runs; i++) {
      const t0 = Date.now();
      status = 503;
      const unhealthy = await after(c.np, t0, (l) => l.msg === "guest unhealthy", 30_000, "guest unhealthy").catch((e: Error) => {
        throw new Error(`${e.message}; nanoprobe said: ${c.np.lines.slice(-8).map((l) => JSON.stringify(l).slice(0, 200)).join("\n")}`);
      });
      const started = await after(c.cma, t0, (l) => l.msg === "ladder started", 30_000, "ladder started");
      const t = async (action: string) => {
        const sent = await after(c.cma, t0, (l) => l.msg === "domain action sent" && l.action === action, 30_000, `${action} sent`);
        const done = await after(c.np, t0, (l) => l.msg === "domain action done" && l.action === action, 30_000, `${action} done`);
        const step = await after(c.cma, t0, (l) => l.msg === "ladder step" && l.step === action, 30_000, `${action} step`);
        add(`${action} issued (command sent)`, at(sent) - t0);
        add(`${action} done on the hypervisor`, at(done) - t0);
        add(`${action} step recorded at the CMA`, at(step) - t0);
      };
      add("unhealthy (nanoprobe)", at(unhealthy) - t0);
      add("ladder started (CMA)", at(started) - t0);
      await t("reboot");
      await t("reset");
      const esc = await after(c.cma, t0, (l) => l.msg === "ladder step" && l.step === "escalate", 30_000, "escalate");
      add("escalated", at(esc) - t0);
      status = 200;
      const t1 = Date.now();
      await after(c.cma, t1, (l) => l.msg === "ladder ended", 30_000, "ended");
      await sleep(2000); // past the guest's cooldown
    }
  } finally {
    await c.stop();
    service.close();
  }
  console.log(`\n1. From the service failing (checks every 1 s, 3 failures; ladder notify → reboot → 2 s → reset → 2 s → escalate; ladderTickMs 1 s), ${runs} runs, ms`);
  console.log("| stage | p50 | p95 | min | max |\n|---|---:|---:|---:|---:|");
  for (const [k, v] of Object.entries(rows)) console.log(`| ${k} | ${quantile(v, 0.5)} | ${quantile(v, 0.95)} | ${Math.min(...v)} | ${Math.max(...v)} |`);
}

async function cost(guests: number, windowS: number): Promise<void> {
  const open = createTcpServer((s) => s.end());
  const port = await listen(open);
  // every guest's check points at the bench's listener: closing it makes them all fail at once
  const perHost = 250; // the test driver's fixture numbers at most 255 domains
  const c = await cluster("cost", perHost, (ds) => ({ defaults: { intervalMs: 5000, timeoutMs: 1000, failures: 2 }, checks: ds.map((d) => ({ guest: d.uuid, tcp: `127.0.0.1:${port}` })) }),
    { mode: "dry-run", default: ["notify", { wait: "10s" }, "reboot", { wait: "10s" }, "reset", { wait: "10s" }, "escalate"] }, Math.ceil(guests / perHost));
  const pid = c.cma.child.pid!;
  try {
    await sleep(15_000); // settled: inventory in, checks passing
    const idle0 = cpuMs(pid);
    await sleep(windowS * 1000);
    const idle = cpuMs(pid) - idle0;
    open.close(); // every guest's service down
    const n = c.domains.length;
    const t0 = Date.now();
    const seen = new Set<string>();
    await c.cma.waitFor((l) => { if (l.msg === "ladder started") seen.add(String(l.uuid)); return seen.size >= n; }, 120_000, `${n} ladders started`).catch((e: Error) => {
      throw new Error(`${e.message} (${seen.size} started); nanoprobe said: ${c.np.lines.filter((l) => (l.level as number) >= 40 && l.msg !== "guest unhealthy").slice(-5).map((l) => JSON.stringify(l).slice(0, 300)).join("\n")}`);
    });
    const startedMs = Date.now() - t0;
    const busy0 = cpuMs(pid);
    await sleep(windowS * 1000);
    const busy = cpuMs(pid) - busy0;
    const file = statSync(join(c.dir, "cma/ladders.json")).size;
    const steps = c.cma.lines.filter((l) => l.msg === "ladder step").length;
    console.log(`\n2. The CMA with ${n} running guests (one TCP check each, every 5 s, 2 failures) on ${c.nps.length} nanoprobes of ${perHost} domains each, ${windowS} s windows`);
    console.log("| CMA process | CPU ms per s | note |\n|---|---:|---|");
    console.log(`| every guest healthy | ${(idle / windowS).toFixed(1)} | inventory, stats and heartbeats of ${c.nps.length} nanoprobes |`);
    console.log(`| every guest unhealthy, ${n} ladders under way (dry-run) | ${(busy / windowS).toFixed(1)} | ${steps} steps decided, audited and saved in the window; ladders.json ${(file / 1024).toFixed(0)} KiB |`);
    console.log(`all ${n} ladders started ${startedMs} ms after the last check could pass (the checks' failures × interval is most of it)`);
  } finally {
    await c.stop();
  }
}

/**
 * 3. The same ladder through Zabbix's own action escalation, side by side with ringwatch's, both at
 * once: two clusters of one nanoprobe each, `--versus` guests each whose checks (every 1 s, 3
 * failures) point at one service per cluster, flipped at the same moment. ringwatch: policy notify
 * → 60 s → reboot → 60 s → reset → 60 s → escalate (no Zabbix). Zabbix (the shared test server,
 * scripts/zabbix.sh): the CMA with zabbixScriptsCmaUrl and zabbixCreateActions, waits 1m,1m,1m
 * (Zabbix's shortest step), no ladder of its own; the problem and each step's time from Zabbix's
 * event and alert records (whole seconds), the actions done from the nanoprobe's log.
 */
async function versusZabbix(guests: number): Promise<void> {
  const Z = (await import(new URL("../../test/dist/support/zabbix.js", import.meta.url).href)) as typeof ZabbixSupport;
  const zbx = await Z.ensureZabbix();
  const sfx = Math.random().toString(16).slice(2, 8);
  const names = Z.testZabbixNames("lad", sfx);
  const statuses = { rw: 200, zbx: 200 };
  const services = { rw: createServer((_q, r) => { r.statusCode = statuses.rw; r.end(); }), zbx: createServer((_q, r) => { r.statusCode = statuses.zbx; r.end(); }) };
  const ports = { rw: await listen(services.rw), zbx: await listen(services.zbx) };
  const checks = (port: number) => (ds: { uuid: string }[]) => ({ defaults: { intervalMs: 1000, timeoutMs: 500, failures: 3 }, checks: ds.slice(0, guests).map((d) => ({ guest: d.uuid, http: `http://127.0.0.1:${port}/` })) });
  const spool = mkdtempSync(join(tmpdir(), "rw-ladder-bench-spool-"));
  const httpPort = await unusedTcpPort();
  const rw = await cluster("vrw", guests + 2, checks(ports.rw), { default: ["notify", { wait: "60s" }, "reboot", { wait: "60s" }, "reset", { wait: "60s" }, "escalate"], limits: { guestCooldown: "1s", fleet: 1000, perHost: 1000 } });
  const zc = await cluster("vzbx", guests + 2, checks(ports.zbx), undefined, 1, {
    ...Z.cmaZabbixEnv(zbx, names, spool), RINGWATCH_HTTP_LISTEN: `127.0.0.1:${httpPort}`, RINGWATCH_ZABBIX_SCRIPTS_CMA_URL: `http://127.0.0.1:${httpPort}`,
    RINGWATCH_ZABBIX_CREATE_ACTIONS: "true", RINGWATCH_ZABBIX_ACTION_WAITS: "1m,1m,1m",
  });
  const uuids = { rw: rw.domains.slice(0, guests).map((d) => d.uuid), zbx: zc.domains.slice(0, guests).map((d) => d.uuid) };
  const stages = ["unhealthy (nanoprobe)", "problem in Zabbix", "notified", "reboot issued", "reboot done on the hypervisor", "reset issued", "reset done on the hypervisor", "escalated"];
  const rows: Record<string, { rw: number[]; zbx: number[] }> = Object.fromEntries(stages.map((k) => [k, { rw: [], zbx: [] }]));
  const add = (k: string, who: "rw" | "zbx", v: number) => rows[k][who].push(v);
  try {
    // Zabbix must know every guest's items (low-level discovery, then its configuration cache) before a problem can open
    await zc.cma.until(async () => {
      const items = await Z.api<{ key_: string }[]>("item.get", { output: ["key_"], search: { key_: "ringwatch.vm.unhealthy[" }, startSearch: true, filter: { status: 0 } });
      return uuids.zbx.every((u) => items.some((i) => i.key_ === `ringwatch.vm.unhealthy[${u}]`)) ? true : undefined;
    }, 180_000, "the guests' items in Zabbix", 1000);
    const [action] = await zc.cma.until(async () => {
      const a = await Z.api<{ actionid: string }[]>("action.get", { output: ["actionid"], filter: { name: "ringwatch: guest recovery (seed 001)" } });
      return a.length ? a : undefined;
    }, 60_000, "the Zabbix action");
    await sleep(5000);
    const t0 = Date.now();
    statuses.rw = 503;
    statuses.zbx = 503;
    for (const u of uuids.rw) {
      const line = (p: RunningProcess, m: (l: LogLine) => boolean, what: string) => after(p, t0, (l) => l.uuid === u && m(l), 300_000, what).then(at);
      add("unhealthy (nanoprobe)", "rw", (await line(rw.np, (l) => l.msg === "guest unhealthy", "unhealthy")) - t0);
      add("notified", "rw", (await line(rw.cma, (l) => l.msg === "ladder step" && l.step === "notify", "notify")) - t0);
      for (const a of ["reboot", "reset"]) {
        add(`${a} issued`, "rw", (await line(rw.cma, (l) => l.msg === "domain action sent" && l.action === a, `${a} sent`)) - t0);
        add(`${a} done on the hypervisor`, "rw", (await line(rw.np, (l) => l.msg === "domain action done" && l.action === a, `${a} done`)) - t0);
      }
      add("escalated", "rw", (await line(rw.cma, (l) => l.msg === "ladder step" && l.step === "escalate", "escalate")) - t0);
    }
    for (const u of uuids.zbx) {
      const line = (m: (l: LogLine) => boolean, what: string) => after(zc.np, t0, (l) => l.uuid === u && m(l), 300_000, what).then(at);
      add("unhealthy (nanoprobe)", "zbx", (await line((l) => l.msg === "guest unhealthy", "unhealthy")) - t0);
      const ev = await zc.cma.until(async () => (await Z.api<{ eventid: string; clock: string; ns: string }[]>("event.get", {
        output: ["eventid", "clock", "ns"], source: 0, object: 0, value: 1, time_from: Math.floor(t0 / 1000), tags: [{ tag: "vm_uuid", value: u, operator: "1" }], search: { name: "is unhealthy" },
      }))[0], 60_000, "the guest's problem");
      add("problem in Zabbix", "zbx", Number(ev.clock) * 1000 + Math.round(Number(ev.ns) / 1e6) - t0);
      const step = (n: number) => zc.cma.until(async () => (await Z.api<{ clock: string }[]>("alert.get", { output: ["clock"], actionids: [action.actionid], eventids: [ev.eventid], filter: { esc_step: n } }))[0], 300_000, `step ${n}`, 1000);
      add("notified", "zbx", Number((await step(1)).clock) * 1000 - t0);
      for (const [n, a] of [[2, "reboot"], [3, "reset"]] as const) {
        add(`${a} issued`, "zbx", Number((await step(n)).clock) * 1000 - t0);
        add(`${a} done on the hypervisor`, "zbx", (await line((l) => l.msg === "domain action done" && l.action === a, `${a} done`)) - t0);
      }
      add("escalated", "zbx", Number((await step(4)).clock) * 1000 - t0);
    }
  } finally {
    await rw.stop();
    await zc.stop();
    for (const sv of Object.values(services)) sv.close();
    const a = await Z.api<{ actionid: string }[]>("action.get", { output: ["actionid"], filter: { name: "ringwatch: guest recovery (seed 001)" } });
    if (a.length) await Z.api("action.delete", a.map((x) => x.actionid));
    const sc = await Z.api<{ scriptid: string }[]>("script.get", { output: ["scriptid"], search: { name: "ringwatch:" }, startSearch: true });
    if (sc.length) await Z.api("script.delete", sc.map((x) => x.scriptid));
    await Z.deleteTestZabbixObjects(names);
    rmSync(spool, { recursive: true, force: true });
  }
  console.log(`\n3. The same ladder, ringwatch's and Zabbix's own action escalation side by side, at once: ${guests} guests each, checks every 1 s (3 failures), waits 60 s (Zabbix's shortest step), ms after the service failed (Zabbix's records in whole seconds); median (min–max) over the guests`);
  console.log("| stage | ringwatch ladder | Zabbix action escalation |\n|---|---:|---:|");
  const cell = (v: number[]) => (v.length ? `${quantile(v, 0.5)} (${Math.min(...v)}–${Math.max(...v)})` : "—");
  for (const [k, v] of Object.entries(rows)) console.log(`| ${k} | ${cell(v.rw)} | ${cell(v.zbx)} |`);
}

console.log(`ladder bench — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0].model}, Node ${process.version}`);
if (Number(args.runs) > 0) await latency(Number(args.runs));
if (Number(args.guests) > 0) await cost(Number(args.guests), Number(args.window));
if (Number(args.versus) > 0) await versusZabbix(Number(args.versus));

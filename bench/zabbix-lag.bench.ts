/**
 * Lag from sample to Zabbix history, end to end through the CMA: N nanoprobe processes reading
 * libvirt's test driver (30 guests each, 1 s samples, one compact batch per report interval) → a
 * real CMA process (API sync, bridge, durable sender) → the real Zabbix 6.0 → history.get, polled.
 * For every value of the watched items (each guest's CPU and vCPU busy) it records when history.get
 * first returned it, and prints p50/p99 of
 *   - pipeline lag: the interval's last sample (the newest value of a series in a batch) → history.get;
 *   - value lag: each value's own clock → history.get (values stand for the samples of their
 *     interval, spread over it, so this includes waiting for the interval to end).
 *
 *   node bench/dist/zabbix-lag.bench.js [--hosts 3] [--report 10] [--seconds 90]
 */
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ZabbixApi } from "@ringwatch/cma";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import type * as ZabbixSupport from "../test/dist/support/zabbix.js";

const { values: args } = parseArgs({ options: { hosts: { type: "string", default: "3" }, report: { type: "string", default: "10" }, seconds: { type: "string", default: "90" } } });
const HOSTS = Number(args.hosts);
const REPORT_MS = Number(args.report) * 1000;
const SECONDS = Number(args.seconds);
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CMA = `${REPO}cma/dist/src/cli.js`;
const NANOPROBE = `${REPO}nanoprobe/dist/src/cli.js`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// the tests' Zabbix helper (starts scripts/zabbix.sh when needed), loaded at run time like zabbix-sender.bench
const Support = (await import(new URL("../../test/dist/support/zabbix.js", import.meta.url).href)) as typeof ZabbixSupport;
const zbx = await Support.ensureZabbix();
const Z = { apiUrl: zbx.apiUrl, user: zbx.user, password: zbx.password, server: `${zbx.serverHost}:${zbx.serverPort}` };
const api = new ZabbixApi({ url: Z.apiUrl, user: Z.user, password: Z.password });

const sfx = Math.random().toString(16).slice(2, 8);
const dir = mkdtempSync(join(tmpdir(), "rw-zbx-bench-"));
const group = `rwbench ${sfx}`;
const tpl = { hv: `rwbench hv ${sfx}`, guests: `rwbench guests ${sfx}`, cma: `rwbench cma ${sfx}`, group: `Templates/rwbench ${sfx}` };
const port = 20000 + Math.floor(Math.random() * 20000);
const children: ChildProcess[] = [];
const fixtures = Array.from({ length: HOSTS }, () => writeFixture(30));
const common = { RINGWATCH_CLUSTER: `zb${sfx}`, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" };
const start = (script: string, env: Record<string, string>): ChildProcess => {
  const c = spawn(process.execPath, [script, "run"], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
  children.push(c);
  return c;
};

try {
  execFileSync(process.execPath, [CMA, "keygen", "--dir", join(dir, "keys")]);
  start(CMA, {
    ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
    RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma"), RINGWATCH_ZABBIX_API_URL: Z.apiUrl, RINGWATCH_ZABBIX_USER: Z.user,
    RINGWATCH_ZABBIX_PASSWORD: Z.password, RINGWATCH_ZABBIX_HOST_GROUP: group, RINGWATCH_ZABBIX_HYPERVISOR_TEMPLATE: tpl.hv,
    RINGWATCH_ZABBIX_GUEST_TEMPLATE: tpl.guests, RINGWATCH_ZABBIX_TEMPLATE_GROUP: tpl.group, RINGWATCH_ZABBIX_CONFIG_CACHE_DELAY_MS: "2500",
    RINGWATCH_ZABBIX_CMA_TEMPLATE: tpl.cma, RINGWATCH_ZABBIX_CMA_HOST: `rwbench-cma-${sfx}`,
    RINGWATCH_ZABBIX_SERVER: Z.server, RINGWATCH_SPOOL_DIR: join(dir, "spool"),
  });
  await sleep(1500);
  const hosts = fixtures.map((fx, i) => {
    const id = `rwbench-hv${i + 1}-${sfx}`;
    start(NANOPROBE, {
      ...common, RINGWATCH_IDENTITY: id, RINGWATCH_BIND_ADDRESS: `127.0.0.${i + 2}`, RINGWATCH_PORT: String(port), RINGWATCH_CMA: `127.0.0.1:${port}`,
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_LIBVIRT_URI: fx.uri, RINGWATCH_SAMPLE_MS: "1000",
      RINGWATCH_REPORT_INTERVAL_MS: String(REPORT_MS), RINGWATCH_DISCOVERY_DIR: "", RINGWATCH_ZABBIX_AGENT_CONFIG: "",
    });
    return id;
  });
  // wait for discovery: every guest's CPU item on every host
  let items: { itemid: string; key_: string }[] = [];
  const t0 = Date.now();
  for (;;) {
    const hostIds = await api.call<{ hostid: string }[]>("host.get", { output: ["hostid"], filter: { host: hosts } });
    if (hostIds.length === HOSTS) {
      items = await api.call("item.get", { output: ["itemid", "key_"], hostids: hostIds.map((h) => h.hostid), search: { key_: "ringwatch.vm." }, startSearch: true });
      const cpu = items.filter((i) => i.key_.startsWith("ringwatch.vm.cpu["));
      if (cpu.length === 30 * HOSTS && items.some((i) => i.key_.startsWith("ringwatch.vm.vcpu.time["))) break;
    }
    if (Date.now() - t0 > 180_000) throw new Error("discovery did not complete within 180 s");
    await sleep(1000);
  }
  const watched = items.filter((i) => i.key_.startsWith("ringwatch.vm.cpu[") || i.key_.startsWith("ringwatch.vm.vcpu.time["));
  console.log(`${HOSTS} hypervisors × 30 guests, report every ${REPORT_MS / 1000} s; discovery done in ${((Date.now() - t0) / 1000).toFixed(1)} s; watching ${watched.length} items for ${SECONDS} s`);
  await sleep(REPORT_MS); // skip the values held during discovery
  const seen = new Map<string, { at: number; item: string; clockMs: number }>();
  const from = Math.floor(Date.now() / 1000);
  const end = Date.now() + SECONDS * 1000;
  let polls = 0;
  while (Date.now() < end) {
    const rows = await api.call<{ itemid: string; clock: string; ns: string }[]>("history.get", { output: ["itemid", "clock", "ns"], history: 0, itemids: watched.map((i) => i.itemid), time_from: Math.max(from, Math.floor(Date.now() / 1000) - 3 * REPORT_MS / 1000) });
    const now = Date.now();
    polls++;
    for (const r of rows) {
      const k = `${r.itemid}/${r.clock}/${r.ns}`;
      if (!seen.has(k)) seen.set(k, { at: now, item: r.itemid, clockMs: Number(r.clock) * 1000 + Number(r.ns) / 1e6 });
    }
    await sleep(200);
  }
  // the first poll's rows were there before we looked: leave values older than the start out
  const vals = [...seen.values()].filter((v) => v.clockMs >= from * 1000 + REPORT_MS);
  const valueLag = vals.map((v) => v.at - v.clockMs);
  // pipeline: per item and batch, the newest value stands for the interval's last sample
  const newest = new Map<string, { at: number; clockMs: number }>();
  for (const v of vals) {
    const k = `${v.item}/${v.at}`;
    const cur = newest.get(k);
    if (!cur || v.clockMs > cur.clockMs) newest.set(k, v);
  }
  const pipeLag = [...newest.values()].map((v) => v.at - v.clockMs);
  const f = (ms: number) => (ms / 1000).toFixed(2);
  console.log(`polls: ${polls} (every ~200 ms + the call), values seen: ${vals.length}, batches: ${pipeLag.length}`);
  console.log("| lag to history.get | p50 s | p99 s | max s |");
  console.log("|---|---:|---:|---:|");
  console.log(`| interval's last sample → history.get (pipeline) | ${f(pct(pipeLag, 50))} | ${f(pct(pipeLag, 99))} | ${f(Math.max(...pipeLag))} |`);
  console.log(`| each value's clock → history.get | ${f(pct(valueLag, 50))} | ${f(pct(valueLag, 99))} | ${f(Math.max(...valueLag))} |`);
} finally {
  for (const c of children) c.kill("SIGTERM");
  await sleep(2000);
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const fx of fixtures) fx.cleanup();
  const g = await api.call<{ groupid: string }[]>("hostgroup.get", { output: ["groupid"], filter: { name: [group] } });
  const hs = g.length ? await api.call<{ hostid: string }[]>("host.get", { output: ["hostid"], groupids: g.map((x) => x.groupid) }) : [];
  if (hs.length) await api.call("host.delete", hs.map((h) => h.hostid));
  const ts = await api.call<{ templateid: string }[]>("template.get", { output: ["templateid"], filter: { host: [tpl.hv, tpl.guests, tpl.cma] } });
  if (ts.length) await api.call("template.delete", ts.map((t) => t.templateid));
  const g2 = await api.call<{ groupid: string }[]>("hostgroup.get", { output: ["groupid"], filter: { name: [group, tpl.group] } });
  if (g2.length) await api.call("hostgroup.delete", g2.map((x) => x.groupid));
  await api.close();
  rmSync(dir, { recursive: true, force: true });
}

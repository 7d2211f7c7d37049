/**
 * The real Zabbix 6.0 for system tests and benchmarks: scripts/zabbix.sh starts it (idempotent:
 * a running server is reused), and a minimal JSON-RPC helper creates what a test needs (trapper
 * hosts and items) and reads history back, through the CMA's own API client (ZabbixApi). Hosts are created in the group "ringwatch-tests"; tests delete their own hosts.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ZabbixApi } from "@ringwatch/cma";
import type { ApiParams } from "@ringwatch/cma";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const ZABBIX_SH = `${REPO}scripts/zabbix.sh`;
const run = promisify(execFile);

export interface ZabbixSettings {
  apiUrl: string;
  user: string;
  password: string;
  serverHost: string;
  serverPort: number;
}

/** Zabbix item value types (items.value_type) */
export const ValueType = { float: 0, char: 1, log: 2, unsigned: 3, text: 4 } as const;
export type ValueTypeCode = (typeof ValueType)[keyof typeof ValueType];

let settings: Promise<ZabbixSettings> | undefined;
let client: Promise<ZabbixApi> | undefined;

async function zabbixSh(...args: string[]): Promise<string> {
  const { stdout } = await run("bash", [ZABBIX_SH, ...args], { timeout: 300_000, maxBuffer: 16 << 20 });
  return stdout;
}

/** Start Zabbix if it is not running (about 1–45 s), then its connection settings. */
export function ensureZabbix(): Promise<ZabbixSettings> {
  settings ??= (async () => {
    await zabbixSh("start");
    const env = Object.fromEntries(
      [...(await zabbixSh("env")).matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    return {
      apiUrl: env.ZABBIX_API_URL!, user: env.ZABBIX_USER!, password: env.ZABBIX_PASSWORD!,
      serverHost: env.ZABBIX_SERVER_HOST!, serverPort: Number(env.ZABBIX_SERVER_PORT),
    };
  })();
  settings.catch(() => (settings = undefined));
  return settings;
}

/** Stop / start only zabbix_server (PostgreSQL and the frontend keep running): outage tests. */
export async function stopZabbixServer(): Promise<void> {
  await zabbixSh("stop-server");
}
export async function startZabbixServer(): Promise<void> {
  await zabbixSh("start-server");
}

/** One API call as Admin (the client logs in once per process). */
export async function api<T = unknown>(method: string, params: ApiParams): Promise<T> {
  client ??= ensureZabbix().then((z) => new ZabbixApi({ url: z.apiUrl, user: z.user, password: z.password, timeoutMs: 60_000 }));
  client.catch(() => (client = undefined));
  return (await client).call<T>(method, params);
}

/** A host name no other run uses: prefix-<8 hex>. */
export function uniqueHostName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

let groupId: Promise<string> | undefined;
function testGroupId(): Promise<string> {
  groupId ??= (async () => {
    const name = "ringwatch-tests";
    const found = await api<{ groupid: string }[]>("hostgroup.get", { filter: { name: [name] }, output: ["groupid"] });
    if (found[0]) return found[0].groupid;
    try {
      return (await api<{ groupids: string[] }>("hostgroup.create", { name })).groupids[0]!;
    } catch {
      // another process created it meanwhile
      return (await api<{ groupid: string }[]>("hostgroup.get", { filter: { name: [name] }, output: ["groupid"] }))[0]!.groupid;
    }
  })();
  groupId.catch(() => (groupId = undefined));
  return groupId;
}

export interface TrapperHost {
  host: string;
  hostid: string;
  /** item key → itemid */
  items: Map<string, string>;
}

/** A host with one trapper item per key (all of one value type). */
export async function createTrapperHost(host: string, keys: readonly string[], valueType: ValueTypeCode = ValueType.float): Promise<TrapperHost> {
  const groupid = await testGroupId();
  const { hostids } = await api<{ hostids: string[] }>("host.create", { host, groups: [{ groupid }] });
  const hostid = hostids[0]!;
  const items = new Map<string, string>();
  if (keys.length) await addTrapperItems({ host, hostid, items }, keys, valueType);
  return { host, hostid, items };
}

/** More trapper items on an existing host (in chunks: one API call per 1,000 items). */
export async function addTrapperItems(h: TrapperHost, keys: readonly string[], valueType: ValueTypeCode = ValueType.float): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = keys.slice(i, i + 1000);
    const { itemids } = await api<{ itemids: string[] }>(
      "item.create",
      chunk.map((key) => ({ hostid: h.hostid, name: key, key_: key, type: 2, value_type: valueType, history: "1d", trends: "0" })),
    );
    chunk.forEach((k, j) => h.items.set(k, itemids[j]!));
  }
}

/** Delete hosts by name (their items and history go with them); missing hosts are ignored. */
export async function deleteHosts(names: readonly string[]): Promise<void> {
  if (!names.length) return;
  const found = await api<{ hostid: string }[]>("host.get", { filter: { host: [...names] }, output: ["hostid"] });
  if (found.length) await api("host.delete", found.map((h) => h.hostid));
}

/** Delete every test host whose name starts with prefix (leftovers of an interrupted run). */
export async function deleteHostsByPrefix(prefix: string): Promise<void> {
  const found = await api<{ hostid: string; host: string }[]>("host.get", { search: { host: `${prefix}*` }, searchWildcardsEnabled: true, output: ["hostid", "host"] });
  const mine = found.filter((h) => h.host.startsWith(prefix));
  if (mine.length) await api("host.delete", mine.map((h) => h.hostid));
}

export interface HistoryRow {
  itemid: string;
  clock: number;
  ns: number;
  value: string;
}

/** Every stored value of these items (of one value type), oldest first. */
export async function historyGet(itemids: readonly string[], valueType: ValueTypeCode = ValueType.float): Promise<HistoryRow[]> {
  if (!itemids.length) return [];
  const rows = await api<{ itemid: string; clock: string; ns: string; value: string }[]>("history.get", {
    itemids: [...itemids], history: valueType, output: "extend", sortfield: "clock", sortorder: "ASC",
  });
  return rows
    .map((r) => ({ itemid: r.itemid, clock: Number(r.clock), ns: Number(r.ns), value: r.value }))
    .sort((a, b) => a.clock - b.clock || a.ns - b.ns);
}

/** Number of stored values of these items (cheap enough to poll), optionally with clock in [from, till]. */
export async function historyCount(itemids: readonly string[], valueType: ValueTypeCode = ValueType.float, range: { from?: number; till?: number } = {}): Promise<number> {
  if (!itemids.length) return 0;
  return Number(await api<string>("history.get", {
    itemids: [...itemids], history: valueType, countOutput: true, ...(range.from !== undefined ? { time_from: range.from } : {}), ...(range.till !== undefined ? { time_till: range.till } : {}),
  }));
}

/** Values stored with clock >= from (for polling what just arrived). */
export async function historySince(itemids: readonly string[], from: number, valueType: ValueTypeCode = ValueType.float): Promise<HistoryRow[]> {
  const rows = await api<{ itemid: string; clock: string; ns: string; value: string }[]>("history.get", {
    itemids: [...itemids], history: valueType, output: "extend", time_from: from,
  });
  return rows.map((r) => ({ itemid: r.itemid, clock: Number(r.clock), ns: Number(r.ns), value: r.value }));
}

/** Force the server's configuration cache sync now, instead of waiting for CacheUpdateFrequency. */
export async function reloadZabbixConfig(): Promise<void> {
  await zabbixSh("reload");
}

/**
 * The Zabbix names a test run gives the CMA (host group, template group, its three templates, the
 * CMA's own host), unique to the run: two test files never share a template, and deleting a run's
 * template group never meets a template another run put in it.
 */
export interface TestZabbixNames {
  group: string;
  tgroup: string;
  hv: string;
  guests: string;
  cma: string;
  cmaHost: string;
}

export function testZabbixNames(stem: string, sfx: string): TestZabbixNames {
  return {
    group: `rwtest ${stem} ${sfx}`, tgroup: `Templates/rwtest ${stem} ${sfx}`, hv: `rwtest ${stem} hv ${sfx}`, guests: `rwtest ${stem} guests ${sfx}`,
    cma: `rwtest ${stem} cma ${sfx}`, cmaHost: `rw${stem}-cma-${sfx}`,
  };
}

/**
 * The CMA's Zabbix environment in a system test: the shared server's API and trapper, these names,
 * and short delays (the test server syncs its configuration cache every second).
 */
export function cmaZabbixEnv(zbx: ZabbixSettings, n: TestZabbixNames, spoolDir: string): Record<string, string> {
  return {
    RINGWATCH_ZABBIX_API_URL: zbx.apiUrl, RINGWATCH_ZABBIX_USER: zbx.user, RINGWATCH_ZABBIX_PASSWORD: zbx.password,
    RINGWATCH_ZABBIX_HOST_GROUP: n.group, RINGWATCH_ZABBIX_TEMPLATE_GROUP: n.tgroup, RINGWATCH_ZABBIX_HYPERVISOR_TEMPLATE: n.hv,
    RINGWATCH_ZABBIX_GUEST_TEMPLATE: n.guests, RINGWATCH_ZABBIX_CMA_TEMPLATE: n.cma, RINGWATCH_ZABBIX_CMA_HOST: n.cmaHost,
    RINGWATCH_ZABBIX_SYNC_DEBOUNCE_MS: "200", RINGWATCH_ZABBIX_CONFIG_CACHE_DELAY_MS: "2500",
    RINGWATCH_ZABBIX_SERVER: `${zbx.serverHost}:${zbx.serverPort}`, RINGWATCH_SPOOL_DIR: spoolDir, RINGWATCH_SENDER_BATCH_MS: "200",
  };
}

/** Delete what a run made under these names: the hosts of its group (the CMA's included), its templates, then its groups. */
export async function deleteTestZabbixObjects(n: TestZabbixNames): Promise<void> {
  const groups = await api<{ groupid: string }[]>("hostgroup.get", { output: ["groupid"], filter: { name: [n.group] } });
  const hosts = groups.length ? await api<{ hostid: string }[]>("host.get", { output: ["hostid"], groupids: groups.map((g) => g.groupid) }) : [];
  if (hosts.length) await api("host.delete", hosts.map((h) => h.hostid));
  const tpls = await api<{ templateid: string }[]>("template.get", { output: ["templateid"], filter: { host: [n.hv, n.guests, n.cma] } });
  if (tpls.length) await api("template.delete", tpls.map((t) => t.templateid));
  const g2 = await api<{ groupid: string }[]>("hostgroup.get", { output: ["groupid"], filter: { name: [n.group, n.tgroup] } });
  if (g2.length) await api("hostgroup.delete", g2.map((g) => g.groupid));
}

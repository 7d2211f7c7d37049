/**
 * The real Zabbix 6.0 server the Zabbix tests run against: started by scripts/zabbix.sh when its
 * API does not answer (a clean CI machine), reused when it does. Tests name everything they
 * create with a random suffix and delete it afterwards (the server may be shared).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ZabbixApi } from "../../src/zabbix/config/api-client.js";
import type { ZabbixNames } from "../../src/zabbix/config/definitions.js";

// compiled to cma/dist/test/zabbix/: the repository is four levels up
const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
export const ZABBIX_SH = `${REPO}scripts/zabbix.sh`;
export const API_URL = process.env.ZABBIX_API_URL ?? "http://127.0.0.1:8088/api_jsonrpc.php";
export const ADMIN = { user: process.env.ZABBIX_USER ?? "Admin", password: process.env.ZABBIX_PASSWORD ?? "zabbix" };
export const TRAPPER = { host: process.env.ZABBIX_SERVER_HOST ?? "127.0.0.1", port: Number(process.env.ZABBIX_SERVER_PORT ?? 10051) };

const run = promisify(execFile);

async function apiAnswers(): Promise<boolean> {
  try {
    await new ZabbixApi({ url: API_URL, ...ADMIN, timeoutMs: 3000 }).version();
    return true;
  } catch {
    return false;
  }
}

/** Make sure the server runs (start takes ~15 s with packages present, ~45 s on a fresh machine). */
export async function ensureZabbix(): Promise<void> {
  if (await apiAnswers()) return;
  await run("bash", [ZABBIX_SH, "start"], { timeout: 600_000 });
  if (!(await apiAnswers())) throw new Error(`Zabbix API at ${API_URL} does not answer after ${ZABBIX_SH} start`);
}

export function adminApi(): ZabbixApi {
  return new ZabbixApi({ url: API_URL, ...ADMIN });
}

export function suffix(): string {
  return randomBytes(4).toString("hex");
}

/** Unique template and group names for one test run. */
export function testNames(sfx: string): ZabbixNames {
  return { hypervisorTemplate: `rwtest hv ${sfx}`, guestTemplate: `rwtest guests ${sfx}`, templateGroup: `Templates/rwtest ${sfx}`, cmaTemplate: `rwtest cma ${sfx}`, cmaHost: `rwtest-cma-${sfx}`, hostGroup: `rwtest hosts ${sfx}` };
}

/** Delete what a test run made: hosts first (they link the templates), then templates, then groups. */
export async function cleanup(api: ZabbixApi, what: { hostGroups?: string[]; hosts?: string[]; templates?: string[]; groups?: string[] }): Promise<void> {
  const ids = async (method: string, field: string, idField: string, names: string[]): Promise<string[]> => {
    if (names.length === 0) return [];
    const r = await api.call<Record<string, string>[]>(method, { output: [idField], filter: { [field]: names } });
    return r.map((x) => x[idField]);
  };
  const groupIds = await ids("hostgroup.get", "name", "groupid", what.hostGroups ?? []);
  const inGroups = groupIds.length ? (await api.call<{ hostid: string }[]>("host.get", { output: ["hostid"], groupids: groupIds })).map((h) => h.hostid) : [];
  const hostIds = [...new Set([...inGroups, ...(await ids("host.get", "host", "hostid", what.hosts ?? []))])];
  if (hostIds.length) await api.call("host.delete", hostIds);
  const tplIds = await ids("template.get", "host", "templateid", what.templates ?? []);
  if (tplIds.length) await api.call("template.delete", tplIds);
  const [major, minor] = await api.versionNumber();
  const tg = major > 6 || (major === 6 && minor >= 2);
  const allGroups = [...(what.hostGroups ?? []), ...(tg ? [] : what.groups ?? [])];
  const gIds = await ids("hostgroup.get", "name", "groupid", allGroups);
  if (gIds.length) await api.call("hostgroup.delete", gIds);
  if (tg && what.groups?.length) {
    const t = await ids("templategroup.get", "name", "groupid", what.groups);
    if (t.length) await api.call("templategroup.delete", t);
  }
}

/** Poll until check() returns a value (not undefined), for Zabbix's asynchronous parts (LLD, cache, triggers). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string, pollMs = 500): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

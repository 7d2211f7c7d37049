/**
 * Where the real Zabbix 6.0 of the end-to-end tests is (scripts/zabbix.sh's defaults, overridable
 * by its `env` variables), and starting it only when its API does not answer: a server someone
 * else stopped on purpose (an outage test) is waited for, not restarted under them.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ZabbixApi } from "@ringwatch/cma";
import { REPO } from "./processes.js";

const run = promisify(execFile);

export interface ZabbixEnv {
  apiUrl: string;
  user: string;
  password: string;
  serverHost: string;
  serverPort: number;
}

export function zabbixEnv(): ZabbixEnv {
  return {
    apiUrl: process.env.ZABBIX_API_URL ?? "http://127.0.0.1:8088/api_jsonrpc.php",
    user: process.env.ZABBIX_USER ?? "Admin",
    password: process.env.ZABBIX_PASSWORD ?? "zabbix",
    serverHost: process.env.ZABBIX_SERVER_HOST ?? "127.0.0.1",
    serverPort: Number(process.env.ZABBIX_SERVER_PORT ?? 10051),
  };
}

export async function ensureZabbixServer(): Promise<void> {
  const e = zabbixEnv();
  const answers = async () => new ZabbixApi({ url: e.apiUrl, user: e.user, password: e.password, timeoutMs: 3000 }).version().then(() => true, () => false);
  if (await answers()) return;
  await run("bash", [`${REPO}scripts/zabbix.sh`, "start"], { timeout: 600_000 });
  if (!(await answers())) throw new Error(`Zabbix API at ${e.apiUrl} does not answer after scripts/zabbix.sh start`);
}

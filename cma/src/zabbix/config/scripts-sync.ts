/**
 * Zabbix drives ringwatch's actions (issue 14, item 5): global scripts of type Webhook, run as
 * manual event actions on a guest's problem ("ringwatch: soft reboot VM", "hard reset VM",
 * "start VM"), each calling the CMA's POST /api/domains/:uuid/actions with an operator API token —
 * so a Zabbix user's click goes through the same checks and the same audit log as the console's
 * (the reason names the Zabbix user and event). The guest comes from the problem's `vm_uuid` tag
 * (the guest trigger prototypes carry it). Created or brought up to date with the templates; a
 * token that no longer verifies is replaced (scripts-token.ts).
 *
 * Not here: scripts scoped as action operations, and the action with seed 001's escalation steps.
 */
import type { ZabbixApi } from "./api-client.js";

/** Zabbix script types and scopes (script.create) */
const WEBHOOK = "5";
const MANUAL_EVENT_ACTION = "4";

export interface ScriptsOptions {
  /** the CMA's HTTP API as the Zabbix server reaches it */
  cmaUrl: string;
  /** an operator API token, valid now */
  token(): string;
  /** script names start with this (the owner tag's value: "ringwatch") */
  prefix: string;
}

export interface ScriptDef {
  name: string;
  action: "reboot" | "reset" | "start";
  confirmation: string;
}

export const SCRIPT_DEFS: readonly ScriptDef[] = [
  { name: "soft reboot VM", action: "reboot", confirmation: "Ask guest {EVENT.TAGS.vm} to reboot (ACPI)?" },
  { name: "hard reset VM", action: "reset", confirmation: "Reset guest {EVENT.TAGS.vm} (the reset button: unsaved work in it is lost)?" },
  { name: "start VM", action: "start", confirmation: "Start guest {EVENT.TAGS.vm}?" },
];

/** The webhook's code (Zabbix runs it in its Duktape engine): one POST, the CMA's answer or its error. */
export const WEBHOOK_JS = [
  "var p = JSON.parse(value);",
  "if (!/^[0-9a-fA-F-]{36}$/.test(p.uuid)) throw 'ringwatch: this problem names no guest (tag vm_uuid missing): ' + p.uuid;",
  "var req = new HttpRequest();",
  "req.addHeader('Content-Type: application/json');",
  "req.addHeader('Authorization: Bearer ' + p.token);",
  "var body = JSON.stringify({ action: p.action, reason: 'Zabbix user ' + p.user + ', event ' + p.event });",
  "var resp = req.post(p.url.replace(/\\/+$/, '') + '/api/domains/' + p.uuid + '/actions', body);",
  "if (req.getStatus() !== 200) throw 'ringwatch refused (HTTP ' + req.getStatus() + '): ' + resp;",
  "var r = JSON.parse(resp);",
  "return r.name + ' on ' + r.host + ': ' + p.action + ' done, now ' + r.state;",
].join("\n");

interface ZScript {
  scriptid: string;
  name: string;
  command: string;
  confirmation: string;
  parameters: { name: string; value: string }[];
}

function wanted(o: ScriptsOptions, d: ScriptDef, token: string): Record<string, unknown> {
  return {
    name: `${o.prefix}: ${d.name}`, type: WEBHOOK, scope: MANUAL_EVENT_ACTION, command: WEBHOOK_JS, timeout: "30s", menu_path: o.prefix,
    confirmation: d.confirmation, description: `ringwatch: ${d.action} the problem's guest through the CMA (${o.cmaUrl}), audited there as this script's API token with the Zabbix user's name.`,
    parameters: [
      { name: "url", value: o.cmaUrl }, { name: "token", value: token }, { name: "action", value: d.action },
      { name: "uuid", value: "{EVENT.TAGS.vm_uuid}" }, { name: "event", value: "{EVENT.ID}" }, { name: "user", value: "{USER.USERNAME}" },
    ],
  };
}

const sameParams = (a: { name: string; value: string }[], b: { name: string; value: string }[]): boolean =>
  JSON.stringify([...a].sort((x, y) => x.name.localeCompare(y.name))) === JSON.stringify([...b].sort((x, y) => x.name.localeCompare(y.name)));

/** Creates or updates the scripts; answers their ids by action. */
export async function syncScripts(api: ZabbixApi, o: ScriptsOptions, changes: string[]): Promise<Map<string, string>> {
  const token = o.token();
  const names = SCRIPT_DEFS.map((d) => `${o.prefix}: ${d.name}`);
  const have = await api.call<ZScript[]>("script.get", { output: ["scriptid", "name", "command", "confirmation", "parameters"], filter: { name: names } } as Record<string, unknown>);
  const ids = new Map<string, string>();
  for (const d of SCRIPT_DEFS) {
    const w = wanted(o, d, token);
    const cur = have.find((s) => s.name === w.name);
    if (!cur) {
      const r = await api.call<{ scriptids: string[] }>("script.create", w);
      ids.set(d.action, r.scriptids[0]);
      changes.push(`script ${w.name as string} created`);
    } else {
      ids.set(d.action, cur.scriptid);
      if (cur.command !== WEBHOOK_JS || cur.confirmation !== d.confirmation || !sameParams(cur.parameters ?? [], w.parameters as { name: string; value: string }[])) {
        await api.call("script.update", { scriptid: cur.scriptid, ...w });
        changes.push(`script ${w.name as string} updated`);
      }
    }
  }
  return ids;
}

/**
 * Zabbix drives ringwatch's actions (issue 14, item 5): global scripts of type Webhook, run as
 * manual event actions on a guest's problem ("ringwatch: soft reboot VM", "hard reset VM",
 * "start VM"), each calling the CMA's POST /api/domains/:uuid/actions with an operator API token —
 * so a Zabbix user's click goes through the same checks and the same audit log as the console's
 * (the reason names the Zabbix user and event). The guest comes from the problem's `vm_uuid` tag
 * (the guest trigger prototypes carry it). Created or brought up to date with the templates; a
 * token that no longer verifies is replaced (service-token.ts). A Zabbix script has one scope, so
 * the two an escalation runs by itself (soft reboot, hard reset) exist once more scoped as action
 * operations, for actions of the operator's own and for the one action-sync.ts can create.
 */
import type { ZabbixApi } from "./api-client.js";

/** Zabbix script types and scopes (script.create) */
const WEBHOOK = "5";
const MANUAL_EVENT_ACTION = "4";
const ACTION_OPERATION = "1";

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
  /** a person's click on a problem (asks first), or a step of an action's escalation */
  scope: "event" | "operation";
  /** asked before a person's click runs it (manual scope only: Zabbix refuses it on operations) */
  confirmation: string;
}

export const SCRIPT_DEFS: readonly ScriptDef[] = [
  { name: "soft reboot VM", action: "reboot", scope: "event", confirmation: "Ask guest {EVENT.TAGS.vm} to reboot (ACPI)?" },
  { name: "hard reset VM", action: "reset", scope: "event", confirmation: "Reset guest {EVENT.TAGS.vm} (the reset button: unsaved work in it is lost)?" },
  { name: "start VM", action: "start", scope: "event", confirmation: "Start guest {EVENT.TAGS.vm}?" },
  { name: "soft reboot VM (escalation step)", action: "reboot", scope: "operation", confirmation: "" },
  { name: "hard reset VM (escalation step)", action: "reset", scope: "operation", confirmation: "" },
];

/** The key of a script's id in the map syncScripts answers: "reset", or "reset:operation". */
export const scriptKey = (d: Pick<ScriptDef, "action" | "scope">): string => (d.scope === "event" ? d.action : `${d.action}:operation`);

/** The webhook's code (Zabbix runs it in its Duktape engine): one POST, the CMA's answer or its error. */
export const WEBHOOK_JS = [
  "var p = JSON.parse(value);",
  "if (!/^[0-9a-fA-F-]{36}$/.test(p.uuid)) throw 'ringwatch: this problem names no guest (tag vm_uuid missing): ' + p.uuid;",
  "var req = new HttpRequest();",
  "req.addHeader('Content-Type: application/json');",
  "req.addHeader('Authorization: Bearer ' + p.token);",
  "var body = JSON.stringify({ action: p.action, reason: 'Zabbix ' + p.by + ', event ' + p.event });",
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
  const manual = d.scope === "event";
  return {
    name: `${o.prefix}: ${d.name}`, type: WEBHOOK, scope: manual ? MANUAL_EVENT_ACTION : ACTION_OPERATION, command: WEBHOOK_JS, timeout: "30s",
    ...(manual ? { menu_path: o.prefix, confirmation: d.confirmation } : {}),
    description: manual
      ? `ringwatch: ${d.action} the problem's guest through the CMA (${o.cmaUrl}), audited there as this script's API token with the Zabbix user's name.`
      : `ringwatch: ${d.action} the problem's guest through the CMA (${o.cmaUrl}) as a step of an action's escalation, audited there as this script's API token with the action's name.`,
    parameters: [
      { name: "url", value: o.cmaUrl }, { name: "token", value: token }, { name: "action", value: d.action },
      { name: "uuid", value: "{EVENT.TAGS.vm_uuid}" }, { name: "event", value: "{EVENT.ID}" }, { name: "by", value: manual ? "user {USER.USERNAME}" : "action {ACTION.NAME}" },
    ],
  };
}

const sameParams = (a: { name: string; value: string }[], b: { name: string; value: string }[]): boolean =>
  JSON.stringify([...a].sort((x, y) => x.name.localeCompare(y.name))) === JSON.stringify([...b].sort((x, y) => x.name.localeCompare(y.name)));

/** Creates or updates the scripts; answers their ids by scriptKey. */
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
      ids.set(scriptKey(d), r.scriptids[0]);
      changes.push(`script ${w.name as string} created`);
    } else {
      ids.set(scriptKey(d), cur.scriptid);
      if (cur.command !== WEBHOOK_JS || (cur.confirmation ?? "") !== d.confirmation || !sameParams(cur.parameters ?? [], w.parameters as { name: string; value: string }[])) {
        await api.call("script.update", { scriptid: cur.scriptid, ...w });
        changes.push(`script ${w.name as string} updated`);
      }
    }
  }
  return ids;
}

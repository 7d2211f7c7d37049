/**
 * The optional Zabbix action that runs seed 001's escalation inside Zabbix (zabbixCreateActions):
 * on a guest's "is unhealthy" problem, step 1 notifies a user group, step 2 runs the "soft reboot
 * VM (escalation step)" script, step 3 the "hard reset VM (escalation step)" script, step 4 sends
 * an ESCALATED message to a second group. Steps 2–4 run only while nobody acknowledged the problem
 * (a person who took it over stops the machine); a problem in maintenance (suppressed) pauses the
 * escalation and a suppressed one never starts it; the problem's recovery ends it and tells
 * everyone who was notified. The scripts call the CMA's API, so every step still passes its
 * roles, its guards (a dead hypervisor, a suspected switch, maintenance, rate limits) and its
 * audit log. Created or brought back to this definition with the templates (hand edits to it are
 * undone: an action of the operator's own should carry another name).
 */
import type { ZabbixApi } from "./api-client.js";
import { scriptKey } from "./scripts-sync.js";

/** action.create constants (Zabbix 6.0 API) */
const TRIGGER_EVENTS = "0";
const AND = "1";
const COND_TAG = "25";
const COND_TAG_VALUE = "26";
const COND_SUPPRESSED = "16";
const OP_EQUALS = "0";
const OP_NO = "11";
const OP_MESSAGE = "0";
const OP_SCRIPT = "1";
const OP_NOTIFY_ALL_INVOLVED = "11";
const OPCOND_ACKNOWLEDGED = "14";
const NOT_ACKNOWLEDGED = "0";

/** Shortest and longest step Zabbix accepts (esc_period: at least 60 s); a week bounds a typo. */
const MIN_WAIT_S = 60;
const MAX_WAIT_S = 7 * 24 * 3600;
const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

export interface ActionOptions {
  /** the action's name */
  name: string;
  /** seconds after notify, after the soft reboot and after the hard reset before the next step */
  waits: [number, number, number];
  /** user group notified at step 1 (and of the recovery) */
  notifyGroup: string;
  /** user group paged at step 4 */
  escalateGroup: string;
}

/**
 * "2m,3m,5m" → [120, 180, 300]: the three waits in Zabbix's time units (s, m, h, d, w; a bare
 * number is seconds). Throws an Error naming what is wrong.
 */
export function parseActionWaits(text: string): [number, number, number] {
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length !== 3) throw new Error(`expected three waits (after notify, after the soft reboot, after the hard reset) such as "2m,3m,5m", got ${JSON.stringify(text)}`);
  return parts.map((p) => {
    const m = /^(\d{1,7})([smhdw]?)$/.exec(p);
    if (!m) throw new Error(`${JSON.stringify(p)} is not a duration (a number with s, m, h, d or w)`);
    const s = Number(m[1]) * UNIT_S[m[2] || "s"];
    if (s < MIN_WAIT_S || s > MAX_WAIT_S) throw new Error(`${JSON.stringify(p)}: each wait must be between 60 s (Zabbix's shortest escalation step) and 1 week`);
    return s;
  }) as [number, number, number];
}

interface ZAction {
  actionid: string;
  name: string;
  esc_period: string;
  status: string;
  pause_suppressed: string;
  filter: { evaltype: string; conditions: { conditiontype: string; operator: string; value: string; value2: string }[] };
  operations: ZOperation[];
  recovery_operations: { operationtype: string }[];
}

interface ZOperation {
  operationtype: string;
  esc_period: string;
  esc_step_from: string;
  esc_step_to: string;
  evaltype?: string;
  opmessage?: { default_msg: string; subject: string; message: string; mediatypeid: string };
  opmessage_grp?: { usrgrpid: string }[];
  opcommand?: { scriptid: string };
  opcommand_hst?: { hostid: string }[];
  opconditions?: { conditiontype: string; operator: string; value: string }[];
}

const notAcknowledged = [{ conditiontype: OPCOND_ACKNOWLEDGED, operator: OP_EQUALS, value: NOT_ACKNOWLEDGED }];

/** The action as action.create takes it. */
function wanted(o: ActionOptions, scripts: { reboot: string; reset: string }, groups: { notify: string; escalate: string }): Record<string, unknown> {
  const [afterNotify, afterReboot, afterReset] = o.waits;
  return {
    name: o.name, eventsource: TRIGGER_EVENTS, status: "0", esc_period: `${afterNotify}s`, pause_suppressed: "1", notify_if_canceled: "1",
    filter: {
      evaltype: AND,
      conditions: [
        // ringwatch's guest triggers carry the guest's UUID; "scope: availability" among them is the unhealthy one
        { conditiontype: COND_TAG, operator: OP_EQUALS, value: "vm_uuid" },
        { conditiontype: COND_TAG_VALUE, operator: OP_EQUALS, value: "availability", value2: "scope" },
        { conditiontype: COND_SUPPRESSED, operator: OP_NO },
      ],
    },
    operations: [
      { operationtype: OP_MESSAGE, esc_step_from: "1", esc_step_to: "1", esc_period: `${afterNotify}s`, opmessage: { default_msg: "1", mediatypeid: "0" }, opmessage_grp: [{ usrgrpid: groups.notify }] },
      { operationtype: OP_SCRIPT, esc_step_from: "2", esc_step_to: "2", esc_period: `${afterReboot}s`, evaltype: "0", opcommand: { scriptid: scripts.reboot }, opcommand_hst: [{ hostid: "0" }], opconditions: notAcknowledged },
      { operationtype: OP_SCRIPT, esc_step_from: "3", esc_step_to: "3", esc_period: `${afterReset}s`, evaltype: "0", opcommand: { scriptid: scripts.reset }, opcommand_hst: [{ hostid: "0" }], opconditions: notAcknowledged },
      {
        operationtype: OP_MESSAGE, esc_step_from: "4", esc_step_to: "4", esc_period: "0s", evaltype: "0", opconditions: notAcknowledged, opmessage_grp: [{ usrgrpid: groups.escalate }],
        opmessage: { default_msg: "0", mediatypeid: "0", subject: "ESCALATED: {EVENT.NAME}", message: "ringwatch's escalation through Zabbix asked {EVENT.TAGS.vm} to reboot and then reset it, and the problem stands since {EVENT.DATE} {EVENT.TIME}: a person is needed.\nHost: {HOST.NAME}\nEvent: {EVENT.ID}" },
      },
    ],
    recovery_operations: [{ operationtype: OP_NOTIFY_ALL_INVOLVED, opmessage: { default_msg: "1" } }],
  };
}

/** What decides whether the action in Zabbix is the wanted one (ids of operations aside). */
function shape(a: Pick<ZAction, "esc_period" | "status" | "pause_suppressed" | "filter" | "operations" | "recovery_operations">): string {
  const seconds = (p: string): string => (/^\d+$/.test(p) ? `${p}s` : p);
  return JSON.stringify({
    esc: seconds(a.esc_period), status: a.status, pause: a.pause_suppressed,
    cond: [a.filter.evaltype, ...a.filter.conditions.map((c) => `${c.conditiontype}/${c.operator}/${c.value ?? ""}/${c.value2 ?? ""}`).sort()],
    ops: a.operations.map((op) => [op.operationtype, op.esc_step_from, op.esc_step_to, seconds(op.esc_period), op.opcommand?.scriptid ?? "", (op.opmessage_grp ?? []).map((g) => g.usrgrpid).join(","), op.opmessage?.default_msg ?? "", op.opmessage?.subject ?? "",
      (op.opconditions ?? []).map((c) => `${c.conditiontype}/${c.operator}/${c.value}`).join(",")]).sort((x, y) => Number(x[1]) - Number(y[1])),
    rec: a.recovery_operations.map((r) => r.operationtype),
  });
}

async function groupId(api: ZabbixApi, name: string): Promise<string> {
  const g = await api.call<{ usrgrpid: string }[]>("usergroup.get", { output: ["usrgrpid"], filter: { name } });
  if (!g[0]) throw new Error(`Zabbix has no user group ${JSON.stringify(name)} (zabbixActionNotifyGroup / zabbixActionEscalateGroup)`);
  return g[0].usrgrpid;
}

/** Creates the action, or brings it back to its definition; answers its id. */
export async function syncAction(api: ZabbixApi, o: ActionOptions, scriptIds: Map<string, string>, changes: string[]): Promise<string> {
  const reboot = scriptIds.get(scriptKey({ action: "reboot", scope: "operation" }));
  const reset = scriptIds.get(scriptKey({ action: "reset", scope: "operation" }));
  if (!reboot || !reset) throw new Error("the escalation-step scripts are missing: the action needs zabbixScriptsCmaUrl");
  const w = wanted(o, { reboot, reset }, { notify: await groupId(api, o.notifyGroup), escalate: await groupId(api, o.escalateGroup) });
  const have = await api.call<ZAction[]>("action.get", {
    output: ["actionid", "name", "esc_period", "status", "pause_suppressed"], filter: { name: o.name, eventsource: TRIGGER_EVENTS },
    selectFilter: "extend", selectOperations: "extend", selectRecoveryOperations: "extend",
  });
  const cur = have[0];
  if (!cur) {
    const r = await api.call<{ actionids: string[] }>("action.create", w);
    changes.push(`action ${o.name} created`);
    return r.actionids[0];
  }
  if (shape(cur) !== shape(w as unknown as ZAction)) {
    const { eventsource: _constant, ...update } = w;
    await api.call("action.update", { actionid: cur.actionid, ...update });
    changes.push(`action ${o.name} updated`);
  }
  return cur.actionid;
}

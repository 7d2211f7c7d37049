/**
 * Zabbix drives ringwatch's actions, against the real Zabbix 6.0: a real CMA process whose config
 * sync creates the global webhook scripts (zabbixScriptsCmaUrl), a nanoprobe on libvirt's test
 * driver whose check of one guest's service fails (nothing listens there) → guestUnhealthy → a
 * Zabbix problem on the guest's trigger, tagged with its UUID. Running "ringwatch: hard reset VM"
 * on that problem through script.execute makes the Zabbix server call the CMA's API with the
 * scripts' operator token: the guest is reset on its hypervisor, and the CMA's audit log names the
 * token and the Zabbix event. With a viewer's token in the script, the CMA refuses (403) and audits it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, loadCommandPublicKey, silentLogger } from "@ringwatch/shared";
import { unusedTcpPort } from "@ringwatch/shared/testing";
import { ZabbixApi } from "@ringwatch/cma";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import type { Fixture } from "@ringwatch/libvirt/test-driver-fixture";
import { offlineToken } from "./support/access.js";
import { CMA_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";
import { cmaZabbixEnv, deleteTestZabbixObjects, ensureZabbix, testZabbixNames } from "./support/zabbix.js";
import { testHostKeys } from "./support/host-keys.js";

const SCRIPT_NAMES = ["ringwatch: soft reboot VM", "ringwatch: hard reset VM", "ringwatch: start VM", "ringwatch: soft reboot VM (escalation step)", "ringwatch: hard reset VM (escalation step)"];
const ACTION_NAME = "ringwatch: guest recovery (seed 001)";

describe("system: Zabbix scripts act on a guest through the CMA (real Zabbix 6.0)", function () {
  this.timeout(300_000);
  const sfx = Math.random().toString(16).slice(2, 10);
  const dir = mkdtempSync(join(tmpdir(), "rw-zbx-scripts-"));
  const names = testZabbixNames("scr", sfx);
  const HV = `rwscr-${sfx}`;
  const port = 20000 + Math.floor(Math.random() * 20000);
  let api: ZabbixApi, cma: RunningProcess, np: Nanoprobe | undefined, fx: Fixture, url = "";
  let admin: { authorization: string };
  let guest: { uuid: string; name: string };
  let problemId = "";
  // the fixture's guests have the same UUIDs in every run: events of earlier runs are not this run's
  const startedAt = Math.floor(Date.now() / 1000);

  const until = <T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> => cma.until(check, timeoutMs, what, 300);
  const scripts = () => api.call<{ scriptid: string; name: string; scope: string; parameters: { name: string; value: string }[] }[]>("script.get", { output: ["scriptid", "name", "scope", "parameters"], filter: { name: SCRIPT_NAMES } });
  const actions = () => api.call<{ actionid: string; esc_period: string; operations: { operationtype: string; esc_step_from: string; esc_period: string; opcommand?: { scriptid: string }; opconditions: unknown[] }[] }[]>("action.get", {
    output: ["actionid", "esc_period"], filter: { name: ACTION_NAME }, selectOperations: "extend",
  });
  const cleanZabbix = async () => {
    // scripts and the action are global: any left by an interrupted earlier run go first (the action before the scripts it runs)
    const a = await actions();
    if (a.length) await api.call("action.delete", a.map((x) => x.actionid));
    const old = await scripts();
    if (old.length) await api.call("script.delete", old.map((x) => x.scriptid));
  };

  before(async () => {
    const zbx = await ensureZabbix();
    api = new ZabbixApi({ url: zbx.apiUrl, user: zbx.user, password: zbx.password });
    await cleanZabbix();
    const kg = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(kg.code, 0, kg.stderr);
    admin = (await offlineToken(join(dir, "cma-state"), "admin")).auth;
    const policyFile = join(dir, "policy.json");
    writeFileSync(policyFile, JSON.stringify({ mode: "dry-run", default: ["notify", { wait: "1s" }, "reboot", { wait: "1s" }, "reset", { wait: "1s" }, "escalate"] }));
    const httpPort = await unusedTcpPort();
    url = `http://127.0.0.1:${httpPort}`;
    cma = startProcess("cma", CMA_CLI, ["run"], {
      RINGWATCH_CLUSTER: `scr${sfx}`, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0",
      RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
      RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none", RINGWATCH_ZABBIX_SCRIPTS_CMA_URL: url,
      // Zabbix's own escalation, its later steps an hour away (the benchmark runs them all); ringwatch's ladder beside it in dry-run, waits in seconds
      RINGWATCH_ZABBIX_CREATE_ACTIONS: "true", RINGWATCH_ZABBIX_ACTION_WAITS: "1h,1h,1h", RINGWATCH_ACTION_POLICY_FILE: policyFile, RINGWATCH_LADDER_TICK_MS: "200",
      ...cmaZabbixEnv(zbx, names, join(dir, "spool")),
    });
    await cma.waitFor((l) => l.msg === "CMA started", 30_000, "CMA started");
    fx = writeFixture(3);
    guest = fx.domains.find((d) => d.state === "running")!;
    const checks = join(dir, "checks.json");
    writeFileSync(checks, JSON.stringify({ defaults: { intervalMs: 500, timeoutMs: 300, failures: 2 }, checks: [{ guest: guest.uuid, tcp: `127.0.0.1:${await unusedTcpPort()}` }] }));
    np = await Nanoprobe.start(nanoprobeConfig({
      identity: HV, cluster: `scr${sfx}`, cma: `127.0.0.1:${port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 300, libvirtUri: fx.uri,
      statusIntervalMs: 0, discoveryDir: "", zabbixAgentConfig: "", reportIntervalMs: 2000, guestChecksFile: checks,
    }), { keyring: Keyring.fromFile(`scr${sfx}`, join(dir, "keys/cluster.key")), cmaPublicKey: loadCommandPublicKey(join(dir, "keys/cma-command.pub")), log: silentLogger(), hostKeys: testHostKeys(HV) });
  });

  after(async () => {
    await np?.stop(false);
    await cma?.stop();
    fx?.cleanup();
    await cleanZabbix().catch(() => undefined);
    await deleteTestZabbixObjects(names);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the sync creates the webhook scripts; 'hard reset VM' on the guest's problem resets it through the CMA, audited as the scripts' token with the Zabbix event", async () => {
    const made = await until(async () => ((await scripts()).length === SCRIPT_NAMES.length ? scripts() : undefined), 60_000, "the five scripts");
    const param = (n: string, k: string) => made.find((s) => s.name === n)!.parameters.find((x) => x.name === k)?.value;
    // three for a person's click on a problem, two as steps of an action's escalation (Zabbix lets a script have one scope)
    assert.deepEqual(SCRIPT_NAMES.map((n) => made.find((s) => s.name === n)?.scope), ["4", "4", "4", "1", "1"]);
    assert.deepEqual([param(SCRIPT_NAMES[1], "by"), param(SCRIPT_NAMES[4], "by"), param(SCRIPT_NAMES[4], "action")], ["user {USER.USERNAME}", "action {ACTION.NAME}", "reset"]);
    const reset = made.find((s) => s.name === "ringwatch: hard reset VM")!;
    const p = Object.fromEntries(reset.parameters.map((x) => [x.name, x.value]));
    assert.deepEqual([p.url, p.action, p.uuid], [url, "reset", "{EVENT.TAGS.vm_uuid}"]);
    assert.match(p.token, /^rwt_[0-9a-f]{12}_/);

    const problem = await until(async () => {
      const ps = await api.call<{ eventid: string; name: string }[]>("problem.get", { output: ["eventid", "name"], time_from: startedAt, tags: [{ tag: "vm_uuid", value: guest.uuid, operator: "1" }] });
      return ps.find((x) => /is unhealthy/.test(x.name));
    }, 120_000, "the guest's unhealthy problem in Zabbix");
    problemId = problem.eventid;
    const done0 = np!.counters.domainActionsDone;
    const r = await api.call<{ response: string; value: string }>("script.execute", { scriptid: reset.scriptid, eventid: problem.eventid });
    assert.equal(r.response, "success");
    assert.equal(r.value, `${guest.name} on ${HV}: reset done, now running`);
    assert.equal(np!.counters.domainActionsDone, done0 + 1, "the guest was reset on its hypervisor");

    const audit = await (await fetch(`${url}/api/audit?action=domainAction&limit=5`, { headers: admin })).json() as { entries: { actor: string; via: string; target: string; outcome: string; detail: { action: string; reason: string } }[] };
    const e = audit.entries[0];
    assert.deepEqual([e.via, e.target, e.outcome, e.detail.action], ["token", guest.uuid, "ok", "reset"]);
    assert.match(e.actor, /^token:[0-9a-f]{12}$/);
    assert.match(e.detail.reason, new RegExp(`^Zabbix user \\S+, event ${problem.eventid}$`));

    // the same script with a viewer's token: the CMA refuses, and says so in its audit log
    const viewer = await offlineToken(join(dir, "cma-state"), "viewer");
    await api.call("script.update", { scriptid: reset.scriptid, parameters: reset.parameters.map((x) => (x.name === "token" ? { ...x, value: viewer.token } : x)) });
    await assert.rejects(api.call("script.execute", { scriptid: reset.scriptid, eventid: problem.eventid }), /ringwatch refused \(HTTP 403\)/);
    assert.equal(np!.counters.domainActionsDone, done0 + 1, "nothing done with a viewer's token");
    const denied = await (await fetch(`${url}/api/audit?action=forbidden&limit=1`, { headers: admin })).json() as { entries: { via: string; target: string; outcome: string }[] };
    assert.deepEqual([denied.entries[0]?.via, denied.entries[0]?.target, denied.entries[0]?.outcome], ["token", "POST /api/domains/:uuid/actions", "denied"]);
  });

  it("the created action holds seed 001's steps (notify, soft reboot, hard reset, escalate; the actions only while unacknowledged), and its first operation fires on the guest's problem", async () => {
    assert.ok(problemId, "the test above found the guest's problem");
    const [a] = await actions();
    assert.ok(a, "the action exists");
    const ids = new Map((await scripts()).map((s) => [s.name, s.scriptid]));
    const steps = a.operations.sort((x, y) => Number(x.esc_step_from) - Number(y.esc_step_from))
      .map((op) => [op.esc_step_from, op.operationtype, op.opcommand?.scriptid ?? "", op.opconditions.length]);
    assert.deepEqual(steps, [
      ["1", "0", "", 0],
      ["2", "1", ids.get("ringwatch: soft reboot VM (escalation step)"), 1],
      ["3", "1", ids.get("ringwatch: hard reset VM (escalation step)"), 1],
      ["4", "0", "", 1],
    ]);
    assert.equal(a.esc_period, "3600s");
    // step 1 (notify the group) ran for the guest's problem: Zabbix records the message (failed where the user has no media: it was sent to no one, but it was the action's step)
    const alerts = await until(async () => {
      const r = await api.call<{ esc_step: string; alerttype: string; eventid: string }[]>("alert.get", { output: ["esc_step", "alerttype", "eventid"], actionids: [a.actionid], eventids: [problemId] });
      return r.length ? r : undefined;
    }, 60_000, "the action's first operation for the guest's problem");
    assert.deepEqual([...new Set(alerts.map((x) => `${x.esc_step}/${x.alerttype}`))], ["1/0"], "only step 1 (a message) ran: the next is an hour away");
  });

  it("ringwatch's own ladder (dry-run) raises the guest's recovery problem step by step in Zabbix: warning, average, high, disaster", async () => {
    const severities = await until(async () => {
      const evs = await api.call<{ severity: string; name: string }[]>("event.get", {
        output: ["severity", "name"], source: 0, object: 0, value: 1, time_from: startedAt, tags: [{ tag: "vm_uuid", value: guest.uuid, operator: "1" }], search: { name: "Recovery of guest" },
      });
      const s = [...new Set(evs.map((e) => e.severity))].sort();
      return s.length === 4 ? s : undefined;
    }, 120_000, "four recovery problems, one per ladder level");
    assert.deepEqual(severities, ["2", "3", "4", "5"]);
    // the same steps in the audit log, the two actions recorded as what they would have done
    const audit = await (await fetch(`${url}/api/audit?limit=200`, { headers: admin })).json() as { entries: { action: string; target: string; detail: { step: string; outcome: string } }[] };
    const steps = audit.entries.filter((e) => e.target === guest.uuid && ["ladderNotify", "ladderAction", "ladderEscalate"].includes(e.action)).reverse();
    assert.deepEqual(steps.map((e) => `${e.detail.step}:${e.detail.outcome}`), ["notify:ok", "reboot:dry-run", "reset:dry-run", "escalate:ok"]);
  });
});

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

const SCRIPT_NAMES = ["ringwatch: soft reboot VM", "ringwatch: hard reset VM", "ringwatch: start VM"];

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

  const until = async <T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await check().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; CMA said: ${cma.lines.filter((l) => (l.level as number) >= 40).slice(-3).map((l) => JSON.stringify(l)).join(" | ")}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  const scripts = () => api.call<{ scriptid: string; name: string; parameters: { name: string; value: string }[] }[]>("script.get", { output: ["scriptid", "name", "parameters"], filter: { name: SCRIPT_NAMES } });

  before(async () => {
    const zbx = await ensureZabbix();
    api = new ZabbixApi({ url: zbx.apiUrl, user: zbx.user, password: zbx.password });
    // scripts are global: any left by an interrupted earlier run go first
    const old = await scripts();
    if (old.length) await api.call("script.delete", old.map((s) => s.scriptid));
    const kg = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(kg.code, 0, kg.stderr);
    admin = (await offlineToken(join(dir, "cma-state"), "admin")).auth;
    const httpPort = await unusedTcpPort();
    url = `http://127.0.0.1:${httpPort}`;
    cma = startProcess("cma", CMA_CLI, ["run"], {
      RINGWATCH_CLUSTER: `scr${sfx}`, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0",
      RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
      RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none", RINGWATCH_ZABBIX_SCRIPTS_CMA_URL: url,
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
    }), { keyring: Keyring.fromFile(`scr${sfx}`, join(dir, "keys/cluster.key")), cmaPublicKey: loadCommandPublicKey(join(dir, "keys/cma-command.pub")), log: silentLogger() });
  });

  after(async () => {
    await np?.stop(false);
    await cma?.stop();
    fx?.cleanup();
    const left = await scripts().catch(() => []);
    if (left.length) await api.call("script.delete", left.map((s) => s.scriptid));
    await deleteTestZabbixObjects(names);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the sync creates the three webhook scripts; 'hard reset VM' on the guest's problem resets it through the CMA, audited as the scripts' token with the Zabbix event", async () => {
    const made = await until(async () => ((await scripts()).length === 3 ? scripts() : undefined), 60_000, "the three scripts");
    const reset = made.find((s) => s.name === "ringwatch: hard reset VM")!;
    const p = Object.fromEntries(reset.parameters.map((x) => [x.name, x.value]));
    assert.deepEqual([p.url, p.action, p.uuid], [url, "reset", "{EVENT.TAGS.vm_uuid}"]);
    assert.match(p.token, /^rwt_[0-9a-f]{12}_/);

    const problem = await until(async () => {
      const ps = await api.call<{ eventid: string; name: string }[]>("problem.get", { output: ["eventid", "name"], tags: [{ tag: "vm_uuid", value: guest.uuid, operator: "1" }] });
      return ps.find((x) => /is unhealthy/.test(x.name));
    }, 120_000, "the guest's unhealthy problem in Zabbix");
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
});

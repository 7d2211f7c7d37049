/**
 * A CMA outage is one problem, not one per host, on the real Zabbix 6.0: three hypervisors
 * (in-process nanoprobes, rings only) behind a real CMA process that syncs Zabbix and sends the
 * hosts' states and its own heartbeat. The CMA is killed and stays away past the hosts' nodata
 * backstop ({$RINGWATCH.STATE.NODATA}, shortened to 60 s; {$RINGWATCH.CMA.NODATA} to 30 s, the
 * least nodata() allows: Zabbix evaluates it every 30 s) → problem.get holds exactly the CMA's
 * "not reporting" problem, none of the hosts' (their host-down trigger depends on it). The CMA
 * back → that problem resolves and every host's state is 1 (up) again, sent after the restart.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, loadCommandPublicKey, silentLogger } from "@ringwatch/shared";
import { CMA_NOT_REPORTING, ZabbixApi } from "@ringwatch/cma";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { CMA_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";
import { cmaZabbixEnv, deleteTestZabbixObjects, ensureZabbix, testZabbixNames } from "./support/zabbix.js";
import { waitForValue } from "@ringwatch/shared/testing";
import { testHostKeys } from "./support/host-keys.js";

const STATE_NODATA_S = 60;
const CMA_NODATA_S = 30;
/** Zabbix recalculates nodata() every 30 s */
const NODATA_GRANULARITY_S = 30;

describe("system: a CMA outage is one problem in Zabbix 6.0, not one per host", function () {
  this.timeout(300_000);
  const sfx = Math.random().toString(16).slice(2, 10);
  const dir = mkdtempSync(join(tmpdir(), "rw-cma-outage-"));
  const names = testZabbixNames("outage", sfx);
  const hosts = [1, 2, 3].map((i) => `rwoutage-hv${i}-${sfx}`);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const nanoprobes: Nanoprobe[] = [];
  const procs: RunningProcess[] = [];
  let api: ZabbixApi;
  let env: Record<string, string>;
  const common = () => ({ RINGWATCH_CLUSTER: `out${sfx}`, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" });

  const startCma = (): RunningProcess => {
    const p = startProcess("cma", CMA_CLI, ["run"], env);
    procs.push(p);
    return p;
  };

  const until = <T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> => waitForValue(check, timeoutMs, what, 500);

  const hostIds = async (): Promise<Map<string, string>> => {
    const got = await api.call<{ hostid: string; host: string }[]>("host.get", { output: ["hostid", "host"], filter: { host: [names.cmaHost, ...hosts] } });
    return new Map(got.map((h) => [h.host, h.hostid]));
  };
  /** Open problems on the CMA's host and the three hypervisors'. */
  const problems = async () => {
    const ids = [...(await hostIds()).values()];
    return api.call<{ eventid: string; name: string; objectid: string }[]>("problem.get", { output: ["eventid", "name", "objectid"], hostids: ids });
  };
  /** ringwatch.host.state of each hypervisor: last value and its clock. */
  const states = async () => {
    const items = await api.call<{ lastvalue: string; lastclock: string; hosts: { host: string }[] }[]>("item.get", {
      output: ["lastvalue", "lastclock"], hostids: [...(await hostIds()).values()], filter: { key_: "ringwatch.host.state" }, selectHosts: ["host"],
    });
    return new Map(items.map((i) => [i.hosts[0].host, { value: i.lastvalue, clock: Number(i.lastclock) }]));
  };
  const macro = async (template: string, name: string, value: string) => {
    const [t] = await api.call<{ templateid: string }[]>("template.get", { output: ["templateid"], filter: { host: [template] } });
    const [m] = await api.call<{ hostmacroid: string }[]>("usermacro.get", { output: ["hostmacroid"], hostids: [t.templateid], filter: { macro: name } });
    await api.call("usermacro.update", { hostmacroid: m.hostmacroid, value });
  };

  before(async () => {
    const zbx = await ensureZabbix();
    api = new ZabbixApi({ url: zbx.apiUrl, user: zbx.user, password: zbx.password });
    const kg = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(kg.code, 0, kg.stderr);
    env = {
      ...common(), RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_GRAPH_STORE: "none",
      RINGWATCH_HEARTBEAT_MS: "300", RINGWATCH_WARNTIME_MS: "1000", RINGWATCH_DEADTIME_MS: "3000", RINGWATCH_PROBE_INTERVAL_MS: "200", RINGWATCH_REANNOUNCE_GRACE_MS: "5000",
      ...cmaZabbixEnv(zbx, names, join(dir, "spool")), RINGWATCH_ZABBIX_STATE_REFRESH_MS: "5000",
    };
    const cma = startCma();
    await cma.waitFor((l) => l.msg === "CMA started", 20_000, "CMA started");
    const keyring = Keyring.fromFile(`out${sfx}`, join(dir, "keys/cluster.key"));
    const cmaPublicKey = loadCommandPublicKey(join(dir, "keys/cma-command.pub"));
    for (const [i, identity] of hosts.entries()) {
      nanoprobes.push(await Nanoprobe.start(nanoprobeConfig({
        identity, cluster: `out${sfx}`, cma: `127.0.0.1:${port}`, bindAddress: `127.0.0.${i + 2}`, port, joinIntervalMs: 300, libvirtUri: "",
        statusIntervalMs: 0, discoveryDir: "", zabbixAgentConfig: "",
      }), { keyring, cmaPublicKey, log: silentLogger(), hostKeys: testHostKeys(identity) }));
    }
  });

  after(async () => {
    await Promise.all(nanoprobes.map((n) => n.stop(false)));
    await Promise.all(procs.map((p) => p.stop()));
    await deleteTestZabbixObjects(names);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the CMA killed past the hosts' nodata backstop: exactly one problem, the CMA's; back again: it resolves and every host is up again", async () => {
    const cma = procs[0];
    for (const h of hosts) await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostJoined" && l.host === h, 20_000, `${h} joined`);
    await until(async () => ((await hostIds()).size === 4 ? true : undefined), 60_000, "the CMA's host and the three hypervisors in Zabbix");
    await macro(names.hv, "{$RINGWATCH.STATE.NODATA}", `${STATE_NODATA_S}s`);
    await macro(names.cma, "{$RINGWATCH.CMA.NODATA}", `${CMA_NODATA_S}s`);
    await until(async () => {
      const s = await states();
      return hosts.every((h) => s.get(h)?.value === "1") ? true : undefined;
    }, 60_000, "every host's state 1 in Zabbix");
    assert.deepEqual(await problems(), [], "no problem while all is well");

    const killedAt = Date.now();
    cma.child.kill("SIGKILL");
    await cma.exited;
    const [outage] = await until(async () => {
      const p = await problems();
      return p.length ? p : undefined;
    }, (CMA_NODATA_S + 2 * NODATA_GRANULARITY_S) * 1000, "the CMA's not-reporting problem");
    assert.equal(outage.name, CMA_NOT_REPORTING);
    console.log(`      "${outage.name}" ${Math.round((Date.now() - killedAt) / 1000)} s after SIGKILL`);
    // past the hosts' backstop: the last state each host got, + the nodata period, + one evaluation round, + slack
    const lastState = Math.max(...[...(await states()).values()].map((s) => s.clock));
    const past = (lastState + STATE_NODATA_S + NODATA_GRANULARITY_S + 5) * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, past - Date.now())));
    const during = await problems();
    assert.deepEqual(during.map((p) => p.name), [CMA_NOT_REPORTING], "one problem, the CMA's; none per host");

    const restartedAt = Date.now();
    const again = startCma();
    await again.waitFor((l) => l.msg === "CMA started", 20_000, "CMA started again");
    await until(async () => ((await problems()).length === 0 ? true : undefined), 60_000, "the CMA's problem resolved");
    const [resolved] = await api.call<{ r_eventid: string }[]>("event.get", { output: ["r_eventid"], eventids: [outage.eventid] });
    assert.notEqual(resolved.r_eventid, "0", "the outage has a recovery event");
    const after = await until(async () => {
      const s = await states();
      return hosts.every((h) => s.get(h)?.value === "1" && s.get(h)!.clock * 1000 >= restartedAt - 1000) ? s : undefined;
    }, 30_000, "every host's state 1, sent after the restart");
    assert.equal(after.size, 3);
    assert.deepEqual(await problems(), [], "and no host problem after the return");
  });
});

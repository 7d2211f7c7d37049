/**
 * Planned downtime and decommissioning, for real: a CMA process (graph on, real Zabbix 6.0), three
 * nanoprobe processes, and `ringwatch-cma host ...` over the control socket.
 * - a host in maintenance SIGKILLed: no hostDead, the ring repaired around it, and in Zabbix its
 *   state is 4 (maintenance) with no problem ever created (event.get, not only problem.get);
 * - the maintenance survives a CMA restart; ended while the host is still down, the host is probed
 *   then and declared dead (confirmedBy maintenance-end): the Zabbix problem appears;
 * - removed: gone from /api/hosts and the rings, its Zabbix host disabled (another, purged, deleted),
 *   its history still in the graph; announcing again, it is admitted as a new host (hostJoined).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ZabbixApi } from "@ringwatch/cma";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { LogLine, RunningProcess } from "./support/processes.js";
import { cmaZabbixEnv, deleteTestZabbixObjects, ensureZabbix, testZabbixNames } from "./support/zabbix.js";
import { waitForValue } from "@ringwatch/shared/testing";
import type { ZabbixSettings } from "./support/zabbix.js";
import { offlineToken } from "./support/access.js";

const DEADTIME_MS = 3000;

describe("system: host maintenance and removal (CMA + nanoprobes + Zabbix 6.0 + graph)", function () {
  this.timeout(240_000);
  const sfx = Math.random().toString(16).slice(2, 10);
  const dir = mkdtempSync(join(tmpdir(), "rw-maint-"));
  const socket = join(dir, "cma-state", "control.sock");
  const noScripts = join(dir, "no-scripts");
  mkdirSync(noScripts);
  const names = testZabbixNames("maint", sfx);
  const [A, B, C] = ["a", "b", "c"].map((x) => `rwm-${x}-${sfx}`);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const procs: RunningProcess[] = [];
  let zbx: ZabbixSettings;
  let api: ZabbixApi;
  let cma: RunningProcess;
  let url = "";
  let problemId = "";
  const t0 = Math.floor(Date.now() / 1000);
  const common = () => ({ RINGWATCH_CLUSTER: `maint${sfx}`, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" });

  let auth: { authorization: string } | undefined;
  const startCma = async (): Promise<void> => {
    auth ??= (await offlineToken(join(dir, "cma-state"), "viewer")).auth;
    cma = startProcess("cma", CMA_CLI, ["run"], {
      ...common(), RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_HTTP_LISTEN: "127.0.0.1:0", RINGWATCH_GRAPH_BUFFER_POOL_MB: "64",
      RINGWATCH_HEARTBEAT_MS: "300", RINGWATCH_WARNTIME_MS: "1000", RINGWATCH_DEADTIME_MS: String(DEADTIME_MS), RINGWATCH_PROBE_INTERVAL_MS: "200",
      RINGWATCH_REANNOUNCE_GRACE_MS: "3000",
      ...cmaZabbixEnv(zbx, names, join(dir, "spool")),
    });
    procs.push(cma);
    url = String((await cma.waitFor((l) => l.msg === "CMA started", 30_000, "CMA started")).http);
  };

  const startNanoprobe = (id: string, addr: string): RunningProcess => {
    const p = startProcess(id, NANOPROBE_CLI, ["run"], {
      ...common(), RINGWATCH_IDENTITY: id, RINGWATCH_BIND_ADDRESS: addr, RINGWATCH_PORT: String(port), RINGWATCH_CMA: `127.0.0.1:${port}`,
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_DISCOVERY_DIR: noScripts, RINGWATCH_ZABBIX_AGENT_CONFIG: "",
      RINGWATCH_LIBVIRT_URI: "test:///default", // a few guests each, so that removal has guests to take out of the active views
    });
    procs.push(p);
    return p;
  };

  const host = (...args: string[]) => runToExit(CMA_CLI, ["host", ...args, "--socket", socket]);
  const event = (type: string, h: string) => (l: LogLine) => l.msg === "membership event" && l.type === type && l.host === h;
  const json = async <T>(path: string, init?: RequestInit): Promise<T> => (await (await fetch(`${url}${path}`, { ...init, headers: { ...(init?.headers as Record<string, string> | undefined), ...auth } })).json()) as T;

  const until = <T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> => waitForValue(check, timeoutMs, what);
  const zhost = async (h: string) => (await api.call<{ hostid: string; status: string }[]>("host.get", { output: ["hostid", "status"], filter: { host: [h] } }))[0];
  /** Every problem event Zabbix created for the host since the test began (resolved or suppressed ones too). */
  const problemEvents = async (h: string) => {
    const z = await zhost(h);
    const all = z ? await api.call<{ eventid: string; name: string }[]>("event.get", { output: ["eventid", "name"], hostids: [z.hostid], source: 0, object: 0, value: 1, time_from: t0 }) : [];
    return all.filter((e) => /is down|unreachable/.test(e.name)); // the triggers on the membership state
  };
  const openProblems = async (h: string) => {
    const z = await zhost(h);
    return z ? api.call<{ eventid: string }[]>("problem.get", { output: ["eventid"], hostids: [z.hostid], search: { name: "is down" } }) : [];
  };
  /** The latest ringwatch.host.state value Zabbix stored for the host. */
  const lastState = async (h: string): Promise<number | undefined> => {
    const z = await zhost(h);
    if (!z) return undefined;
    const [item] = await api.call<{ itemid: string }[]>("item.get", { output: ["itemid"], hostids: [z.hostid], filter: { key_: "ringwatch.host.state" } });
    if (!item) return undefined;
    const [v] = await api.call<{ value: string }[]>("history.get", { output: ["value"], history: 3, itemids: [item.itemid], sortfield: "clock", sortorder: "DESC", limit: 1 });
    return v ? Number(v.value) : undefined;
  };
  const ringMembers = async (): Promise<string[]> => {
    const r = await json<{ segments: { members: string[] }[]; representativeRing: string[] }>("/api/rings");
    return r.segments.flatMap((s) => s.members);
  };

  before(async () => {
    zbx = await ensureZabbix();
    api = new ZabbixApi({ url: zbx.apiUrl, user: zbx.user, password: zbx.password });
    const kg = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(kg.code, 0, kg.stderr);
    await startCma();
    startNanoprobe(A, "127.0.0.2");
    startNanoprobe(B, "127.0.0.3");
    startNanoprobe(C, "127.0.0.4");
    for (const h of [A, B, C]) await cma.waitFor(event("hostJoined", h), 20_000, `${h} joined`);
    for (const h of [A, B, C]) await until(async () => ((await lastState(h)) === 1 ? true : undefined), 60_000, `${h}'s state 1 in Zabbix`);
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await deleteTestZabbixObjects(names);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a host in maintenance SIGKILLed: no hostDead, the ring repaired around it, state 4 in Zabbix and no problem created", async () => {
    const m = await host("maintenance", B, "--until", "1h", "--reason", "kernel upgrade");
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, new RegExp(`^${B}: maintenance until \\S+ \\(kernel upgrade\\)`));
    await until(async () => ((await lastState(B)) === 4 ? true : undefined), 30_000, "B's state 4 (maintenance) in Zabbix");
    assert.ok((await ringMembers()).includes(B), "still in the rings while it answers");
    procs.find((p) => p.name === B)!.child.kill("SIGKILL");
    const down = await cma.waitFor(event("hostDownInMaintenance", B), DEADTIME_MS + 15_000, "B down in maintenance");
    assert.ok((down.reportedBy as string[]).some((r) => r === A || r === C), `reported by its neighbours: ${JSON.stringify(down.reportedBy)}`);
    await until(async () => (!(await ringMembers()).includes(B) ? true : undefined), 10_000, "the ring repaired around B");
    // the value that followed the silence reached Zabbix: had it been a death, the problem would be there now
    const z = await zhost(B);
    const [item] = await api.call<{ itemid: string }[]>("item.get", { output: ["itemid"], hostids: [z.hostid], filter: { key_: "ringwatch.host.state" } });
    await until(async () => {
      const h = await api.call<{ clock: string }[]>("history.get", { output: ["clock"], history: 3, itemids: [item.itemid], time_from: Math.floor(Number(down.time ?? Date.now()) / 1000) - 1 });
      return h.length > 0 ? true : undefined;
    }, 30_000, "B's state value after its silence in Zabbix");
    assert.equal(await lastState(B), 4);
    assert.deepEqual(await problemEvents(B), [], "no problem event at all (not even a suppressed one)");
    assert.equal(cma.lines.filter(event("hostDead", B)).length, 0, "no hostDead");
    const hv = await json<{ state: string; maintenance: { down: boolean; reason: string } }>(`/api/hosts/${B}`);
    assert.deepEqual([hv.state, hv.maintenance.down, hv.maintenance.reason], ["maintenance", true, "kernel upgrade"]);
  });

  it("maintenance survives a CMA restart; ended while the host is still down, it is probed then and declared dead, and the Zabbix problem appears", async () => {
    assert.equal(await cma.stop(), 0);
    await startCma();
    const hv = await json<{ state: string; maintenance: { down: boolean } }>(`/api/hosts/${B}`);
    assert.deepEqual([hv.state, hv.maintenance.down], ["maintenance", true], "restored from the snapshot");
    const e = await host("maintenance", B, "--end");
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, `${B}: dead\n`);
    const dead = await cma.waitFor(event("hostDead", B), 10_000, "B dead");
    assert.equal(dead.confirmedBy, "maintenance-end");
    const ended = await cma.waitFor(event("maintenanceEnded", B), 1000, "maintenanceEnded");
    assert.deepEqual([ended.how, ended.down, ended.answered], ["ended", true, false]);
    const [problem] = await until(async () => {
      const p = await openProblems(B);
      return p.length === 1 ? p : undefined;
    }, 30_000, "B's host-down problem");
    problemId = problem.eventid;
  });

  it("removed: gone from /api/hosts and the rings, its Zabbix host disabled (the purged one deleted), its problem resolved, its history still in the graph", async () => {
    const c = procs.find((p) => p.name === C)!;
    await until(async () => ((await json<{ hosts: { host: string }[] }>("/api/inventory")).hosts.some((h) => h.host === C) ? true : undefined), 20_000, "C's guests in /api/inventory");
    await c.stop(); // decommissioning: switched off first (goodbye), then removed with --purge
    await cma.waitFor(event("hostLeft", C), 10_000, "C left");
    const rb = await host("remove", B);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /removed \(its Zabbix host will be disabled\)/);
    const rc = await host("remove", C, "--purge");
    assert.equal(rc.code, 0, rc.stderr);
    const hosts = await json<{ hosts: { name: string }[]; counts: Record<string, number> }>("/api/hosts");
    assert.deepEqual(hosts.hosts.map((h) => h.name), [A]);
    assert.equal(hosts.counts.removed, 2);
    assert.deepEqual(await ringMembers(), [A]);
    const inv = await json<{ hosts: { host: string }[] }>("/api/inventory");
    assert.deepEqual(inv.hosts.filter((h) => h.host === B || h.host === C), [], "their guests left the active views too");
    await until(async () => ((await zhost(B))?.status === "1" ? true : undefined), 30_000, "B's Zabbix host disabled");
    await until(async () => ((await zhost(C)) === undefined ? true : undefined), 30_000, "C's Zabbix host deleted");
    assert.equal(await lastState(B), 5, "its last state: removed");
    await until(async () => {
      const [e] = await api.call<{ r_eventid: string }[]>("event.get", { output: ["r_eventid"], eventids: [problemId] });
      return e.r_eventid !== "0" ? true : undefined;
    }, 30_000, "its host-down problem resolved (state 5 is no death)");
    const q = await json<{ rows: { state: string; removedAt: number; address: string }[] }>("/api/cypher", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "MATCH (h:Host) WHERE h.name = $n RETURN h.state AS state, h.removedAt AS removedAt, h.address AS address", params: { n: B } }),
    });
    await until(async () => {
      const r = await json<{ rows: { state: string }[] }>("/api/cypher", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "MATCH (h:Host) WHERE h.name = $n RETURN h.state AS state", params: { n: B } }) });
      return r.rows[0]?.state === "removed" ? true : undefined;
    }, 10_000, "B marked removed in the graph");
    assert.equal(q.rows.length, 1);
    const ev = await json<{ rows: { type: string }[] }>("/api/cypher", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "MATCH (e:Event)-[:CONCERNS]->(h:Host) WHERE h.name = $n RETURN DISTINCT e.type AS type", params: { n: B } }),
    });
    const types = ev.rows.map((r) => r.type);
    for (const t of ["hostJoined", "maintenanceStarted", "hostDownInMaintenance", "hostDead", "hostRemoved"]) assert.ok(types.includes(t), `${t} in B's graph history: ${types.join(", ")}`);
  });

  it("a removed host that announces again is admitted as a new host, and its Zabbix host enabled again", async () => {
    startNanoprobe(B, "127.0.0.3");
    // a bound, not a timing claim: unanswered announcements back off to joinBackoffMaxMs (16 s), so
    // a first announcement the CMA does not answer puts the join ~16-32 s out (one full run here
    // missed a 20 s bound)
    const joined = await cma.waitFor((l) => event("hostJoined", B)(l) && cma.lines.indexOf(l) > cma.lines.findIndex(event("hostRemoved", B)), 60_000, "B joined again");
    assert.ok(joined);
    assert.equal(cma.lines.filter(event("hostReturned", B)).length, 0, "not a return: a new host");
    await until(async () => ((await zhost(B))?.status === "0" ? true : undefined), 30_000, "B's Zabbix host enabled again");
    await until(async () => ((await lastState(B)) === 1 ? true : undefined), 30_000, "B up in Zabbix");
    const status = await json<{ control: { done: number; refused: Record<string, number> } }>("/api/status");
    assert.equal(status.control.done, 3, "this CMA run served --end and the two removals");
  });
});

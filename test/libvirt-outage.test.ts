/**
 * libvirtd outages under a running nanoprobe, on a real libvirtd with two tiny QEMU domains
 * (scripts/libvirt-up.sh): libvirtd alone is stopped and started (`daemon-stop`/`daemon-start`), the
 * QEMUs keep running, as in a libvirt upgrade. Real processes: a CMA, hv1 reading the real libvirtd,
 * hv2 (test driver) as hv1's ring neighbour, so a nanoprobe that died would be reported dead.
 *
 * 1. hv1 started while libvirtd is stopped: it joins its ring, the CMA gets libvirtUnreachable and
 *    no inventory, Zabbix (the shared 6.0 server, names unique to this run) shows the problem;
 *    libvirtd started: the alert is cleared (the problem resolved), the inventory and stats flow.
 * 2. libvirtd stopped for OUTAGE_MS mid-run (three times the deadtime) and started again: hv1 alive,
 *    no hostDead, no guest reported gone (a full inventory is resent every 2 s: an empty one would
 *    remove every guest), the alert raised once and cleared once, lifecycle events registered again,
 *    stats again with sane rates; Zabbix saw exactly two problems, both resolved.
 * Needs root; fails (does not skip) when libvirtd cannot start, as test/libvirt-real does.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibvirtConnection } from "@ringwatch/libvirt";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { unusedTcpPort } from "@ringwatch/shared/testing";
import { LibvirtLab } from "./support/libvirt.js";
import { api, cmaZabbixEnv, deleteTestZabbixObjects, ensureZabbix, testZabbixNames } from "./support/zabbix.js";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { LogLine, RunningProcess } from "./support/processes.js";
import { offlineToken } from "./support/access.js";

const VMS = 2;
/** libvirtd away this long mid-run: three times the default deadtime (10 s), so a nanoprobe that died would be declared dead */
const OUTAGE_MS = 30_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface StatsSeries { domain: string; metric: string; count: number; min: number; max: number; avg: number }
interface StatsAnswer { intervalStart: number; series: StatsSeries[] }

describe("system: libvirtd stopped and started under a nanoprobe (real libvirtd, QEMU/TCG domains)", function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-lv-outage-"));
  const fx = writeFixture(3);
  const procs: RunningProcess[] = [];
  let lab: LibvirtLab;
  let cma: RunningProcess;
  let hv1: RunningProcess;
  let hv2: RunningProcess;
  let http = "";
  let auth: { authorization: string } | undefined;
  const sfx = Math.random().toString(16).slice(2, 10);
  const H1 = `rwlvo-hv1-${sfx}`;
  const H2 = `rwlvo-hv2-${sfx}`;
  const names = testZabbixNames("lvoutage", sfx);
  /** libvirtUnreachable problem events of H1 in Zabbix: value 1 raised, 0 resolved */
  const zabbixEvents = async (): Promise<{ value: string; r_eventid: string }[]> => {
    const host = (await api<{ hostid: string }[]>("host.get", { output: ["hostid"], filter: { host: [H1] } }))[0];
    if (!host) return [];
    return api("event.get", { output: ["value", "r_eventid"], hostids: [host.hostid], source: 0, object: 0, value: 1, search: { name: "libvirt unreachable" } });
  };

  const cmaLines = (msg: string, from = 0): LogLine[] => cma.lines.slice(from).filter((l) => l.msg === msg);
  const alertEvents = (change: "raised" | "cleared", from = 0): LogLine[] =>
    cmaLines("alert event", from).filter((l) => l.host === H1 && l.kind === "libvirtUnreachable" && l.change === change);
  const statsAccepted = (from = 0): LogLine[] => cmaLines("stats batch accepted", from).filter((l) => l.host === H1);
  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const r = await fetch(`${http}${path}`, { headers: auth });
    return { status: r.status, body: (await r.json()) as T };
  };
  const inventory = async (): Promise<{ name: string; uuid: string; state: string; vcpus: number }[]> => {
    const r = await get<{ domains: { name: string; uuid: string; state: string; vcpus: number }[] }>(`/api/inventory/${H1}`);
    return r.status === 200 ? r.body.domains.filter((d) => d.name.startsWith(lab.prefix)) : [];
  };

  before(async function () {
    this.timeout(180_000); // a fresh machine installs ~90 MiB of packages first
    try {
      lab = await LibvirtLab.start(VMS, { prefix: "rwt-outage" });
    } catch (err) {
      throw new Error(`could not start libvirtd with ${VMS} QEMU domains (this test needs root and Debian's libvirt/QEMU): ${(err as Error).message}`);
    }
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.all(procs.map((p) => p.stop()));
    await deleteTestZabbixObjects(names);
    await lab?.stop(); // starts libvirtd first if a failed test left it stopped
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a nanoprobe started while libvirtd is stopped joins its ring and reports libvirtUnreachable; libvirtd started: alert cleared, inventory and stats flow", async () => {
    const zbx = await ensureZabbix();
    await lab.daemonStop();
    const keys = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(keys.code, 0, keys.stderr);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const httpPort = await unusedTcpPort();
    http = `http://127.0.0.1:${httpPort}`;
    auth = (await offlineToken(join(dir, "cma-state"), "viewer")).auth;
    const common = { RINGWATCH_CLUSTER: "lvoutage", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" };
    cma = startProcess("cma", CMA_CLI, ["run", "--debug"], {
      ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_HTTP_LISTEN: `127.0.0.1:${httpPort}`, RINGWATCH_GRAPH_STORE: "none",
      ...cmaZabbixEnv(zbx, names, join(dir, "spool")),
    });
    procs.push(cma);
    await cma.waitFor((l) => l.msg === "CMA started", 20_000, "CMA started");
    const nanoprobe = (name: string, address: string, uri: string, extra: Record<string, string> = {}): RunningProcess => {
      const p = startProcess(name, NANOPROBE_CLI, ["run", "--debug"], {
        ...common, RINGWATCH_IDENTITY: name, RINGWATCH_BIND_ADDRESS: address, RINGWATCH_PORT: String(port), RINGWATCH_CMA: `127.0.0.1:${port}`,
        RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_LIBVIRT_URI: uri,
        RINGWATCH_DISCOVERY_DIR: "", RINGWATCH_ZABBIX_AGENT_CONFIG: "", RINGWATCH_SAMPLE_MS: "500", RINGWATCH_REPORT_INTERVAL_MS: "1000", ...extra,
      });
      procs.push(p);
      return p;
    };
    hv2 = nanoprobe(H2, "127.0.0.3", fx.uri);
    // the full inventory every 2 s: if one went out while libvirt is away, the CMA would see it
    hv1 = nanoprobe(H1, "127.0.0.2", lab.uri, { RINGWATCH_INVENTORY_RESEND_MS: "2000", RINGWATCH_LIBVIRT_RECONNECT_MAX_MS: "1000" });

    await cma.waitFor(() => alertEvents("raised").length > 0, 20_000, "libvirtUnreachable raised for hv1");
    const raised = alertEvents("raised")[0];
    assert.equal(raised.subject, "libvirt");
    assert.match(String(JSON.parse(String(raised.evidenceJson)).error), /Failed to connect socket/);
    const ringOf = (p: RunningProcess, other: string): Promise<LogLine> =>
      p.waitFor((l) => l.msg === "neighbours assigned by the CMA" && (l.neighbours as string[]).includes(other), 20_000, `${p.name} watches ${other}`);
    await ringOf(hv1, H2);
    await ringOf(hv2, H1);
    // several attempts and inventory resends while libvirtd is down: still nothing about guests
    await hv1.waitFor(() => hv1.lines.filter((l) => l.msg === "libvirt: reconnecting later").length >= 4, 20_000, "four failed attempts");
    assert.equal((await get(`/api/inventory/${H1}`)).status, 404, "no inventory from hv1 while libvirt is away");
    assert.equal(statsAccepted().length, 0, "no stats from hv1 while libvirt is away");
    assert.equal(alertEvents("raised").length, 1, "raised once");
    assert.equal(hv1.child.exitCode, null, "hv1 still running");
    // on to Zabbix: the trigger of the hypervisor template fires
    await waitUntilAsync(async () => (await zabbixEvents()).length === 1, 30_000, "the libvirt unreachable problem in Zabbix");

    await lab.daemonStart();
    await cma.waitFor(() => alertEvents("cleared").length > 0, 20_000, "libvirtUnreachable cleared");
    let guests: Awaited<ReturnType<typeof inventory>> = [];
    await waitUntilAsync(async () => (guests = await inventory()).length === VMS, 20_000, "the lab's domains in hv1's inventory");
    assert.deepEqual(guests.map((d) => d.name).sort(), lab.names);
    const cleared = cma.lines.indexOf(alertEvents("cleared")[0]);
    await cma.waitFor(() => statsAccepted(cleared).some((l) => (l.series as number) > 0), 20_000, "stats from hv1 after libvirtd started");
    assert.equal(alertEvents("raised").length, 1);
    assert.equal(alertEvents("cleared").length, 1);
    await waitUntilAsync(async () => (await zabbixEvents()).every((e) => e.r_eventid !== "0"), 30_000, "the problem resolved in Zabbix");
  });

  it(`libvirtd stopped for ${OUTAGE_MS / 1000} s mid-run and started again: nanoprobe alive, no death, no guest gone, alert raised and cleared once, events and stats resume without a spike`, async () => {
    assert.ok(cma && hv1, "the first test started the processes");
    const guests = await inventory();
    assert.equal(guests.length, VMS);
    const mark = cma.lines.length;
    const hv1Mark = hv1.lines.length;

    await lab.daemonStop();
    await hv1.waitFor((l) => hv1.lines.indexOf(l) >= hv1Mark && l.msg === "hypervisor connection lost", 10_000, "hv1 saw libvirt go");
    await cma.waitFor(() => alertEvents("raised", mark).length > 0, 10_000, "libvirtUnreachable raised");
    await sleep(OUTAGE_MS);
    assert.equal(hv1.child.exitCode, null, "hv1 alive through the outage");
    await lab.daemonStart();
    await cma.waitFor(() => alertEvents("cleared", mark).length > 0, 20_000, "libvirtUnreachable cleared");
    const clearedAt = cma.lines.indexOf(alertEvents("cleared", mark)[0]);

    // lifecycle events registered on the new connection: a pause is seen (sampling would not see a state change)
    const conn = await LibvirtConnection.open(lab.uri);
    try {
      const vm = guests.find((d) => d.name === lab.name(1))!;
      const changed = (state: string): boolean => cmaLines("inventory event", clearedAt).some((l) => l.host === H1 && l.type === "domainChanged" && (l.domain as { uuid: string; state: string }).uuid === vm.uuid && (l.domain as { state: string }).state === state);
      await conn.suspend(vm.uuid);
      await cma.waitFor(() => changed("paused"), 10_000, `${vm.name} paused at the CMA`);
      await conn.resume(vm.uuid);
      await cma.waitFor(() => changed("running"), 10_000, `${vm.name} running again at the CMA`);
    } finally {
      await conn.close();
    }

    // stats again: three batches after the reconnection, every rate within what two tiny VMs can do
    const batches = new Map<number, StatsSeries[]>();
    await waitUntilAsync(async () => {
      const r = await get<StatsAnswer>(`/api/stats/${H1}`);
      if (r.status === 200 && statsAccepted(clearedAt).length > 0) {
        const ours = r.body.series.filter((s) => guests.some((g) => g.uuid === s.domain));
        if (ours.some((s) => s.metric === "cpu")) batches.set(r.body.intervalStart, ours);
      }
      return batches.size >= 3;
    }, 20_000, "three stats batches with rates after the reconnection");
    const vcpus = new Map(guests.map((g) => [g.uuid, g.vcpus]));
    for (const series of batches.values()) {
      for (const s of series) {
        const what = `${s.domain} ${s.metric}: ${JSON.stringify(s)}`;
        assert.ok(Number.isFinite(s.min) && Number.isFinite(s.max) && s.min >= 0 && s.min <= s.avg && s.avg <= s.max, what);
        if (s.metric === "cpu") assert.ok(s.max <= vcpus.get(s.domain)! * 1.1 + 0.05, `no spike: ${what}`);
        else if (/^vcpu\.\d+\.(time|wait|delay)$/.test(s.metric)) assert.ok(s.max <= 1.1, `no spike: ${what}`);
        else if (/^(block|net)\./.test(s.metric)) assert.ok(s.max < 1e8, `no spike: ${what}`); // no guest OS: next to no I/O
      }
    }

    // counts and causes over the whole outage
    assert.equal(alertEvents("raised", mark).length, 1, "raised once");
    assert.equal(alertEvents("cleared", mark).length, 1, "cleared once");
    const deaths = cmaLines("membership event").filter((l) => l.type === "hostDead" || l.type === "hostLeft");
    assert.deepEqual(deaths.map((l) => `${l.type} ${l.host}`), [], "no host death at the CMA");
    const gone = cmaLines("inventory event").filter((l) => l.host === H1 && l.type === "domainRemoved");
    assert.deepEqual(gone.map((l) => l.name), [], "no guest reported gone");
    assert.deepEqual((await inventory()).map((d) => d.name).sort(), lab.names);
    assert.equal(hv1.child.exitCode, null);
    assert.equal(hv2.child.exitCode, null);
    assert.deepEqual(hv1.stderr.filter((l) => /Error|unhandled/i.test(l)), [], "nothing thrown in hv1");
    // Zabbix: one problem per outage, each resolved
    await waitUntilAsync(async () => {
      const ev = await zabbixEvents();
      return ev.length === 2 && ev.every((e) => e.r_eventid !== "0");
    }, 30_000, "two libvirt unreachable problems in Zabbix, both resolved");
  });
});

/** waitUntil for a condition that has to ask (HTTP). */
async function waitUntilAsync(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

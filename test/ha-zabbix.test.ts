/**
 * Losing the leading CMA's machine loses no value, on the real Zabbix 6.0 and the real etcd: two
 * CMA processes (etcd, Zabbix config sync and sender, each its own data directory and spool) and a
 * real nanoprobe process (libvirt test driver, one stats batch a second) that knows both.
 * zabbix_server is stopped, so the leader accepts batches it can only spool; the leader is then
 * SIGKILLed and its data directory and spool deleted (its machine is gone). The standby leads from
 * the positions Zabbix had confirmed (etcd), asks the nanoprobe for everything after them, and once
 * Zabbix is back every batch interval the nanoprobe made, those that existed only in the lost
 * spool included, has its values in history.get; none stored twice.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { LogLine, RunningProcess } from "./support/processes.js";
import { api, cmaZabbixEnv, deleteTestZabbixObjects, ensureZabbix, startZabbixServer, stopZabbixServer, testZabbixNames } from "./support/zabbix.js";
import { ensureEtcd, freshPrefix } from "./support/etcd.js";
import { THROTTLED_MS } from "@ringwatch/cma";

const REPORT_MS = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("system: the leading CMA's machine lost while Zabbix is down: no value lost (real etcd, real Zabbix 6.0)", function () {
  this.timeout(300_000);
  const sfx = Math.random().toString(16).slice(2, 10);
  const dir = mkdtempSync(join(tmpdir(), "rw-ha-zbx-"));
  const names = testZabbixNames("ha", sfx);
  const hv = `rwha-hv-${sfx}`;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const fx = writeFixture(2);
  const procs: RunningProcess[] = [];
  let serverStopped = false;

  after(async () => {
    if (serverStopped) await startZabbixServer();
    await Promise.all(procs.map((p) => p.stop()));
    await deleteTestZabbixObjects(names).catch(() => undefined);
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every batch interval the nanoprobe made reaches history.get once, including those only the lost leader had", async () => {
    const [zbx, endpoints] = await Promise.all([ensureZabbix(), ensureEtcd()]);
    const kg = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(kg.code, 0, kg.stderr);
    const common = { RINGWATCH_CLUSTER: `ha${sfx}`, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" };
    const prefix = freshPrefix("zabbix");
    const addresses = ["127.0.0.1", "127.0.0.2"];
    const startCma = (i: number): RunningProcess => {
      const p = startProcess(`cma${i}`, CMA_CLI, ["run", "--debug"], {
        ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: addresses[i], RINGWATCH_PORT: String(port),
        RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, `cma-state-${i}`), RINGWATCH_HTTP_LISTEN: "127.0.0.1:0", RINGWATCH_GRAPH_STORE: "none",
        RINGWATCH_HEARTBEAT_MS: "300", RINGWATCH_WARNTIME_MS: "1000", RINGWATCH_DEADTIME_MS: "3000", RINGWATCH_REANNOUNCE_GRACE_MS: "5000",
        RINGWATCH_ETCD_ENDPOINTS: endpoints, RINGWATCH_ETCD_PREFIX: prefix,
        ...cmaZabbixEnv(zbx, names, join(dir, `spool-${i}`)),
      });
      procs.push(p);
      return p;
    };
    const first = startCma(0);
    await first.waitFor((l) => l.msg === "CMA started", 20_000, "the first CMA leads");
    const second = startCma(1);
    await second.waitFor((l) => l.msg === "standing by for the leadership", 20_000, "the second stands by");
    const np = startProcess("hv", NANOPROBE_CLI, ["run", "--debug"], {
      ...common, RINGWATCH_IDENTITY: hv, RINGWATCH_BIND_ADDRESS: "127.0.0.3", RINGWATCH_PORT: String(port), RINGWATCH_CMA: addresses.map((a) => `${a}:${port}`).join(","),
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_LIBVIRT_URI: fx.uri,
      RINGWATCH_SAMPLE_MS: "200", RINGWATCH_REPORT_INTERVAL_MS: String(REPORT_MS), RINGWATCH_DISCOVERY_DIR: "", RINGWATCH_ZABBIX_AGENT_CONFIG: "",
    });
    procs.push(np);

    // the guests' CPU items exist and take values
    const items = await first.until(async () => {
      const [h] = await api<{ hostid: string }[]>("host.get", { output: ["hostid"], filter: { host: [hv] } });
      if (!h) return undefined;
      const got = await api<{ itemid: string; key_: string; value_type: string; lastclock: string }[]>("item.get", { output: ["itemid", "key_", "value_type", "lastclock"], hostids: [h.hostid], search: { key_: "ringwatch.vm.cpu[" }, startSearch: true });
      return got.length === fx.domains.length && got.every((i) => Number(i.lastclock) > 0) ? got : undefined;
    }, 90_000, "the guests' CPU items in Zabbix, with values");
    const made = (): LogLine[] => np.lines.filter((l) => l.msg === "stats batch made");
    const acceptedBy = (c: RunningProcess, after = 0): LogLine[] => c.lines.filter((l) => l.msg === "stats batch accepted" && l.host === hv && Date.parse(String(l.time)) >= after);
    const fromSeq = (made().at(-1)!.seq as number) + 1; // from here on, every interval must be in history

    // Zabbix down: the leader takes batches it can only spool
    await stopZabbixServer();
    serverStopped = true;
    const stoppedAt = Date.now();
    await first.until(async () => (acceptedBy(first, stoppedAt).length >= 4 ? true : undefined), 30_000, "four batches spooled while Zabbix is down");
    // long enough for the positions to be mirrored once more (at most every 10 s): had etcd kept the
    // positions accepted rather than those Zabbix confirmed, it would now hold the spooled batches'
    await sleep(Math.max(0, stoppedAt + THROTTLED_MS["stats-streams.json"] + 1500 - Date.now()));
    const lostSpooled = acceptedBy(first, stoppedAt).map((l) => l.seq as number);

    // the leader's machine is lost: process, data directory and spool
    first.child.kill("SIGKILL");
    await first.exited;
    rmSync(join(dir, "cma-state-0"), { recursive: true, force: true });
    rmSync(join(dir, "spool-0"), { recursive: true, force: true });
    await second.waitFor((l) => l.msg === "CMA started", 20_000, "the standby leads");
    await second.waitFor((l) => l.msg === "stats batch cannot be taken: asking for a resend" && l.host === hv, 20_000, "the new leader asks for what came after the confirmed position");
    await second.until(async () => (acceptedBy(second).some((l) => l.seq === Math.max(...lostSpooled)) ? true : undefined), 20_000, "the batches only the lost spool had, taken again");

    await startZabbixServer();
    serverStopped = false;
    // every interval from fromSeq to the last the new leader took, in history
    const lastSeq = Math.max(...acceptedBy(second).map((l) => l.seq as number));
    const want = made().filter((l) => (l.seq as number) >= fromSeq && (l.seq as number) <= lastSeq);
    assert.ok(want.length >= lostSpooled.length + 2, `${want.length} intervals to find`);
    assert.ok(lostSpooled.length >= 10, `${lostSpooled.length} batches only in the lost spool`);
    const missing = (rows: { clock: string; ns: string }[]): number[] => {
      const t = rows.map((r) => Number(r.clock) * 1000 + Number(r.ns) / 1e6);
      return want.filter((b) => !t.some((x) => x >= (b.intervalStart as number) && x < (b.intervalStart as number) + REPORT_MS + 1)).map((b) => b.seq as number);
    };
    for (const it of items) {
      const rows = await second.until(async () => {
        const r = await api<{ clock: string; ns: string }[]>("history.get", { output: ["clock", "ns"], history: Number(it.value_type), itemids: [it.itemid], time_from: Math.floor((want[0].intervalStart as number) / 1000) - 1 });
        return missing(r).length === 0 ? r : undefined;
      }, 60_000, `${it.key_}: a value in every interval ${want[0].seq}..${lastSeq}`).catch(async (e: Error) => {
        const r = await api<{ clock: string; ns: string }[]>("history.get", { output: ["clock", "ns"], history: Number(it.value_type), itemids: [it.itemid], time_from: Math.floor((want[0].intervalStart as number) / 1000) - 1 });
        throw new Error(`${e.message}; missing batches ${missing(r).join(",")} (the lost spool had ${lostSpooled.join(",")})`);
      });
      const keys = rows.map((r) => `${r.clock}.${r.ns}`);
      assert.equal(new Set(keys).size, keys.length, `${it.key_}: no value twice`);
    }
    console.log(`      ${want.length} intervals checked on ${items.length} items; batches ${lostSpooled.join(",")} existed only in the lost spool`);
  });
});

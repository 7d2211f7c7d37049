/**
 * End to end against the real Zabbix 6.0: nanoprobes reading libvirt (test driver) → a real CMA
 * process (config sync through the API, values through the durable sender) → Zabbix.
 * - history.get holds the guests' values, and their min/max/avg over each report interval equal
 *   those of the raw samples the nanoprobe took (captured in process from nanoprobe A);
 * - killing a nanoprobe process (SIGKILL) raises the host-down problem (problem.get) within
 *   deadtime + a few seconds; restarting it resolves the problem;
 * - the restarted hypervisor has one guest more: low-level discovery creates its items.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, dequantize, loadCommandPublicKey, metricKind, quantize, silentLogger } from "@ringwatch/shared";
import { ZabbixApi, seriesItem } from "@ringwatch/cma";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import type { Fixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";
import { cmaZabbixEnv, deleteTestZabbixObjects, ensureZabbix, testZabbixNames } from "./support/zabbix.js";
import type { ZabbixSettings } from "./support/zabbix.js";
import { testHostKeys } from "./support/host-keys.js";

const DEADTIME_MS = 3000;
const REPORT_MS = 2000;

interface Interval {
  /** raw samples per "<uuid>/<series>" taken in this report interval */
  samples: Map<string, { at: number; value: number }[]>;
}

describe("system: nanoprobes on libvirt → CMA → Zabbix 6.0", function () {
  this.timeout(300_000);
  const sfx = Math.random().toString(16).slice(2, 10);
  const dir = mkdtempSync(join(tmpdir(), "rw-zbx-e2e-"));
  let zbx: ZabbixSettings;
  const names = testZabbixNames("e2e", sfx);
  const A = `rwe2e-a-${sfx}`;
  const B = `rwe2e-b-${sfx}`;
  const C = `rwe2e-c-${sfx}`;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const procs: RunningProcess[] = [];
  const fixtures: Fixture[] = [];
  let api: ZabbixApi;
  let cma: RunningProcess;
  let npA: Nanoprobe | undefined;
  const intervals: Interval[] = [];
  let current: Interval = { samples: new Map() };
  const common = () => ({ RINGWATCH_CLUSTER: `e2e${sfx}`, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" });

  const startNanoprobe = (id: string, addr: string, fx: Fixture): RunningProcess => {
    const p = startProcess(id, NANOPROBE_CLI, ["run"], {
      ...common(), RINGWATCH_IDENTITY: id, RINGWATCH_BIND_ADDRESS: addr, RINGWATCH_PORT: String(port), RINGWATCH_CMA: `127.0.0.1:${port}`,
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_LIBVIRT_URI: fx.uri,
      RINGWATCH_SAMPLE_MS: "200", RINGWATCH_REPORT_INTERVAL_MS: String(REPORT_MS), RINGWATCH_DISCOVERY_DIR: "", RINGWATCH_ZABBIX_AGENT_CONFIG: "",
    });
    procs.push(p);
    return p;
  };

  const hostId = async (host: string): Promise<string | undefined> =>
    (await api.call<{ hostid: string }[]>("host.get", { output: ["hostid"], filter: { host: [host] } }))[0]?.hostid;

  const until = <T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> => cma.until(check, timeoutMs, what);

  const downProblems = async (host: string) => {
    const id = await hostId(host);
    return id ? api.call<{ eventid: string; name: string; clock: string }[]>("problem.get", { output: ["eventid", "name", "clock"], hostids: [id], search: { name: "is down" } }) : [];
  };

  before(async () => {
    zbx = await ensureZabbix();
    api = new ZabbixApi({ url: zbx.apiUrl, user: zbx.user, password: zbx.password });
    const kg = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(kg.code, 0, kg.stderr);
    cma = startProcess("cma", CMA_CLI, ["run"], {
      ...common(), RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_HTTP_LISTEN: "127.0.0.1:0",
      RINGWATCH_HEARTBEAT_MS: "300", RINGWATCH_WARNTIME_MS: "1000", RINGWATCH_DEADTIME_MS: String(DEADTIME_MS), RINGWATCH_PROBE_INTERVAL_MS: "200",
      ...cmaZabbixEnv(zbx, names, join(dir, "spool")),
    });
    procs.push(cma);
    await cma.waitFor((l) => l.msg === "CMA started", 20_000, "CMA started");
  });

  after(async () => {
    await npA?.stop(false);
    await Promise.all(procs.map((p) => p.stop()));
    for (const f of fixtures) f.cleanup();
    await deleteTestZabbixObjects(names);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("three hypervisors join; each is a Zabbix host whose guests are discovered", async () => {
    const fxA = writeFixture(5);
    const fxB = writeFixture(3);
    const fxC = writeFixture(3);
    fixtures.push(fxA, fxB, fxC);
    startNanoprobe(B, "127.0.0.3", fxB);
    startNanoprobe(C, "127.0.0.4", fxC);
    npA = await Nanoprobe.start(nanoprobeConfig({
      identity: A, cluster: `e2e${sfx}`, cma: `127.0.0.1:${port}`, bindAddress: "127.0.0.2", port, joinIntervalMs: 300, libvirtUri: fxA.uri,
      statusIntervalMs: 0, discoveryDir: "", sampleMs: 200, reportIntervalMs: REPORT_MS, zabbixAgentConfig: "",
    }), { keyring: Keyring.fromFile(`e2e${sfx}`, join(dir, "keys/cluster.key")), cmaPublicKey: loadCommandPublicKey(join(dir, "keys/cma-command.pub")), log: silentLogger(), hostKeys: testHostKeys(A) });
    await until(async () => (npA!.hypervisor?.sampler ? true : undefined), 20_000, "A's sampler");
    // raw samples of A, cut into report intervals exactly where the nanoprobe cuts them
    const hv = npA.hypervisor!;
    const sampler = hv.sampler!;
    sampler.onSample = (uuid, key, at, value) => {
      hv.analytics.sample(uuid, key, at, value);
      const k = `${uuid}/${key}`;
      const l = current.samples.get(k);
      if (l) l.push({ at, value });
      else current.samples.set(k, [{ at, value }]);
    };
    hv.on("stats", () => {
      intervals.push(current);
      current = { samples: new Map() };
    });
    for (const h of [A, B, C]) await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostJoined" && l.host === h, 20_000, `${h} joined`);
    for (const [h, fx] of [[A, fxA], [B, fxB], [C, fxC]] as const) {
      await until(async () => {
        const id = await hostId(h);
        if (!id) return undefined;
        const items = await api.call<{ key_: string }[]>("item.get", { output: ["key_"], hostids: [id], search: { key_: "ringwatch.vm.cpu[" }, startSearch: true });
        return items.length === fx.domains.length ? items : undefined;
      }, 60_000, `LLD items of ${h}'s ${fx.domains.length} guests`);
    }
  });

  it("history.get holds A's values; per report interval their min/max/avg equal the raw samples'", async () => {
    const idA = (await hostId(A))!;
    const fx = fixtures[0];
    const running = fx.domains.filter((d) => d.state === "running");
    const withNic = running.find((d) => d.nics.length > 0)!;
    const series = [`${running[0].uuid}/cpu`, `${running[0].uuid}/vcpu.0.time`, `${withNic.uuid}/net.${withNic.nics[0].target}.rx.bytes`, `${running[1].uuid}/balloon.current`];
    const items = await api.call<{ itemid: string; key_: string; value_type: string }[]>("item.get", { output: ["itemid", "key_", "value_type"], hostids: [idA], search: { key_: "ringwatch.vm." }, startSearch: true });
    const itemOf = (s: string) => {
      const [uuid, metric] = [s.slice(0, 36), s.slice(37)];
      const m = seriesItem(uuid, metric)!;
      const it = items.find((i) => i.key_ === m.key);
      assert.ok(it, `item ${m.key} exists`);
      return { ...it, toZabbix: m.value, kind: metricKind(metric) };
    };
    // intervals that closed after the items existed; history may trail the sender by a moment
    const first = intervals.length;
    await until(async () => (intervals.length >= first + 3 ? true : undefined), 30_000, "three more report intervals");
    const checked = intervals.slice(first, first + 3);
    let compared = 0;
    for (const s of series) {
      const it = itemOf(s);
      for (const iv of checked) {
        const raw = iv.samples.get(s);
        assert.ok(raw && raw.length > 1, `${s}: raw samples in the interval`);
        const want = raw.map((p) => it.toZabbix(quantize(it.kind, p.value)));
        const lo = raw[0].at * 1e6;
        const hi = raw[raw.length - 1].at * 1e6;
        const got = await until(async () => {
          const h = await api.call<{ clock: string; ns: string; value: string }[]>("history.get", {
            output: "extend", history: Number(it.value_type), itemids: [it.itemid], time_from: Math.floor(raw[0].at / 1000) - 1, time_till: Math.ceil(raw[raw.length - 1].at / 1000) + 1, sortfield: "clock",
          });
          const inside = h.filter((v) => Number(v.clock) * 1e9 + Number(v.ns) >= lo && Number(v.clock) * 1e9 + Number(v.ns) <= hi).map((v) => Number(v.value));
          // complete once the interval's max and min are both there (the batch arrives whole)
          return inside.length > 0 && Math.max(...inside) === Math.max(...want) && Math.min(...inside) === Math.min(...want) ? inside : undefined;
        }, 30_000, `${it.key_} values of one interval in history.get`);
        const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        assert.ok(got.length <= want.length, `${it.key_}: compacted (${got.length} ≤ ${want.length})`);
        assert.equal(Math.min(...got), Math.min(...want), `${it.key_} min`);
        assert.equal(Math.max(...got), Math.max(...want), `${it.key_} max`);
        assert.ok(Math.abs(avg(got) - avg(want)) <= 1e-9 * Math.max(1, Math.abs(avg(want))), `${it.key_} avg ${avg(got)} vs ${avg(want)}`);
        compared++;
      }
    }
    assert.equal(compared, series.length * 3);
    assert.equal(dequantize("cpu", 1), 0.001); // the unit the comparison above converts from
  });

  it("killing a nanoprobe raises host down within deadtime + a few seconds; restarting it (one guest more) resolves it and discovers the new guest", async () => {
    const b = procs.find((p) => p.name === B)!;
    assert.deepEqual(await downProblems(B), []);
    const t0 = Date.now();
    b.child.kill("SIGKILL");
    const [problem] = await until(async () => {
      const p = await downProblems(B);
      return p.length ? p : undefined;
    }, DEADTIME_MS + 15_000, `the host-down problem of ${B}`);
    const raisedAfter = Date.now() - t0;
    assert.match(problem.name, new RegExp(`Hypervisor ${B} is down`));
    assert.deepEqual(await downProblems(C), [], "only the killed host is down");
    console.log(`      host-down problem in problem.get ${raisedAfter} ms after SIGKILL (deadtime ${DEADTIME_MS} ms)`);
    const fxB2 = writeFixture(4); // the same three guests and a new one
    fixtures.push(fxB2);
    const t1 = Date.now();
    startNanoprobe(B, "127.0.0.3", fxB2);
    await until(async () => ((await downProblems(B)).length === 0 ? true : undefined), 30_000, "the problem resolved");
    console.log(`      resolved ${Date.now() - t1} ms after the restart`);
    const [resolved] = await api.call<{ r_eventid: string }[]>("event.get", { output: ["r_eventid"], eventids: [problem.eventid] });
    assert.notEqual(resolved.r_eventid, "0", "the problem event has a recovery event");
    const newGuest = fxB2.domains[3].uuid;
    const idB = (await hostId(B))!;
    await until(async () => {
      const items = await api.call<{ key_: string }[]>("item.get", { output: ["key_"], hostids: [idB], search: { key_: newGuest } });
      return items.length > 0 ? items : undefined;
    }, 60_000, "items of the guest that appeared");
  });

  it("a nanoprobe stopped with SIGTERM before its first report: its last, partial batch reaches Zabbix", async () => {
    // D reports every 10 min, from start (spread 0): the only batch it ever sends is the one made on SIGTERM
    const D = `rwe2e-d-${sfx}`;
    const fxD = writeFixture(2);
    fixtures.push(fxD);
    const d = startProcess(D, NANOPROBE_CLI, ["run"], {
      ...common(), RINGWATCH_IDENTITY: D, RINGWATCH_BIND_ADDRESS: "127.0.0.5", RINGWATCH_PORT: String(port), RINGWATCH_CMA: `127.0.0.1:${port}`,
      RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_LIBVIRT_URI: fxD.uri,
      RINGWATCH_SAMPLE_MS: "200", RINGWATCH_REPORT_INTERVAL_MS: "10m", RINGWATCH_SCHEDULE_SPREAD: "0", RINGWATCH_DISCOVERY_DIR: "", RINGWATCH_ZABBIX_AGENT_CONFIG: "",
    });
    procs.push(d);
    const guest = fxD.domains.find((g) => g.state === "running")!;
    const key = seriesItem(guest.uuid, "cpu")!.key;
    const item = await until(async () => {
      const id = await hostId(D);
      if (!id) return undefined;
      const [it] = await api.call<{ itemid: string; value_type: string }[]>("item.get", { output: ["itemid", "value_type"], hostids: [id], filter: { key_: key } });
      return it;
    }, 60_000, `the cpu item of ${D}'s guest`);
    d.child.kill("SIGTERM");
    assert.equal(await d.exited, 0);
    const last = d.lines.find((l) => l.msg === "last stats batch before the goodbye") as { intervalStart: number; intervalMs: number; samples: number } | undefined;
    assert.ok(last && last.samples > 0, "D made a last batch with samples");
    const values = await until(async () => {
      const h = await api.call<{ clock: string; ns: string }[]>("history.get", { output: "extend", history: Number(item.value_type), itemids: [item.itemid] });
      return h.length > 0 ? h : undefined;
    }, 30_000, `${key} values of ${D} in history.get`);
    const ns = (v: { clock: string; ns: string }) => Number(v.clock) * 1e9 + Number(v.ns);
    for (const v of values) assert.ok(ns(v) >= last.intervalStart * 1e6 && ns(v) <= (last.intervalStart + last.intervalMs) * 1e6, "every value lies in the last batch's interval");
    console.log(`      ${values.length} values of ${key} in Zabbix from the batch made on SIGTERM (${last.samples} samples over ${last.intervalMs} ms)`);
  });

  it("the CMA stops cleanly; every series the nanoprobes sent mapped to an item, nothing was dropped", async () => {
    assert.equal(await cma.stop(), 0);
    const last = cma.lines.find((l) => l.msg === "stopping") as { zabbix?: { bridge: Record<string, number>; held: number }; zabbixSender?: { dropped: Record<string, number>; failed: number } } | undefined;
    assert.ok(last?.zabbix && last.zabbixSender, "the final status has the Zabbix parts");
    assert.equal(last.zabbix.bridge.unmappedSeries, 0);
    assert.ok(last.zabbix.bridge.statValues > 0);
    assert.equal(last.zabbix.bridge.syncFailures, 0);
    assert.deepEqual(Object.values(last.zabbixSender.dropped).filter((n) => n > 0), [], JSON.stringify(last.zabbixSender.dropped));
    console.log(`      sender: ${JSON.stringify(last.zabbixSender).slice(0, 400)}`);
  });
});

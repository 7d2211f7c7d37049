/**
 * High availability with zero configuration: two CMA processes and real nanoprobes, each in its
 * own network namespace on one bridge, and an etcd member in another (the loopback etcd of the
 * other HA tests cannot be reached from inside namespaces). No nanoprobe is given a CMA address:
 * they find the leader by multicast, because only the leader joins the group. The leader is
 * SIGKILLed: the hosts follow the standby that takes over, nobody is declared dead, a host killed
 * afterwards is found by the new leader, and a host started afterwards with no address finds the
 * new leader by multicast. Addresses exist only inside namespaces this test creates.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetnsTopology, uniquePrefix } from "./support/netns.js";
import { CMA_CLI, NANOPROBE_CLI, RunningProcess, runToExit, testCmaAddressesFile, testIdentityKeyFile } from "./support/processes.js";
import type { LogLine } from "./support/processes.js";

const TIMING = { heartbeatMs: 500, warntimeMs: 2000, deadtimeMs: 4000 };
const PORT = 1984;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("system: two CMAs in high availability across network namespaces, hosts joining by multicast", function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-ha-mcast-"));
  let topo: NetnsTopology;
  let etcd: RunningProcess | undefined;
  const cmas: (RunningProcess | undefined)[] = [undefined, undefined];
  const nanoprobes = new Map<string, RunningProcess>();
  // namespace 0: etcd; 1, 2: the CMAs; 3..6: hv1..hv4
  const names = ["hv1", "hv2", "hv3", "hv4"];
  const etcdUrl = (): string => `http://${topo.hosts[0].address}:2379`;

  const common = (): Record<string, string> => ({
    RINGWATCH_CLUSTER: "hamcast", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0",
  });
  const startCma = (i: number): RunningProcess => {
    const h = topo.hosts[1 + i];
    const p = new RunningProcess(`cma${i}`, topo.spawnIn(h.ns, process.execPath, [CMA_CLI, "run"], {
      ...common(), RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_DATA_DIR: join(dir, `cma${i}-state`),
      RINGWATCH_BIND_ADDRESS: "0.0.0.0", RINGWATCH_PORT: String(PORT), RINGWATCH_MULTICAST_INTERFACE: h.address,
      RINGWATCH_ETCD_ENDPOINTS: etcdUrl(), RINGWATCH_HA_ADVERTISE_ADDRESS: `${h.address}:${PORT}`,
      RINGWATCH_HEARTBEAT_MS: String(TIMING.heartbeatMs), RINGWATCH_WARNTIME_MS: String(TIMING.warntimeMs), RINGWATCH_DEADTIME_MS: String(TIMING.deadtimeMs),
      RINGWATCH_REANNOUNCE_GRACE_MS: "6000",
    }));
    cmas[i] = p;
    return p;
  };
  const startNanoprobe = (i: number): RunningProcess => {
    const h = topo.hosts[3 + i];
    const p = new RunningProcess(names[i], topo.spawnIn(h.ns, process.execPath, [NANOPROBE_CLI, "run"], {
      ...common(), RINGWATCH_IDENTITY: names[i], RINGWATCH_BIND_ADDRESS: h.address, RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"),
      RINGWATCH_IDENTITY_KEY_FILE: testIdentityKeyFile(names[i]), RINGWATCH_JOIN_INTERVAL_MS: "1000",
      RINGWATCH_CMA_ADDRESSES_FILE: testCmaAddressesFile(names[i]), // no RINGWATCH_CMA: the leader is found by multicast
    }));
    nanoprobes.set(names[i], p);
    return p;
  };
  const events = (i: number, type: string, since = 0): LogLine[] =>
    cmas[i]!.lines.filter((l) => l.msg === "membership event" && l.type === type && (l.at as number) >= since);
  const cmaAddress = (i: number): string => `${topo.hosts[1 + i].address}:${PORT}`;

  before(async () => {
    assert.ok(NetnsTopology.available(), NetnsTopology.check().message);
    const r = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(r.code, 0, r.stderr);
    topo = await NetnsTopology.create(uniquePrefix("rwm"), 7);
    const e = topo.hosts[0];
    etcd = new RunningProcess("etcd", topo.spawnIn(e.ns, "etcd", [
      "--name", "m1", "--data-dir", join(dir, "etcd"),
      "--listen-client-urls", etcdUrl(), "--advertise-client-urls", etcdUrl(),
      "--listen-peer-urls", `http://${e.address}:2380`, "--initial-advertise-peer-urls", `http://${e.address}:2380`,
      "--initial-cluster", `m1=http://${e.address}:2380`, "--heartbeat-interval", "50", "--election-timeout", "500",
      "--logger", "zap", "--log-level", "warn",
    ]));
    startCma(0);
    await cmas[0]!.waitFor((l) => l.msg === "elected leader", 30_000, "CMA 0 leads");
    await cmas[0]!.waitFor((l) => l.msg === "CMA started", 15_000, "CMA 0 started");
    startCma(1);
    await cmas[1]!.waitFor((l) => l.msg === "standing by for the leadership", 15_000, "CMA 1 stands by");
    for (let i = 0; i < 3; i++) startNanoprobe(i);
  });
  afterEach(function () {
    if (this.currentTest?.state !== "failed") return;
    for (const p of [...cmas, ...nanoprobes.values()]) {
      if (!p) continue;
      console.log(`      --- ${p.name}, last lines:`);
      for (const l of p.lines.slice(-25)) console.log(`      ${JSON.stringify(l).slice(0, 300)}`);
    }
  });
  after(async () => {
    await Promise.all([...nanoprobes.values(), ...cmas, etcd].map((p) => p?.stop(3000)));
    await topo?.destroy();
  });

  it("hosts with no CMA address join the leader by multicast and learn both CMAs; the standby admits nobody", async () => {
    for (const n of names.slice(0, 3)) await cmas[0]!.waitFor((l) => l.msg === "membership event" && l.type === "hostJoined" && l.host === n, 20_000, `${n} joined`);
    for (const n of names.slice(0, 3)) {
      const p = nanoprobes.get(n)!;
      const reg = await p.waitFor((l) => l.msg === "registered with the CMA", 10_000, `${n} registered`);
      assert.equal(reg.cma, cmaAddress(0));
      const listed = await p.waitFor((l) => String(l.msg).startsWith("the CMA listed every CMA of the cluster") && (l.cmas as string[]).length === 2, 15_000, `${n} learns both CMAs`);
      assert.deepEqual((listed.cmas as string[]).slice().sort(), [cmaAddress(0), cmaAddress(1)].sort());
    }
    assert.deepEqual(events(1, "hostJoined"), [], "the standby admitted nobody");
  });

  it("the leader SIGKILLed: the standby leads and the hosts follow it, nobody is declared dead; a host killed next is found by the new leader; a new host finds the new leader by multicast", async () => {
    await sleep(2000); // the membership mirrored to etcd (every 1 s)
    const killedAt = Date.now();
    cmas[0]!.child.kill("SIGKILL");
    await cmas[0]!.exited;
    await cmas[1]!.waitFor((l) => l.msg === "elected leader", 20_000, "CMA 1 leads");
    // commanded by the new leader: an assignment or a request to announce again, from its address
    for (const n of names.slice(0, 3)) {
      await nanoprobes.get(n)!.waitFor(
        (l) => Date.parse(String(l.time)) >= killedAt && (l.msg === "registered with the CMA" || l.msg === "CMA asked us to announce again") && l.cma === cmaAddress(1),
        20_000, `${n} follows the new leader`);
    }
    await sleep(TIMING.deadtimeMs + 2000); // a false death would show by now
    assert.deepEqual(events(1, "hostDead"), [], "nobody declared dead in the switch");
    assert.deepEqual(events(1, "hostJoined"), [], "restored hosts are not new joins");

    const killed = Date.now();
    nanoprobes.get("hv3")!.child.kill("SIGKILL");
    const dead = await cmas[1]!.waitFor((l) => l.msg === "membership event" && l.type === "hostDead", TIMING.deadtimeMs + 15_000, "the new leader declares hv3 dead");
    assert.equal(dead.host, "hv3");
    console.log(`      SIGKILL of the leader → the hosts followed; hv3 declared dead ${(dead.at as number) - killed} ms after its SIGKILL (deadtime ${TIMING.deadtimeMs} ms)`);

    // hv4 has never known a CMA: the multicast group is its only way in, and only the new leader is in it
    const p = startNanoprobe(3);
    await cmas[1]!.waitFor((l) => l.msg === "membership event" && l.type === "hostJoined" && l.host === "hv4", 20_000, "hv4 joined the new leader");
    const reg = await p.waitFor((l) => l.msg === "registered with the CMA", 10_000, "hv4 registered");
    assert.equal(reg.cma, cmaAddress(1));
    await sleep(1000);
    assert.deepEqual(events(1, "hostDead").map((l) => l.host), ["hv3"], "nobody else declared dead");
  });
});

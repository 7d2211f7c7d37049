/**
 * Rings as separate OS processes, each nanoprobe in its own network namespace on a bridge, the CMA
 * in another: zero-configuration join by multicast (no CMA address anywhere), then a SIGKILL, a
 * restart, a clean SIGTERM, and a CMA crash and restart. Addresses exist only inside namespaces
 * this test creates.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "@ringwatch/shared/testing";
import { NetnsTopology, uniquePrefix } from "./support/netns.js";
import { CMA_CLI, NANOPROBE_CLI, RunningProcess, runToExit, testIdentityKeyFile } from "./support/processes.js";
import type { LogLine } from "./support/processes.js";

const TIMING = { heartbeatMs: 500, warntimeMs: 2000, deadtimeMs: 4000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("system: rings across network namespaces (separate processes, multicast join)", function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-netns-"));
  let topo: NetnsTopology;
  const nanoprobes = new Map<string, RunningProcess>();
  let cma: RunningProcess;
  const names = ["hv1", "hv2", "hv3", "hv4", "hv5"];

  const common = (): Record<string, string> => ({
    RINGWATCH_CLUSTER: "netns", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0",
  });
  const startCma = (): RunningProcess => {
    const h = topo.hosts[0];
    return new RunningProcess("cma", topo.spawnIn(h.ns, process.execPath, [CMA_CLI, "run"], {
      ...common(), RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_DATA_DIR: join(dir, "cma-state"),
      RINGWATCH_BIND_ADDRESS: "0.0.0.0", RINGWATCH_MULTICAST_INTERFACE: h.address, RINGWATCH_HEARTBEAT_MS: String(TIMING.heartbeatMs),
      RINGWATCH_WARNTIME_MS: String(TIMING.warntimeMs), RINGWATCH_DEADTIME_MS: String(TIMING.deadtimeMs), RINGWATCH_REANNOUNCE_GRACE_MS: "6000",
    }));
  };
  const startNanoprobe = (i: number): RunningProcess => {
    const h = topo.hosts[i + 1];
    const p = new RunningProcess(names[i], topo.spawnIn(h.ns, process.execPath, [NANOPROBE_CLI, "run"], {
      ...common(), RINGWATCH_IDENTITY: names[i], RINGWATCH_BIND_ADDRESS: h.address, RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"),
      RINGWATCH_IDENTITY_KEY_FILE: testIdentityKeyFile(names[i]), RINGWATCH_JOIN_INTERVAL_MS: "1000", // no RINGWATCH_CMA: the CMA is found by multicast
    }));
    nanoprobes.set(names[i], p);
    return p;
  };
  const events = (type: string): LogLine[] => cma.lines.filter((l) => l.msg === "membership event" && l.type === type);
  const lastNeighbours = (p: RunningProcess): string[] => (p.lines.filter((l) => l.msg === "neighbours assigned by the CMA").at(-1)?.neighbours as string[]) ?? [];

  before(async () => {
    assert.ok(NetnsTopology.available(), NetnsTopology.check().message);
    const r = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(r.code, 0, r.stderr);
    // CMA + 3 nanoprobes in segment 0, 2 nanoprobes in segment 1 (one bridge, two /24s)
    topo = await NetnsTopology.create(uniquePrefix(), 6, [0, 0, 0, 0, 1, 1]);
    cma = startCma();
    await cma.waitFor((l) => l.msg === "CMA started", 15_000, "CMA started");
    names.forEach((_, i) => startNanoprobe(i));
  });
  after(async () => {
    await Promise.all([...nanoprobes.values(), cma].map((p) => p?.stop(3000)));
    await topo?.destroy();
  });

  it("nanoprobes with no CMA address join by multicast and form topology-aware rings", async () => {
    for (const n of names) await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostJoined" && l.host === n, 20_000, `${n} joined`);
    for (const [, p] of nanoprobes) await p.waitFor((l) => l.msg === "registered with the CMA", 10_000, "registered");
    // segment 10.199.0.0/24: hv1..hv3 in a ring; 10.199.1.0/24: hv4, hv5; representatives hv1 and hv4 watch each other
    const rings: Record<string, string> = { hv1: "hv2,hv3,hv4", hv2: "hv1,hv3", hv4: "hv1,hv5", hv5: "hv4" };
    await waitUntil(() => Object.entries(rings).every(([n, want]) => lastNeighbours(nanoprobes.get(n)!).sort().join() === want), 15_000, "the rings as planned").catch(() => undefined); // the asserts below say what differs
    // and a second for heartbeats to flow: without it, one full run's hv2, killed ~1.5 s after the
    // CMA started, was not declared dead within 14 s (3 runs alone: 4.7-4.9 s; not explained yet)
    await sleep(1000);
    assert.deepEqual(lastNeighbours(nanoprobes.get("hv2")!).sort(), ["hv1", "hv3"]);
    assert.deepEqual(lastNeighbours(nanoprobes.get("hv1")!).sort(), ["hv2", "hv3", "hv4"]);
    assert.deepEqual(lastNeighbours(nanoprobes.get("hv5")!).sort(), ["hv4"]);
    assert.deepEqual(lastNeighbours(nanoprobes.get("hv4")!).sort(), ["hv1", "hv5"]);
    const seg = cma.lines.filter((l) => l.msg === "membership event" && l.type === "hostJoined").map((l) => `${l.host}:${l.segment}`).sort();
    assert.deepEqual(seg, ["hv1:10.199.0.0/24", "hv2:10.199.0.0/24", "hv3:10.199.0.0/24", "hv4:10.199.1.0/24", "hv5:10.199.1.0/24"]);
  });

  it("SIGKILL of a nanoprobe: exactly that host is declared dead within deadtime + 2 s, and the ring is repaired", async () => {
    const victim = nanoprobes.get("hv2")!;
    const t0 = Date.now();
    victim.child.kill("SIGKILL");
    const dead = await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostDead", TIMING.deadtimeMs + 10_000, "hostDead");
    const took = (dead.at as number) - t0;
    assert.equal(dead.host, "hv2");
    assert.ok(took <= TIMING.deadtimeMs + 2000, `declared after ${took} ms`);
    // hv2's neighbours hv1 and hv3 now watch each other
    await nanoprobes.get("hv1")!.waitFor(() => lastNeighbours(nanoprobes.get("hv1")!).sort().join() === "hv3,hv4", 5000, "hv1 repaired");
    await nanoprobes.get("hv3")!.waitFor(() => lastNeighbours(nanoprobes.get("hv3")!).sort().join() === "hv1", 5000, "hv3 repaired");
    await sleep(2000);
    assert.deepEqual(events("hostDead").map((l) => l.host), ["hv2"], "nobody else declared dead");
    console.log(`      hv2 declared dead ${took} ms after SIGKILL (deadtime ${TIMING.deadtimeMs} ms)`);
  });

  it("the killed host restarts and rejoins the ring", async () => {
    const p = startNanoprobe(1);
    await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostReturned" && l.host === "hv2", 20_000, "hv2 returned");
    await p.waitFor((l) => l.msg === "neighbours assigned by the CMA" && (l.neighbours as string[]).sort().join() === "hv1,hv3", 10_000, "hv2 back in the ring");
  });

  it("SIGTERM is a clean leave: the ring is repaired at once and nobody is declared dead", async () => {
    const p = nanoprobes.get("hv5")!;
    const deadBefore = events("hostDead").length;
    const t0 = Date.now();
    p.child.kill("SIGTERM");
    assert.equal(await p.exited, 0);
    const left = await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostLeft" && l.host === "hv5", 5000, "hv5 left");
    assert.ok((left.at as number) - t0 < TIMING.deadtimeMs, "repaired before any deadtime");
    await nanoprobes.get("hv4")!.waitFor(() => lastNeighbours(nanoprobes.get("hv4")!).join() === "hv1", 5000, "hv4 repaired");
    await sleep(TIMING.deadtimeMs + 2000);
    assert.equal(events("hostDead").length, deadBefore);
  });

  it("CMA killed and restarted: no false deaths, the rings are restored", async () => {
    const ringsBefore = new Map(["hv1", "hv2", "hv3", "hv4"].map((n) => [n, lastNeighbours(nanoprobes.get(n)!).sort().join()]));
    await sleep(1000); // let the snapshot settle
    cma.child.kill("SIGKILL");
    await cma.exited;
    await sleep(TIMING.deadtimeMs + 1000); // heartbeats go on without the CMA
    cma = startCma();
    await cma.waitFor((l) => l.msg === "CMA started", 15_000, "CMA restarted");
    for (const n of ["hv1", "hv2", "hv3", "hv4"]) await nanoprobes.get(n)!.waitFor((l) => l.msg === "CMA asked us to announce again" || l.msg === "CMA restarted: announcing again", 15_000, `${n} asked to re-announce`);
    await sleep(8000); // beyond the re-announce grace period
    assert.deepEqual(events("hostDead"), [], "no false deaths");
    assert.deepEqual(events("hostJoined"), [], "known hosts are restored, not re-joined");
    for (const [n, before] of ringsBefore) assert.equal(lastNeighbours(nanoprobes.get(n)!).sort().join(), before, `${n}'s ring`);
  });
});

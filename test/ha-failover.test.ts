/**
 * CMAs in high availability, as shipped: two real CMA processes (127.0.0.1 and 127.0.0.2) on the
 * real 3-member etcd (scripts/etcd.sh), 24 simulated nanoprobes with real sockets that know both.
 * The leader is SIGKILLed, then frozen past its lease and thawed; etcd loses a member, then all of
 * them. Throughout: the hosts follow whoever leads, nobody is declared dead who was not killed,
 * and a CMA that no longer leads commands nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Etcd3 } from "etcd3";
import { Simulator } from "@ringwatch/nanoprobe";
import { waitUntil } from "@ringwatch/shared/testing";
import { CMA_CLI } from "./support/processes.js";
import { ensureEtcd, freshPrefix, signalMember, startMember } from "./support/etcd.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const until = (cond: () => boolean, timeoutMs: number, what: string): Promise<void> => waitUntil(cond, timeoutMs, what, 100);
const PORT = 19861;
const CMA_ADDRESSES = ["127.0.0.1", "127.0.0.2"];
const DEPOSED = "no longer leader: commands and forwarding stop now";

describe("system: two CMAs in high availability on a real etcd, 24 simulated hosts", function () {
  this.timeout(180_000);
  let sim: Simulator | undefined;
  let client: Etcd3;
  const prefix = freshPrefix("failover");
  before(async () => {
    const endpoints = await ensureEtcd();
    client = new Etcd3({ hosts: endpoints.split(","), dialTimeout: 2000 });
    sim = await Simulator.start({
      hosts: 24, perSegment: 12, port: PORT, cmaCli: CMA_CLI, workDir: mkdtempSync(join(tmpdir(), "rw-ha-")), seed: 17,
      heartbeatMs: 300, warntimeMs: 1000, deadtimeMs: 2000, cmaAddresses: CMA_ADDRESSES,
      cmaEnv: { RINGWATCH_ETCD_ENDPOINTS: endpoints, RINGWATCH_ETCD_PREFIX: prefix, RINGWATCH_REANNOUNCE_GRACE_MS: "8000" },
    });
    await sim.waitForRings(60_000);
  });
  after(async () => {
    await sim?.stop();
    client?.close();
  });

  /** every running host registered with CMA i */
  const allFollow = (i: number): boolean => sim!.hosts.filter((h) => h.fate === "running").every((h) => h.view.registered && h.view.cma === `${CMA_ADDRESSES[i]}:${PORT}`);
  /** the membership snapshot the leader mirrored to etcd, as a new leader would restore it */
  const mirroredHosts = async (): Promise<number> => {
    const v = await client.get(`${prefix}/sim/state/membership.json`).buffer();
    return v ? (JSON.parse(gunzipSync(v).toString()) as { hosts: unknown[] }).hosts.length : 0;
  };
  const linesOf = (cma: number, after: number): { msg: string; at: number }[] => sim!.cmaLines.filter((l) => l.cma === cma && l.at >= after);

  it("the leader SIGKILLed: the standby leads in a higher epoch, every host follows it, nobody is declared dead; a host killed right after is found and its ring repaired", async () => {
    const s = sim!;
    const first = s.leaderIndex!;
    const standby = 1 - first;
    assert.ok(allFollow(first), "every host registered with the first leader");
    let mirrored = 0;
    for (const end = Date.now() + 10_000; (mirrored = await mirroredHosts()) !== 24; await sleep(200)) {
      assert.ok(Date.now() < end, `the membership mirrored to etcd holds ${mirrored} hosts of 24`);
    }
    const killedAt = Date.now();
    await s.stopCma("SIGKILL", first);
    await until(() => s.leaderStarts.length >= 2, 20_000, "the standby leads");
    const [a, b] = s.leaderStarts;
    assert.equal(b.cma, standby);
    assert.ok(b.epoch > a.epoch, `epoch ${b.epoch} after ${a.epoch}`);
    const [victim] = s.pickRunning(1);
    await s.kill([victim]);
    await until(() => allFollow(standby), 20_000, "every host registered with the new leader");
    const followedAt = Date.now();
    await until(() => s.eventsOf("hostDead").some((e) => e.host === victim.name), 20_000, "the victim declared dead by the new leader");
    await until(() => s.hosts.filter((h) => h.fate === "running").every((h) => h.view.neighbours.length > 0 && !h.view.neighbours.includes(victim.name)), 10_000, "the ring repaired around the victim");
    await sleep(1500); // a false death would show by now (deadtime 2 s)
    const summary = s.summary();
    assert.deepEqual(summary.falseDeaths, []);
    assert.deepEqual(summary.declaredDead, [victim.name]);
    assert.deepEqual(s.eventsOf("hostDead").map((e) => e.cma), [standby], "declared by the new leader");
    assert.deepEqual(s.events.filter((e) => e.type === "hostJoined" && e.cma === standby), [], "restored hosts are not new joins");
    console.log(`      SIGKILL → new leader's first commands ${(b.reannounceAt ?? b.at) - killedAt} ms, → leading ${b.at - killedAt} ms, → all 23 hosts followed ≤ ${followedAt - killedAt} ms (lease 3 s)`);
  });

  it("the leader frozen (SIGSTOP) past its lease, a host killed meanwhile: the other leads and declares it dead; thawed, the old leader commands nothing, steps down and stands by", async () => {
    const s = sim!;
    const frozen = s.leaderIndex!;
    const other = 1 - frozen;
    // the CMA killed in the last test comes back, and stands by
    void s.startCmaProcess(other).catch(() => undefined);
    await until(() => linesOf(other, 0).some((l) => l.msg === "standing by for the leadership"), 15_000, "the restarted CMA stands by");
    const starts = s.leaderStarts.length;
    const pid = s.cmaPids[frozen]!;
    const stoppedAt = Date.now();
    process.kill(pid, "SIGSTOP");
    // its neighbours report it to the frozen leader: the reports wait in its socket for the thaw
    const [victim] = s.pickRunning(1);
    await s.kill([victim]);
    try {
      await until(() => s.leaderStarts.length > starts, 20_000, "the other CMA leads");
      await until(() => allFollow(other), 20_000, "every host follows the new leader");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await until(() => linesOf(frozen, stoppedAt).some((l) => l.msg === DEPOSED), 10_000, "the thawed leader knows it is deposed");
    // nothing it logged after the freeze came before its deposition: no death confirmed, no ring changed, no command
    const after = linesOf(frozen, stoppedAt);
    assert.equal(after[0].msg, DEPOSED, `first line after the thaw: ${JSON.stringify(after[0])}`);
    await until(() => linesOf(frozen, stoppedAt).some((l) => l.msg === "standing by for the leadership"), 10_000, "it stands by again");
    await until(() => s.eventsOf("hostDead").some((e) => e.host === victim.name), 20_000, "the victim declared dead");
    await until(() => s.hosts.filter((h) => h.fate === "running").every((h) => h.view.neighbours.length > 0 && !h.view.neighbours.includes(victim.name)), 10_000, "the ring repaired around the victim");
    await sleep(1500);
    assert.deepEqual(s.eventsOf("hostDead").filter((e) => e.host === victim.name).map((e) => e.cma), [other], "declared dead once, by the leader");
    assert.ok(allFollow(other), "the hosts still follow the new leader");
    assert.equal(s.leaderIndex, other);
    assert.deepEqual(s.summary().falseDeaths, []);
  });

  it("etcd loses one member: nothing changes; loses all (frozen): nobody leads, nobody is declared dead; back: a leader again, every host follows it", async () => {
    const s = sim!;
    const leader = s.leaderIndex!;
    const since = Date.now();
    const starts = s.leaderStarts.length;
    const deaths = s.eventsOf("hostDead").length;
    await signalMember(3, "KILL");
    try {
      await sleep(5000); // two and a half leases
      assert.equal(s.leaderStarts.length, starts, "no new leader");
      assert.deepEqual(linesOf(leader, since).filter((l) => l.msg === DEPOSED), [], "the leader kept its lease on two members");
    } finally {
      await startMember(3);
    }
    const frozenAt = Date.now();
    for (const m of [1, 2, 3]) await signalMember(m, "STOP");
    try {
      await until(() => linesOf(leader, frozenAt).some((l) => l.msg === DEPOSED), 10_000, "the leader deposed once its lease cannot be renewed");
      await sleep(3000);
      assert.equal(s.leaderStarts.length, starts, "no CMA leads while etcd is unreachable");
    } finally {
      for (const m of [1, 2, 3]) await signalMember(m, "CONT");
    }
    await until(() => s.leaderStarts.length > starts, 30_000, "a leader once etcd is back");
    const now = s.leaderIndex!;
    await until(() => allFollow(now), 30_000, "every host follows it");
    await sleep(1500);
    assert.equal(s.eventsOf("hostDead").length, deaths, "nobody declared dead through the etcd outage");
    assert.deepEqual(s.summary().falseDeaths, []);
  });
});

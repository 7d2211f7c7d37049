/**
 * Rings at scale with the simulator: simulated nanoprobes (real sockets on 127.0.S.H) against a
 * real CMA process. Deaths, leaves, a silenced segment, packet loss, a CMA crash.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Simulator } from "@ringwatch/nanoprobe";
import { waitUntil } from "@ringwatch/shared/testing";
import { CMA_CLI } from "./support/processes.js";

const workDir = (): string => mkdtempSync(join(tmpdir(), "rw-sim-"));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const until = (cond: () => boolean, timeoutMs: number, what: string): Promise<void> => waitUntil(cond, timeoutMs, what, 100);

describe("system: rings with the simulator", function () {
  this.timeout(600_000);
  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  it("a stuck worker: the call fails in bounded time naming it, and stop() kills it (nothing outlives the simulator)", async () => {
    sim = await Simulator.start({ hosts: 4, perSegment: 4, port: 19856, cmaCli: CMA_CLI, workDir: workDir(), seed: 1, workers: 2, workerAnswerMs: 2000 });
    const [stuck] = sim.workerPids;
    process.kill(stuck, "SIGSTOP");
    const victim = sim.hosts.find((h) => h.worker === 0)!;
    await assert.rejects(sim.kill([victim]), /simulator worker 0 did not answer 'kill' within 2000 ms; it used 0 % of a core meanwhile; it wrote no diagnostic report.*; threads: \d+× node T do_signal_stop/);
    const cma = sim.cmaPid!;
    await sim.stop();
    sim = undefined;
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.equal(alive(stuck), false, "the stopped worker was killed");
    assert.equal(alive(cma), false, "the CMA stopped");
  });

  it("1,000 hosts join; 20 random kills: none missed, no false deaths; clean leaves are not deaths", async () => {
    sim = await Simulator.start({ hosts: 1000, perSegment: 50, port: 19851, cmaCli: CMA_CLI, workDir: workDir(), seed: 20261121 });
    const joinMs = await sim.waitForRings(120_000);
    assert.equal(sim.eventsOf("hostJoined").length, 1000);
    const victims = sim.pickRunning(20);
    const leavers = sim.pickRunning(5, (h) => victims.includes(h));
    await sim.kill(victims);
    await sim.leave(leavers);
    // deadtime 10 s; a host whose both neighbours died is found after the ring repair (+10 s)
    await until(() => sim!.summary().missed.length === 0, 60_000, `missed: ${sim!.summary().missed.join(",")}`);
    await sleep(3000); // anything false would show up by now
    const s = sim.summary();
    assert.deepEqual(s.missed, []);
    assert.deepEqual(s.falseDeaths, []);
    assert.deepEqual(new Set(s.declaredDead), new Set(victims.map((h) => h.name)));
    assert.equal(new Set(sim.eventsOf("hostDead").map((e) => e.host)).size, sim.eventsOf("hostDead").length, "each death declared once");
    assert.deepEqual(new Set(sim.eventsOf("hostLeft").map((e) => e.host)), new Set(leavers.map((h) => h.name)));
    assert.deepEqual(s.segmentEvents, []);
    // the rings were repaired: every survivor still has neighbours, none of them dead
    const gone = new Set([...victims, ...leavers].map((h) => h.name));
    await until(() => sim!.hosts.filter((h) => h.fate === "running").every((h) => h.view.neighbours.every((n) => !gone.has(n))), 10_000, "ring repair");
    console.log(`      join ${joinMs} ms; detection p50 ${s.detectionMs.p50} ms, p99 ${s.detectionMs.p99} ms (deadtime 10 s)`);
  });

  it("heartbeats off, addresses past 127.0.250.x: 510 hosts join with no heartbeat sent; kills are found from the watchers' injected reports, no false deaths", async () => {
    sim = await Simulator.start({ hosts: 510, perSegment: 2, port: 19857, cmaCli: CMA_CLI, workDir: workDir(), seed: 8, heartbeats: false, heartbeatMs: 300, warntimeMs: 1000, deadtimeMs: 2000 });
    await sim.waitForRings(60_000);
    assert.equal(sim.eventsOf("hostJoined").length, 510);
    const far = sim.segmentHosts(255)[1];
    assert.equal(far.address, "127.1.5.2");
    assert.equal(sim.eventsOf("hostJoined").find((e) => e.host === far.name)?.segment, "127.1.5.0/24", "the CMA's segment is the simulator's");
    assert.equal(sim.segmentName(255), "127.1.5.0/24");
    // not the representatives (h001): a representative's death also silences a representative-ring link
    const victims = [...sim.pickRunning(3, (h) => h.segment <= 250 || h.name.endsWith("h001")), ...sim.pickRunning(3, (h) => h.segment > 250 || h.name.endsWith("h001"))];
    await sim.kill(victims);
    await until(() => sim!.summary().missed.length === 0, 30_000, `missed: ${sim!.summary().missed.join(",")}`);
    await sleep(2000);
    const s = sim.summary();
    assert.deepEqual(s.falseDeaths, []);
    assert.deepEqual(new Set(s.declaredDead), new Set(victims.map((h) => h.name)));
    assert.ok(s.detectionMs.p50 >= 2000, `reported at deadtime, not before: ${s.detectionMs.p50} ms`);
    assert.equal(sim.hosts.reduce((n, h) => n + h.view.heartbeatsSent, 0), 0, "no heartbeat sent");
  });

  it("a whole segment silenced is one segment event, not a death per host", async () => {
    sim = await Simulator.start({ hosts: 200, perSegment: 40, port: 19852, cmaCli: CMA_CLI, workDir: workDir(), seed: 7 });
    await sim.waitForRings(60_000);
    const seg = sim.segmentHosts(3);
    await sim.partition(seg);
    await until(() => sim!.eventsOf("segmentSuspected").length > 0, 30_000, "segment event");
    await sleep(3000);
    const events = sim.eventsOf("segmentSuspected");
    assert.equal(events.length, 1);
    assert.equal(events[0].segment, sim.segmentName(3));
    assert.deepEqual(new Set(events[0].hosts), new Set(seg.map((h) => h.name)));
    assert.deepEqual(sim.eventsOf("hostDead"), [], "no host declared dead");
    // the link comes back: the segment recovers, its hosts rejoin the rings
    await sim.resume(seg);
    await until(() => sim!.eventsOf("segmentRecovered").length > 0, 30_000, "segment recovery");
    await until(() => seg.every((h) => h.view.registered && h.view.neighbours.length > 0), 30_000, "segment back in the rings");
    assert.deepEqual(sim.eventsOf("hostDead"), []);
  });

  it("a CMA crash and restart: no false deaths, rings restored, a death during the outage still found", async () => {
    sim = await Simulator.start({ hosts: 100, perSegment: 25, port: 19853, cmaCli: CMA_CLI, workDir: workDir(), seed: 3, cmaEnv: { RINGWATCH_REANNOUNCE_GRACE_MS: "8000" } });
    await sim.waitForRings(60_000);
    const before = new Map(sim.hosts.map((h) => [h.name, h.view.neighbours.join(",")]));
    await sleep(1000); // the snapshot is written within 500 ms of a change
    await sim.stopCma("SIGKILL");
    const [victim] = sim.pickRunning(1);
    await sim.kill([victim]);
    await sleep(1000);
    const eventsBefore = sim.events.length;
    await sim.startCma();
    await until(() => sim!.eventsOf("hostDead").length > 0, 40_000, "the death during the outage");
    await sleep(2000);
    const after = sim.events.slice(eventsBefore);
    assert.deepEqual(after.filter((e) => e.type === "hostDead").map((e) => e.host), [victim.name]);
    assert.deepEqual(after.filter((e) => e.type === "hostJoined"), [], "restored hosts are not new joins");
    // the rings are what they were, minus the victim
    await until(() => sim!.hosts.filter((h) => h.fate === "running").every((h) => h.view.registered), 20_000, "re-registration");
    const changed = sim.hosts.filter((h) => h.fate === "running" && h.view.neighbours.join(",") !== before.get(h.name));
    assert.ok(changed.every((h) => before.get(h.name)!.includes(victim.name)), `only the victim's neighbours changed: ${changed.map((h) => h.name)}`);
  });

  it("a frozen host is declared dead and rejoins when it thaws; a slow host is not dead", async () => {
    sim = await Simulator.start({ hosts: 60, perSegment: 30, port: 19855, cmaCli: CMA_CLI, workDir: workDir(), seed: 5, heartbeatMs: 500, warntimeMs: 2000, deadtimeMs: 4000 });
    await sim.waitForRings(60_000);
    const [frozen, slow] = sim.pickRunning(2, (h) => h.name.endsWith("h001"));
    await sim.slow([slow], 300); // every datagram it sends arrives 300 ms late
    await sim.pause([frozen]);
    await until(() => sim!.eventsOf("hostDead").length > 0, 15_000, "the frozen host declared dead");
    assert.deepEqual(sim.eventsOf("hostDead").map((e) => e.host), [frozen.name]);
    await sim.resume([frozen]);
    // it sees its own stall (past deadtime) and announces again: the CMA takes it back
    await until(() => sim!.eventsOf("hostReturned").some((e) => e.host === frozen.name), 20_000, "the thawed host returns");
    await until(() => frozen.view.neighbours.length > 0 && sim!.hosts.some((h) => h.view.neighbours.includes(frozen.name)), 10_000, "back in the ring");
    await sleep(3000);
    assert.deepEqual(sim.eventsOf("hostDead").map((e) => e.host), [frozen.name], "the slow host was never declared dead");
  });

  // 3 minutes (it was 5, the suite's budget is 30): ~72,000 heartbeats through 5% loss, and a false
  // death needs ten in a row lost to one host (deadtime 10 s at 1 s heartbeats): decisive all the same
  it("200 hosts at 5% packet loss for 3 minutes: no false deaths", async () => {
    sim = await Simulator.start({ hosts: 200, perSegment: 50, port: 19854, cmaCli: CMA_CLI, workDir: workDir(), seed: 11, loss: 0.05 });
    await sim.waitForRings(60_000);
    // both counted over the same 3 minutes (the heartbeats received while the rings formed made the
    // loss look ~2 % when the join took a few seconds: a suite run failed on it)
    const count = (): { sent: number; received: number } => ({
      sent: sim!.hosts.reduce((s, h) => s + h.view.heartbeatsSent, 0), received: sim!.hosts.reduce((s, h) => s + h.view.heartbeatsReceived, 0),
    });
    const before = count();
    await sleep(3 * 60_000);
    const after = count();
    const sent = after.sent - before.sent;
    const received = after.received - before.received;
    assert.ok(sent > 200 * 2 * 170, `heartbeats sent: ${sent}`);
    console.log(`      ${received} of ${sent} heartbeats arrived (${((100 * received) / sent).toFixed(1)} %)`);
    assert.ok(received < sent * 0.97 && received > sent * 0.9, `about 5 % lost (${received} of ${sent} arrived)`);
    assert.deepEqual(sim.eventsOf("hostDead"), []);
    assert.deepEqual(sim.eventsOf("segmentSuspected"), []);
    assert.equal(sim.summary().falseDeaths.length, 0);
  });
});

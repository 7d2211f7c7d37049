import assert from "node:assert/strict";
import { LocalStallDetector, localStallAlert } from "../../src/ring/local-stall.js";
import { NeighbourWatch } from "../../src/ring/neighbour-watch.js";

const n = (name: string) => ({ name, address: "127.0.0.1", port: 1 });
const TIMING = { heartbeatMs: 1000, warntimeMs: 5000, deadtimeMs: 10_000 };
const CHECK_MS = 250;

/**
 * The agent's check loop on an injected clock: every CHECK_MS the detector ticks, a stall is
 * excused, then silence is judged; heartbeats of live neighbours arrive every heartbeatMs. While the
 * process is stalled nothing runs; the heartbeats sent meanwhile wait in the socket buffer and are
 * read right after the first check on thaw (libuv runs timers before polling sockets).
 */
class CheckLoop {
  readonly detector = new LocalStallDetector(CHECK_MS);
  readonly watch = new NeighbourWatch(TIMING);
  readonly verdicts: string[] = [];
  readonly alive = new Set<string>();
  now = 0;
  private buffered: string[] = [];

  constructor(
    names: string[],
    private readonly excuse = true,
  ) {
    this.watch.assign(names.map(n), 0);
    names.forEach((x) => this.alive.add(x));
    this.check();
  }

  private check(): void {
    const s = this.detector.tick(this.now, TIMING.heartbeatMs);
    if (s && this.excuse) this.watch.excuse(s.fromMs, s.toMs);
    for (const v of this.watch.check(this.now)) this.verdicts.push(`${v.kind}:${v.neighbour.name}@${this.now}`);
    for (const name of this.buffered.splice(0)) this.watch.heard(name, this.now);
  }

  /** Running normally until `until`. */
  runUntil(until: number): void {
    while (this.now + CHECK_MS <= until) {
      const next = this.now + CHECK_MS;
      // heartbeats due in (now, next] arrive on time
      for (let t = Math.floor(this.now / TIMING.heartbeatMs + 1) * TIMING.heartbeatMs; t <= next; t += TIMING.heartbeatMs) {
        for (const name of this.alive) this.watch.heard(name, t);
      }
      this.now = next;
      this.check();
    }
  }

  /** Frozen for ms: no check runs; live neighbours' heartbeats pile up in the socket buffer. */
  stall(ms: number): void {
    this.now += ms;
    this.buffered = [...this.alive];
    this.check();
  }
}

describe("nanoprobe/ring/local-stall", () => {
  it("a tick later than due by the threshold ends a stall spanning from the last tick; on-time ticks do not", () => {
    const d = new LocalStallDetector(250);
    assert.equal(d.tick(1000, 1000), undefined, "the first tick only starts the clock");
    assert.equal(d.tick(1250, 1000), undefined);
    assert.equal(d.tick(2499, 1000), undefined, "late by 999 ms: below the threshold");
    assert.deepEqual(d.tick(3749, 1000), { fromMs: 2499, toMs: 3749, stallMs: 1250 });
    assert.deepEqual(d.tick(23_749, 1000), { fromMs: 3749, toMs: 23_749, stallMs: 20_000 });
    assert.deepEqual(d.counters, { stalls: 2, stalledMs: 21_250, longestStallMs: 20_000 });
    const a = localStallAlert({ fromMs: 3749, toMs: 23_749, stallMs: 20_000 }, d.counters, 2, Date.parse("2026-01-01T00:00:20Z"));
    assert.equal(a.kind, "localStall");
    assert.equal(a.active, true, "one-shot: raised, never cleared");
    assert.deepEqual(JSON.parse(a.evidenceJson), { stallMs: 20_000, since: "2026-01-01T00:00:00.000Z", neighboursExcused: 2, stallsSinceStart: 2, stalledMsSinceStart: 21_250 });
  });

  it("stalls of 5 s and 20 s: no LATE or DEAD about a healthy neighbour; one dead during the stall is reported after deadtime outside it", () => {
    const loop = new CheckLoop(["healthy", "dies"]);
    loop.runUntil(10_000);
    loop.stall(5000); // 10 000 → 15 000
    loop.runUntil(19_600);
    loop.alive.delete("dies"); // last heard at 19 000: it dies while we are frozen
    loop.runUntil(20_000);
    assert.deepEqual(loop.verdicts, [], "silence inside the 5 s stall counts for nobody");
    loop.stall(20_000); // 20 000 → 40 000
    loop.runUntil(60_000);
    // "dies": 1 s of silence before the stall counts, the 20 s inside it do not: LATE 4 s, DEAD 9 s after the thaw
    assert.deepEqual(loop.verdicts, ["LATE:dies@44000", "DEAD:dies@49000"]);
    assert.equal(loop.watch.status(loop.now).find((s) => s.name === "healthy")?.state, "ok");
  });

  it("without the excuse (the mutation) the same stalls report the healthy neighbour", () => {
    const loop = new CheckLoop(["healthy"], false);
    loop.runUntil(10_000);
    loop.stall(5000);
    loop.runUntil(20_000);
    loop.stall(20_000);
    assert.deepEqual(loop.verdicts, ["LATE:healthy@15000", "DEAD:healthy@40000"]);
  });

  it("stalls that come often delay a verdict by the time stalled, never forever", () => {
    const loop = new CheckLoop(["healthy", "dead"]);
    loop.alive.delete("dead"); // silent from 0
    for (let t = 0; t < 60_000; t += 4000) {
      loop.runUntil(t + 2000);
      loop.stall(2000); // half the time frozen
    }
    const dead = loop.verdicts.filter((v) => v.startsWith("DEAD:dead@"));
    assert.equal(dead.length, 1, loop.verdicts.join(" "));
    const at = Number(dead[0].split("@")[1]);
    // 10 s of silence counted outside stalls: about 20 s of wall time, far before the 60 s the stalls go on for
    assert.ok(at >= 18_000 && at <= 24_000, `DEAD at ${at}`);
    assert.ok(!loop.verdicts.some((v) => v.includes(":healthy@")), loop.verdicts.join(" "));
  });

  it("no verdict within a heartbeat period after a stall: a neighbour already quiet before it gets its buffered heartbeats read first", () => {
    const w = new NeighbourWatch(TIMING);
    w.assign([n("lossy"), n("gone")], 0);
    w.heard("lossy", 1000);
    w.heard("gone", 1000);
    w.excuse(5900, 7000); // 4.9 s of loss before we stalled
    assert.deepEqual(w.check(7000), []);
    assert.deepEqual(w.check(7600), [], "5.5 s counted, but within a heartbeat period of the thaw");
    w.heard("lossy", 7601);
    assert.deepEqual(w.check(8000).map((v) => `${v.kind}:${v.neighbour.name}:${v.silentMs}`), ["LATE:gone:7000"], "reported silence is all of it");
    assert.deepEqual(w.status(8000).find((x) => x.name === "lossy"), { name: "lossy", state: "ok", heartbeats: 2, silentMs: 399, excusedMs: 0 });
  });
});

/**
 * The suspicion unit driven directly: real Membership and real rules; only the network is a
 * double (a probe function that answers for the hosts the test says are up).
 */
import assert from "node:assert/strict";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import type { PeerAddress } from "@ringwatch/shared";
import { Membership } from "../../src/membership/membership.js";
import type { HostRecord, MembershipEventInput } from "../../src/membership/membership.js";
import { NOT_ASSIGNED } from "../../src/membership/ring-plan.js";
import { Suspicion } from "../../src/membership/suspicion.js";
import type { SuspicionOptions } from "../../src/membership/suspicion.js";

const SEG_A = "10.0.1.0/24";
const SEG_B = "10.0.2.0/24";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function host(name: string, segment: string, i: number, unconfirmed = false): HostRecord {
  const net = segment === SEG_A ? "10.0.1" : "10.0.2";
  return { name, machineId: "m", address: `${net}.${i}`, port: 1984, segment, state: "alive", since: 0, joinedAt: 0, version: "t", assignedKey: "k", unconfirmed };
}

interface SceneOptions {
  unit?: Partial<SuspicionOptions>;
  /** the hosts await re-announcement (as after a CMA restart) */
  unconfirmed?: boolean;
  /** how long a probe takes to be answered or given up */
  probeMs?: number;
}

/** Hosts a1..aN in segment A and b1..bM in segment B, rings planned, a fake network, the unit. */
function scene(nA: number, nB: number, { unit: opts = {}, unconfirmed = false, probeMs = 2 }: SceneOptions = {}) {
  const membership = new Membership(1);
  for (let i = 1; i <= nA; i++) membership.upsert(host(`a${i}`, SEG_A, i, unconfirmed));
  for (let i = 1; i <= nB; i++) membership.upsert(host(`b${i}`, SEG_B, i, unconfirmed));
  membership.replan();
  const byAddress = new Map(membership.hosts().map((h) => [`${h.address}:${h.port}`, h.name]));
  const up = new Set(membership.hosts().map((h) => h.name));
  const probed: string[] = [];
  let pending = 0;
  const probe = async (to: PeerAddress): Promise<boolean> => {
    const name = byAddress.get(`${to.address}:${to.port}`)!;
    probed.push(name);
    pending++;
    await sleep(probeMs);
    pending--;
    return up.has(name);
  };
  const events: MembershipEventInput[] = [];
  const reannounced: string[] = [];
  let replans = 0;
  const unit = new Suspicion(
    { membership, probe, event: (e) => events.push(e), replan: () => replans++, askToReannounce: (h) => reannounced.push(h.name), log: silentLogger() },
    { reannounceGraceMs: 30, segmentRecheckMs: 20, ...opts },
  );
  const h = (name: string): HostRecord => membership.get(name)!;
  const of = <T extends MembershipEventInput["type"]>(type: T) => events.filter((e): e is Extract<MembershipEventInput, { type: T }> => e.type === type);
  /** Until no probe is in flight and none starts for a while: the unit has decided. */
  const settled = async (): Promise<void> => {
    for (;;) {
      await waitUntil(() => pending === 0, 5000, "probes answered");
      const n = probed.length;
      await sleep(30);
      if (pending === 0 && probed.length === n) return;
    }
  };
  return { membership, unit, up, probed, events, reannounced, replans: () => replans, h, of, settled };
}

describe("cma/membership/suspicion", () => {
  it("a reported host that is silent while its segment peers answer is declared dead once, with every reporter", async () => {
    const s = scene(6, 3);
    try {
      s.up.delete("a3");
      s.unit.onDeadReport(s.h("a3"), "b1");
      assert.equal(s.h("a3").state, "suspect", "suspect while the probe runs (still in the rings)");
      s.unit.onDeadReport(s.h("a3"), "b2"); // more evidence while it is probed
      await s.settled();
      assert.equal(s.h("a3").state, "dead");
      const deaths = s.of("hostDead");
      assert.equal(deaths.length, 1);
      assert.deepEqual(deaths[0], { type: "hostDead", host: "a3", segment: SEG_A, reportedBy: ["b1", "b2"], confirmedBy: "probe" });
      assert.equal(s.probed.filter((n) => n === "a3").length, 1, "the second report did not start a second probe");
      assert.ok(s.replans() >= 1, "the rings are replanned after a death");
      // a later report about a host already dead is ignored: no probe, no second death
      const probes = s.probed.length;
      s.unit.onDeadReport(s.h("a3"), "b3");
      await s.settled();
      assert.equal(s.probed.length, probes);
      assert.equal(s.of("hostDead").length, 1);
    } finally {
      s.unit.stop();
    }
  });

  it("a reported host that answers the probe is not dead: deathNotConfirmed, back to alive", async () => {
    const s = scene(4, 2);
    try {
      s.unit.onDeadReport(s.h("a2"), "b1");
      s.unit.onDeadReport(s.h("a2"), "b2");
      await s.settled();
      assert.equal(s.h("a2").state, "alive");
      assert.deepEqual(s.events, [{ type: "deathNotConfirmed", host: "a2", reportedBy: ["b1", "b2"] }]);
      assert.deepEqual(s.probed, ["a2"], "only the reported host is probed");
    } finally {
      s.unit.stop();
    }
  });

  it("looks first at a handful of peers: the host's ring neighbours and the segment's representative", async () => {
    const s = scene(8, 2);
    try {
      const ring = s.membership.rings().segments.find((g) => g.segment === SEG_A)!;
      const i = 3;
      const subject = ring.members[i];
      const firstLook = new Set([ring.members[i - 1], ring.members[i + 1], ring.representative]);
      assert.equal(firstLook.size, 3);
      s.up.delete(subject);
      s.unit.onDeadReport(s.h(subject), "b1");
      await s.settled();
      assert.equal(s.of("hostDead").length, 1);
      assert.deepEqual(new Set(s.probed), new Set([subject, ...firstLook]), "no other host of the segment is probed");
    } finally {
      s.unit.stop();
    }
  });

  it("when the first look is silent but the rest of the segment answers: the host is dead, and each silent peer is confirmed on its own", async () => {
    const s = scene(8, 2);
    try {
      const ring = s.membership.rings().segments.find((g) => g.segment === SEG_A)!;
      const subject = ring.members[3];
      const firstLook = [ring.members[2], ring.members[4], ring.representative];
      for (const n of [subject, ...firstLook]) s.up.delete(n);
      s.unit.onDeadReport(s.h(subject), "b1");
      await s.settled();
      const deaths = s.of("hostDead");
      assert.deepEqual(new Set(deaths.map((d) => d.host)), new Set([subject, ...firstLook]));
      assert.deepEqual(deaths.find((d) => d.host === subject)!.reportedBy, ["b1"]);
      for (const d of deaths.filter((x) => x.host !== subject)) assert.deepEqual(d.reportedBy, ["cma-probe"]);
      assert.ok(deaths.every((d) => d.confirmedBy === "probe"));
      assert.deepEqual(s.of("segmentSuspected"), []);
      for (const n of ring.members.filter((m) => ![subject, ...firstLook].includes(m))) assert.equal(s.h(n).state, "alive");
    } finally {
      s.unit.stop();
    }
  });

  it("a host alone in its segment is declared dead on its own silence: there are no peers to ask", async () => {
    const s = scene(5, 1);
    try {
      s.up.delete("b1");
      s.unit.onDeadReport(s.h("b1"), "a1");
      await s.settled();
      assert.deepEqual(s.of("hostDead").map((d) => d.host), ["b1"]);
      assert.deepEqual(s.probed, ["b1"]);
    } finally {
      s.unit.stop();
    }
  });

  it("a host and its whole segment silent is one segmentSuspected, not a death per host; the segment's return is segmentRecovered", async () => {
    const s = scene(5, 3);
    try {
      for (const n of ["a1", "a2", "a3", "a4", "a5"]) s.up.delete(n);
      s.unit.onDeadReport(s.h("a1"), "b1");
      s.unit.onDeadReport(s.h("a1"), "b2");
      await waitUntil(() => s.of("segmentSuspected").length > 0, 5000, "segment event");
      const seg = s.of("segmentSuspected");
      assert.equal(seg.length, 1);
      assert.equal(seg[0].segment, SEG_A);
      assert.deepEqual(new Set(seg[0].hosts), new Set(["a1", "a2", "a3", "a4", "a5"]));
      assert.deepEqual(seg[0].reportedBy, ["b1", "b2"]);
      assert.deepEqual(s.of("hostDead"), []);
      for (const n of ["a1", "a2", "a3", "a4", "a5"]) assert.equal(s.h(n).state, "unreachable");
      assert.ok(s.replans() >= 1, "unreachable hosts leave the rings");
      // while the segment is out, it is probed now and then; reports about its hosts change nothing
      s.unit.onDeadReport(s.h("a2"), "b3");
      const judged = s.probed.length;
      const since = Date.now();
      await waitUntil(() => s.probed.length - judged >= 3, 5000, "rechecks of the silent segment");
      const elapsed = Date.now() - since;
      assert.deepEqual(s.of("hostDead"), []);
      // one probe per interval (20 ms), in turn, not the whole segment (5 hosts) each time: a late
      // timer on a loaded machine makes fewer probes, never more
      const rechecks = s.probed.slice(judged);
      assert.ok(rechecks.length <= Math.floor(elapsed / 20) + 2, `one probe per interval, got ${rechecks.length} in ${elapsed} ms`);
      assert.ok(new Set(rechecks).size >= 2, "the silent hosts are probed in turn");
      // the link comes back
      for (const n of ["a1", "a2", "a3", "a4", "a5"]) s.up.add(n);
      await waitUntil(() => s.of("segmentRecovered").length > 0, 5000, "segment recovery");
      await s.settled();
      const rec = s.of("segmentRecovered");
      assert.equal(rec.length, 1);
      assert.equal(rec[0].segment, SEG_A);
      assert.deepEqual(new Set(rec[0].hosts), new Set(["a1", "a2", "a3", "a4", "a5"]));
      for (const n of ["a1", "a2", "a3", "a4", "a5"]) {
        assert.equal(s.h(n).state, "alive");
        assert.equal(s.h(n).assignedKey, NOT_ASSIGNED, "a returned host gets its neighbours anew");
      }
      assert.deepEqual(s.of("hostDead"), []);
      // the segment is back: the periodic recheck stops probing it
      const probes = s.probed.length;
      await sleep(80);
      assert.equal(s.probed.length, probes);
    } finally {
      s.unit.stop();
    }
  });

  it("silences reported at the same time in one segment are judged one after the other: one segment event, not one per report", async () => {
    const s = scene(5, 2, { unit: { segmentRecheckMs: 60_000 } });
    try {
      for (const n of ["a1", "a2", "a3", "a4", "a5"]) s.up.delete(n);
      s.unit.onDeadReport(s.h("a1"), "b1");
      s.unit.onDeadReport(s.h("a2"), "b2");
      await s.settled();
      assert.equal(s.of("segmentSuspected").length, 1);
      // Not pinned here: a2, still suspect while a1's segment was judged, is left out of that event and
      // then judged alone against a segment already unreachable, which declares it dead.
    } finally {
      s.unit.stop();
    }
  });

  it("when part of a silent segment is heard again, who answers is back and who does not is dead (segment-recheck)", async () => {
    const s = scene(4, 2, { unit: { segmentRecheckMs: 60_000 } }); // only the explicit recheck below
    try {
      for (const n of ["a1", "a2", "a3", "a4"]) s.up.delete(n);
      s.unit.onDeadReport(s.h("a1"), "b1");
      await waitUntil(() => s.of("segmentSuspected").length > 0, 5000, "segment event");
      await s.settled();
      // a2 speaks (the ring service marks it alive and asks for a recheck); a3 answers; a4 does not
      s.membership.setState(s.h("a2"), "alive");
      s.up.add("a2");
      s.up.add("a3");
      s.probed.length = 0;
      s.unit.recheckSegment(SEG_A);
      await s.settled();
      assert.deepEqual(new Set(s.probed), new Set(["a1", "a3", "a4"]), "all of the still silent part is probed");
      assert.deepEqual(s.of("segmentRecovered"), [{ type: "segmentRecovered", segment: SEG_A, hosts: ["a3"] }]);
      assert.equal(s.h("a3").state, "alive");
      const deaths = s.of("hostDead");
      assert.deepEqual(new Set(deaths.map((d) => d.host)), new Set(["a1", "a4"]));
      assert.ok(deaths.every((d) => d.confirmedBy === "segment-recheck" && d.reportedBy.join() === "cma-probe"));
    } finally {
      s.unit.stop();
    }
  });

  it("a recheck where nobody answers changes nothing", async () => {
    const s = scene(3, 2, { unit: { segmentRecheckMs: 60_000 } });
    try {
      for (const n of ["a1", "a2", "a3"]) s.up.delete(n);
      s.unit.onDeadReport(s.h("a1"), "b1");
      await waitUntil(() => s.of("segmentSuspected").length > 0, 5000, "segment event");
      await s.settled();
      const before = s.events.length;
      s.unit.recheckSegment(SEG_A);
      await s.settled();
      assert.equal(s.events.length, before);
      for (const n of ["a1", "a2", "a3"]) assert.equal(s.h(n).state, "unreachable");
    } finally {
      s.unit.stop();
    }
  });

  it("a suspicion overtaken while the probe runs (the host spoke, or said goodbye) reaches no verdict", async () => {
    const s = scene(4, 2);
    try {
      s.up.delete("a1");
      s.up.delete("a2");
      s.unit.onDeadReport(s.h("a1"), "b1");
      s.unit.onDeadReport(s.h("a2"), "b1");
      s.unit.onDeadReport(s.h("a3"), "b1"); // answers the probe, but says goodbye first
      s.unit.clearSuspicion(s.h("a1"), "alive");
      s.unit.clearSuspicion(s.h("a2"), "left");
      s.unit.clearSuspicion(s.h("a3"), "left");
      await s.settled();
      assert.deepEqual(s.events, []);
      assert.equal(s.h("a1").state, "alive");
      assert.equal(s.h("a2").state, "left");
      assert.equal(s.h("a3").state, "left");
    } finally {
      s.unit.stop();
    }
  });

  it("after a CMA restart, hosts that did not re-announce within the grace period are probed: who answers is asked again, who does not is dead", async () => {
    const s = scene(4, 2, { unconfirmed: true, probeMs: 40 });
    try {
      s.up.delete("a2");
      s.up.delete("b2");
      s.h("a3").unconfirmed = false; // re-announced in time
      s.unit.scheduleUnconfirmedCheck();
      s.unit.scheduleUnconfirmedCheck(); // one grace period, however often it is asked for
      await sleep(10);
      assert.deepEqual(s.probed, [], "nobody is probed before the grace period ends");
      await waitUntil(() => s.probed.length > 0, 5000, "probes after the grace period");
      s.h("b2").unconfirmed = false; // re-announces while its probe is out: it is not judged on that probe
      await s.settled();
      assert.deepEqual([...s.probed].sort(), ["a1", "a2", "a4", "b1", "b2"], "each waiting host probed once; the re-announced one not at all");
      assert.deepEqual([...s.reannounced].sort(), ["a1", "a4", "b1"]);
      assert.deepEqual(s.of("hostDead"), [{ type: "hostDead", host: "a2", segment: SEG_A, reportedBy: ["cma-probe"], confirmedBy: "restart-probe" }]);
      assert.equal(s.h("a2").unconfirmed, false);
      assert.equal(s.h("a1").state, "alive");
      assert.equal(s.h("b2").state, "alive");
    } finally {
      s.unit.stop();
    }
  });

  it("stopped, it starts no probes: no grace check, no segment recheck", async () => {
    const s = scene(3, 2, { unconfirmed: true });
    s.unit.stop();
    s.unit.scheduleUnconfirmedCheck();
    await sleep(80);
    assert.deepEqual(s.probed, []);

    const t = scene(3, 2);
    for (const n of ["a1", "a2", "a3"]) t.up.delete(n);
    t.unit.onDeadReport(t.h("a1"), "b1");
    await waitUntil(() => t.of("segmentSuspected").length > 0, 5000, "segment event");
    t.unit.stop();
    await sleep(10); // a recheck probe already sent may still be answered
    const probes = t.probed.length;
    await sleep(80);
    assert.equal(t.probed.length, probes);
  });
});

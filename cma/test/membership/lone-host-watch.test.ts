/**
 * The lone-host watch driven directly, wired as the ring service wires it: real Membership, real
 * ring plan, real Suspicion for the verdict; only the network is a double (a probe function that
 * answers for the hosts the test says are up).
 */
import assert from "node:assert/strict";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import type { PeerAddress } from "@ringwatch/shared";
import { LoneHostWatch } from "../../src/membership/lone-host-watch.js";
import { Membership } from "../../src/membership/membership.js";
import type { HostRecord, MembershipEventInput } from "../../src/membership/membership.js";
import { Suspicion } from "../../src/membership/suspicion.js";

const SEG = "10.0.1.0/24";
const PROBE_EVERY_MS = 20;
const DEADTIME_MS = 400;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function host(i: number): HostRecord {
  return { name: `h${i}`, machineId: "m", address: `10.0.1.${i}`, port: 1984, segment: SEG, state: "alive", since: 0, joinedAt: 0, version: "t", assignedKey: "k", unconfirmed: false };
}

/** Hosts h1..hN, the watch and the suspicion unit wired like RingService; replans run at once. */
function scene(n: number) {
  const membership = new Membership(1);
  const up = new Set<string>();
  const probed: string[] = [];
  const events: MembershipEventInput[] = [];
  const probe = async (to: PeerAddress): Promise<boolean> => {
    const name = membership.hosts().find((h) => h.address === to.address && h.port === to.port)!.name;
    probed.push(name);
    await sleep(2);
    return up.has(name);
  };
  let watch: LoneHostWatch | undefined = undefined;
  const replan = (): void => {
    membership.replan();
    watch!.refresh();
  };
  const suspicion = new Suspicion(
    { membership, probe, event: (e) => events.push(e), replan, askToReannounce: () => undefined, log: silentLogger() },
    { reannounceGraceMs: 60_000, segmentRecheckMs: 60_000 },
  );
  watch = new LoneHostWatch(
    { membership, probe, silent: (h) => suspicion.onDeadReport(h, "cma-probe", "lone-probe"), log: silentLogger() },
    { probeEveryMs: PROBE_EVERY_MS, deadtimeMs: DEADTIME_MS },
  );
  const add = (i: number): void => {
    membership.upsert(host(i));
    up.add(`h${i}`);
    replan();
  };
  for (let i = 1; i <= n; i++) add(i);
  const of = <T extends MembershipEventInput["type"]>(type: T) => events.filter((e): e is Extract<MembershipEventInput, { type: T }> => e.type === type);
  const stop = (): void => {
    watch!.stop();
    suspicion.stop();
  };
  return { membership, watch, suspicion, up, probed, events, of, add, h: (name: string) => membership.get(name)!, stop };
}

describe("cma/membership/lone-host-watch", () => {
  it("a host alone in the rings that answers is probed every interval and stays alive: no event, no suspicion", async () => {
    const s = scene(1);
    try {
      assert.deepEqual(s.watch.hosts, ["h1"]);
      await sleep(DEADTIME_MS * 3);
      assert.ok(s.probed.length >= 10, `probed ${s.probed.length} times in three deadtimes`);
      assert.ok(s.probed.every((n) => n === "h1"));
      assert.deepEqual(s.events, []);
      assert.equal(s.h("h1").state, "alive");
    } finally {
      s.stop();
    }
  });

  it("silence shorter than deadtime is no death: a few unanswered probes, then answers again", async () => {
    const s = scene(1);
    try {
      await sleep(PROBE_EVERY_MS * 3);
      s.up.delete("h1");
      const before = s.probed.length;
      await waitUntil(() => s.probed.length >= before + 4 || s.events.length > 0, 5000, "unanswered probes");
      s.up.add("h1");
      await sleep(DEADTIME_MS * 2);
      assert.deepEqual(s.events, []);
      assert.equal(s.h("h1").state, "alive");
    } finally {
      s.stop();
    }
  });

  it("a lone host that stops answering is declared dead once, on the CMA's own probe (lone-probe); then nothing is probed", async () => {
    const s = scene(1);
    try {
      await sleep(PROBE_EVERY_MS * 3);
      s.up.delete("h1");
      await waitUntil(() => s.of("hostDead").length > 0, 10_000, "hostDead");
      assert.deepEqual(s.of("hostDead"), [{ type: "hostDead", host: "h1", segment: SEG, reportedBy: ["cma-probe"], confirmedBy: "lone-probe" }]);
      assert.equal(s.h("h1").state, "dead");
      assert.deepEqual(s.watch.hosts, [], "a dead host leaves the rings and the watch");
      await sleep(PROBE_EVERY_MS * 2);
      const probes = s.probed.length;
      await sleep(DEADTIME_MS);
      assert.equal(s.probed.length, probes, "no probes after the verdict");
      assert.equal(s.events.length, 1);
    } finally {
      s.stop();
    }
  });

  it("hosts with ring neighbours are not probed; a host left alone by a death is, and its own death is found", async () => {
    const s = scene(2);
    try {
      assert.deepEqual(s.watch.hosts, []);
      await sleep(PROBE_EVERY_MS * 5);
      assert.deepEqual(s.probed, [], "two hosts watch each other: the CMA sends nothing");
      // h2 dies and h1 reports it: h2 is dead, h1 is left alone
      s.up.delete("h2");
      s.suspicion.onDeadReport(s.h("h2"), "h1");
      await waitUntil(() => s.of("hostDead").length === 1, 5000, "h2 dead");
      assert.deepEqual(s.of("hostDead")[0], { type: "hostDead", host: "h2", segment: SEG, reportedBy: ["h1"], confirmedBy: "probe" });
      assert.deepEqual(s.watch.hosts, ["h1"]);
      await sleep(DEADTIME_MS * 2);
      assert.equal(s.of("hostDead").length, 1, "the survivor answers: still alive");
      assert.ok(s.probed.filter((n) => n === "h1").length >= 5);
      s.up.delete("h1");
      await waitUntil(() => s.of("hostDead").length === 2, 10_000, "h1 dead");
      assert.deepEqual(s.of("hostDead")[1], { type: "hostDead", host: "h1", segment: SEG, reportedBy: ["cma-probe"], confirmedBy: "lone-probe" });
    } finally {
      s.stop();
    }
  });

  it("a lone host that gets a neighbour is no longer probed by the CMA", async () => {
    const s = scene(1);
    try {
      await waitUntil(() => s.probed.length >= 2, 5000, "lone host probed");
      s.add(2);
      assert.deepEqual(s.watch.hosts, []);
      await sleep(PROBE_EVERY_MS * 2); // a probe already out may still finish
      const probes = s.probed.length;
      await sleep(PROBE_EVERY_MS * 10);
      assert.equal(s.probed.length, probes);
      assert.deepEqual(s.events, []);
    } finally {
      s.stop();
    }
  });
});

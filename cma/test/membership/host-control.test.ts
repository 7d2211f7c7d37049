/**
 * Maintenance and removal driven directly: real Membership, Suspicion and HostControl; only the
 * network is a double (a probe that answers for the hosts the test says are up), as in suspicion.test.ts.
 */
import assert from "node:assert/strict";
import { silentLogger } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import type { PeerAddress } from "@ringwatch/shared";
import { HostControl, HostControlError, MAX_REASON_CHARS } from "../../src/membership/host-control.js";
import { Membership } from "../../src/membership/membership.js";
import type { HostRecord, MembershipEventInput } from "../../src/membership/membership.js";
import { validateSnapshot } from "../../src/membership/snapshot-store.js";
import { Suspicion } from "../../src/membership/suspicion.js";

const SEG = "10.0.1.0/24";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function scene(n: number) {
  const membership = new Membership(1);
  for (let i = 1; i <= n; i++) {
    membership.upsert({ name: `a${i}`, machineId: "m", address: `10.0.1.${i}`, port: 1984, segment: SEG, state: "alive", since: 0, joinedAt: 0, version: "t", assignedKey: "k", unconfirmed: false });
  }
  membership.replan();
  const byAddress = new Map(membership.hosts().map((h) => [`${h.address}:${h.port}`, h.name]));
  const up = new Set(membership.hosts().map((h) => h.name));
  let pending = 0;
  const probe = async (to: PeerAddress): Promise<boolean> => {
    pending++;
    await sleep(2);
    pending--;
    return up.has(byAddress.get(`${to.address}:${to.port}`)!);
  };
  const events: MembershipEventInput[] = [];
  const quieted: string[] = [];
  const event = (e: MembershipEventInput): void => void events.push(e);
  const replan = (): void => void membership.replan();
  const suspicion = new Suspicion({ membership, probe, event, replan, askToReannounce: () => undefined, log: silentLogger() }, { reannounceGraceMs: 30, segmentRecheckMs: 20 });
  const control = new HostControl({ membership, suspicion, event, replan, quiet: (h) => quieted.push(h.name), log: silentLogger() });
  const h = (name: string): HostRecord => membership.get(name)!;
  const of = <T extends MembershipEventInput["type"]>(type: T) => events.filter((e): e is Extract<MembershipEventInput, { type: T }> => e.type === type);
  const settled = async (): Promise<void> => {
    await sleep(20);
    await waitUntil(() => pending === 0, 5000, "probes answered");
    await sleep(20);
  };
  const members = (): string[] => membership.rings().segments.flatMap((s) => s.members);
  const stop = (): void => {
    control.stop();
    suspicion.stop();
  };
  return { membership, suspicion, control, up, events, quieted, h, of, settled, members, stop };
}

const HOUR = 3600_000;

describe("cma/membership/host-control: maintenance and removal", () => {
  it("in maintenance, a reported silence is no death: out of the rings, still in maintenance; speaking again puts it back", async () => {
    const s = scene(5);
    try {
      s.control.startMaintenance("a3", Date.now() + HOUR, "kernel upgrade");
      assert.equal(s.h("a3").state, "maintenance");
      assert.ok(s.members().includes("a3"), "in the rings while it answers");
      s.up.delete("a3");
      s.suspicion.onDeadReport(s.h("a3"), "a2");
      s.suspicion.onDeadReport(s.h("a3"), "a4");
      await s.settled();
      assert.equal(s.of("hostDead").length, 0, "no death");
      assert.equal(s.h("a3").state, "maintenance");
      assert.equal(s.h("a3").maintenance?.down, true);
      assert.deepEqual(s.of("hostDownInMaintenance").map((e) => [e.host, e.reportedBy.sort()]), [["a3", ["a2", "a4"]]]);
      assert.ok(!s.members().includes("a3"), "the ring repaired around it");
    } finally {
      s.stop();
    }
  });

  it("maintenance ending while the host is still silent: probed then, declared dead (confirmedBy maintenance-end); answering: alive", async () => {
    const s = scene(5);
    try {
      for (const n of ["a2", "a4"]) s.control.startMaintenance(n, Date.now() + HOUR, "rack move");
      s.up.delete("a2");
      s.suspicion.onDeadReport(s.h("a2"), "a1");
      await s.settled();
      assert.equal(s.h("a2").maintenance?.down, true);
      await s.control.endMaintenance("a2");
      await s.settled();
      assert.equal(s.h("a2").state, "dead");
      assert.deepEqual(s.of("hostDead").map((e) => [e.host, e.confirmedBy]), [["a2", "maintenance-end"]]);
      assert.deepEqual(s.of("maintenanceEnded").map((e) => [e.host, e.down, e.answered]), [["a2", true, false]]);
      // a4 never went silent: its end is simply alive, and it never left the rings
      await s.control.endMaintenance("a4");
      assert.equal(s.h("a4").state, "alive");
      assert.equal(s.of("hostDead").length, 1);
      assert.ok(s.members().includes("a4"));
    } finally {
      s.stop();
    }
  });

  it("the window ends by itself at its time (a host still silent then is declared dead); a dead host put in maintenance stays out of the rings", async () => {
    const s = scene(4);
    try {
      s.control.startMaintenance("a1", Date.now() + 150, "short");
      s.control.startMaintenance("a3", Date.now() + 150, "short, and it stays down");
      s.up.delete("a3");
      s.suspicion.onDeadReport(s.h("a3"), "a4");
      s.membership.setState(s.h("a2"), "dead");
      s.control.startMaintenance("a2", Date.now() + HOUR, "switched off on purpose");
      assert.equal(s.h("a2").maintenance?.down, true, "dead → maintenance: out of the rings");
      s.membership.replan();
      assert.ok(!s.members().includes("a2"));
      await waitUntil(() => s.h("a1").state === "alive" && s.h("a3").state === "dead", 5000, "a1's and a3's windows over");
      assert.deepEqual(s.of("maintenanceEnded").map((e) => [e.host, e.how, e.down]).sort(), [["a1", "expired", false], ["a3", "expired", true]]);
      assert.deepEqual(s.of("hostDead").map((e) => [e.host, e.confirmedBy]), [["a3", "maintenance-end"]]);
      assert.equal(s.h("a2").state, "maintenance");
    } finally {
      s.stop();
    }
  });

  it("refuses bad input with a code: unknown host, past or far time, empty/long/control-character reason, ending what is not in maintenance", async () => {
    const s = scene(2);
    try {
      const code = (f: () => unknown): string => {
        try {
          f();
        } catch (e) {
          assert.ok(e instanceof HostControlError, String(e));
          return e.code;
        }
        return "accepted";
      };
      const later = Date.now() + HOUR;
      assert.equal(code(() => s.control.startMaintenance("nope", later, "x")), "unknown-host");
      assert.equal(code(() => s.control.startMaintenance("a1", Date.now() - 1000, "x")), "bad-time");
      assert.equal(code(() => s.control.startMaintenance("a1", Date.now() + 400 * 24 * HOUR, "x")), "bad-time");
      assert.equal(code(() => s.control.startMaintenance("a1", 1.5, "x")), "bad-time");
      assert.equal(code(() => s.control.startMaintenance("a1", later, "")), "bad-reason");
      assert.equal(code(() => s.control.startMaintenance("a1", later, "x".repeat(MAX_REASON_CHARS + 1))), "bad-reason");
      assert.equal(code(() => s.control.startMaintenance("a1", later, "a\nb")), "bad-reason");
      assert.equal(code(() => s.control.remove("nope", false)), "unknown-host");
      await assert.rejects(s.control.endMaintenance("a1"), (e: HostControlError) => e.code === "not-in-maintenance");
      assert.equal(s.h("a1").state, "alive", "nothing changed");
      assert.equal(s.events.length, 0);
    } finally {
      s.stop();
    }
  });

  it("removal: out of membership and the rings, a tombstone kept (snapshot too), the host told to watch nobody; announcing again is a new host", () => {
    const s = scene(4);
    try {
      s.control.startMaintenance("a3", Date.now() + HOUR, "decommissioning");
      const t = s.control.remove("a3", true);
      assert.equal(t.purge, true);
      assert.equal(s.membership.get("a3"), undefined);
      assert.ok(!s.members().includes("a3"));
      assert.deepEqual(s.quieted, ["a3"]);
      assert.deepEqual(s.of("hostRemoved").map((e) => [e.host, e.was, e.purge]), [["a3", "maintenance", true]]);
      assert.equal(s.membership.countByState().removed, 1);
      const snap = validateSnapshot(JSON.parse(JSON.stringify(s.membership.toSnapshot())));
      assert.deepEqual(snap.removed?.map((r) => r.name), ["a3"]);
      const restored = new Membership(1);
      restored.restore(snap);
      assert.ok(restored.isRemoved("a3") && !restored.get("a3"));
      s.membership.upsert({ name: "a3", machineId: "m2", address: "10.0.1.3", port: 1984, segment: SEG, state: "alive", since: 1, joinedAt: 1, version: "t", assignedKey: "?", unconfirmed: false });
      assert.equal(s.membership.isRemoved("a3"), false, "admitted again: no longer a tombstone");
    } finally {
      s.stop();
    }
  });

  it("maintenance survives the snapshot: restored in maintenance, window and all", () => {
    const s = scene(3);
    try {
      const until = Date.now() + HOUR;
      s.control.startMaintenance("a1", until, "firmware");
      const restored = new Membership(1);
      restored.restore(validateSnapshot(JSON.parse(JSON.stringify(s.membership.toSnapshot()))));
      const h = restored.get("a1")!;
      assert.equal(h.state, "maintenance");
      assert.deepEqual({ reason: h.maintenance?.reason, until: h.maintenance?.until, down: h.maintenance?.down }, { reason: "firmware", until, down: false });
      assert.equal(h.unconfirmed, true, "awaits its re-announcement like any host that was in the rings");
      assert.throws(() => validateSnapshot({ version: 1, hosts: [{ ...s.membership.toSnapshot().hosts[0], maintenance: undefined }] }), /maintenance/);
    } finally {
      s.stop();
    }
  });
});

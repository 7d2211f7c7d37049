import assert from "node:assert/strict";
import { api, scenarioParts } from "./api-fixture.js";

describe("cma/http/membership-plugin", () => {
  it("lists hosts with their state, filtered by state or segment, without the CMA's bookkeeping", async () => {
    const { app } = await api(scenarioParts());
    try {
      const all = (await app.inject("/api/hosts")).json();
      assert.deepEqual(all.hosts.map((h: { name: string; state: string }) => `${h.name}:${h.state}`), ["hv1:alive", "hv2:alive", "hv3:dead"]);
      assert.deepEqual(all.counts, { alive: 2, suspect: 0, dead: 1, left: 0, unreachable: 0, maintenance: 0, removed: 0 });
      assert.equal(all.hosts[0].assignedKey, undefined);
      assert.equal(all.hosts[0].address, "10.0.1.1");
      const dead = (await app.inject("/api/hosts?state=dead")).json();
      assert.deepEqual(dead.hosts.map((h: { name: string }) => h.name), ["hv3"]);
      const seg = (await app.inject(`/api/hosts?segment=${encodeURIComponent("10.0.1.0/24")}`)).json();
      assert.deepEqual(seg.hosts.map((h: { name: string }) => h.name), ["hv1", "hv2"]);
      const both = (await app.inject(`/api/hosts?state=dead&segment=${encodeURIComponent("10.0.1.0/24")}`)).json();
      assert.deepEqual(both.hosts, []);
      const bad = await app.inject("/api/hosts?state=zombie");
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().message, /querystring\/state must be equal to one of the allowed values/);
    } finally {
      await app.close();
    }
  });

  it("a host in maintenance shows its window; a removed host is gone from the hosts and rings, listed only under state=removed", async () => {
    const p = scenarioParts();
    const { app } = await api(p);
    try {
      const hv1 = p.membership.get("hv1")!;
      hv1.maintenance = { reason: "kernel upgrade", until: 2_000_000_000_000, startedAt: 1_000, down: false };
      p.membership.setState(hv1, "maintenance");
      const m = (await app.inject("/api/hosts?state=maintenance")).json();
      assert.deepEqual(m.hosts.map((h: { name: string; maintenance: unknown }) => [h.name, h.maintenance]), [["hv1", { reason: "kernel upgrade", until: 2_000_000_000_000, startedAt: 1_000, down: false }]]);
      p.membership.remove("hv2", false, 5_000);
      p.membership.replan();
      const all = (await app.inject("/api/hosts")).json();
      assert.deepEqual(all.hosts.map((h: { name: string }) => h.name), ["hv1", "hv3"]);
      assert.deepEqual(all.counts, { alive: 0, suspect: 0, dead: 1, left: 0, unreachable: 0, maintenance: 1, removed: 1 });
      const rings = (await app.inject("/api/rings")).json();
      assert.ok(!JSON.stringify(rings).includes("hv2"), JSON.stringify(rings));
      const removed = (await app.inject("/api/hosts?state=removed")).json();
      assert.deepEqual(removed.hosts, [{ name: "hv2", state: "removed", since: 5_000, segment: "10.0.1.0/24", address: "10.0.1.2", purge: false }]);
      const gone = await app.inject("/api/hosts/hv2");
      assert.equal(gone.statusCode, 404);
      assert.match(gone.json().message, /hv2 was removed/);
    } finally {
      await app.close();
    }
  });

  it("one host by name, 404 for an unknown one, 400 for a name no host can have", async () => {
    const { app } = await api(scenarioParts());
    try {
      assert.equal((await app.inject("/api/hosts/hv3")).json().state, "dead");
      const missing = await app.inject("/api/hosts/hv9");
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(missing.json(), { error: "not-found", message: "no host named hv9" });
      assert.equal((await app.inject(`/api/hosts/${encodeURIComponent("../etc")}`)).statusCode, 400);
    } finally {
      await app.close();
    }
  });

  it("rings and recent events, filtered by type and host, newest last, bounded by limit", async () => {
    const { app } = await api(scenarioParts());
    try {
      const rings = (await app.inject("/api/rings")).json();
      assert.deepEqual(rings.segments, [{ segment: "10.0.1.0/24", representative: "hv1", members: ["hv1", "hv2"] }]);
      assert.deepEqual(rings.watches, { hv1: ["hv2"], hv2: ["hv1"] }, "who watches whom, as the plan assigned it");
      const ev = (await app.inject("/api/events")).json();
      assert.deepEqual(ev.events.map((e: { type: string }) => e.type), ["hostJoined", "hostJoined", "hostDead"]);
      assert.equal(ev.more, false);
      const last = (await app.inject("/api/events?limit=1")).json();
      assert.deepEqual(last.events.map((e: { host: string }) => e.host), ["hv3"]);
      assert.equal(last.more, true);
      assert.equal((await app.inject("/api/events?type=hostDead")).json().events.length, 1);
      assert.equal((await app.inject("/api/events?since=2000")).json().events.length, 2);
      // hv1 joined and reported hv3's death
      assert.deepEqual((await app.inject("/api/events?host=hv1")).json().events.map((e: { type: string }) => e.type), ["hostJoined", "hostDead"]);
      assert.equal((await app.inject("/api/events?limit=0")).statusCode, 400);
      assert.equal((await app.inject("/api/events?type=hostExploded")).statusCode, 400);
    } finally {
      await app.close();
    }
  });
});

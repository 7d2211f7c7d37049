import assert from "node:assert/strict";
import { LibvirtConnection } from "../src/connection.js";
import { needsFallback } from "../src/stats-fallback.js";
import { DEFAULT_STATS_GROUPS, type StatParams } from "../src/types.js";
import { useTestDriver } from "./fixtures/test-driver-connection.js";

const TWO_53 = 2n ** 53n;

describe("libvirt/stats-fallback", () => {
  it("falls back only for active domains whose bulk record stops at state", () => {
    assert.equal(needsFallback(DEFAULT_STATS_GROUPS, { "state.state": 1, "state.reason": 0 }), true);
    assert.equal(needsFallback(DEFAULT_STATS_GROUPS, { "state.state": 5, "state.reason": 0 }), false);
    assert.equal(needsFallback(["state"], { "state.state": 1 }), false);
    assert.equal(needsFallback(DEFAULT_STATS_GROUPS, { "state.state": 1, "cpu.time": 5n }), false);
  });

  describe("on the test driver (30 domains)", () => {
    const td = useTestDriver(30);

    it("bulk stats return only state.* on the test driver", async () => {
      const recs = await td.conn.bulkStats(DEFAULT_STATS_GROUPS);
      assert.equal(recs.length, 30);
      for (const r of recs) {
        assert.deepEqual(Object.keys(r.params).sort(), ["state.reason", "state.state"]);
        assert.equal(r.source, "bulk");
      }
    });

    it("the fallback fills the bulk keys: cpu (BigInt > 2^53), per-vCPU, balloon, per-disk, per-NIC", async () => {
      const recs = await td.conn.allDomainStats(DEFAULT_STATS_GROUPS);
      assert.equal(recs.length, 30);
      for (const want of td.fx.domains) {
        const r = recs.find((x) => x.uuid === want.uuid);
        assert.ok(r, want.name);
        const p: StatParams = r.params;
        if (want.state === "shutoff") {
          assert.equal(r.source, "bulk");
          assert.equal(p["state.state"], 5);
          assert.deepEqual(Object.keys(p).sort(), ["state.reason", "state.state"]);
          continue;
        }
        assert.equal(r.source, "fallback", want.name);
        assert.equal(p["state.state"], want.state === "paused" ? 3 : 1);
        const cpu = p["cpu.time"];
        assert.equal(typeof cpu, "bigint");
        assert.ok((cpu as bigint) > TWO_53, "cpu.time is beyond 2^53 and exact");
        assert.equal(p["vcpu.current"], want.vcpus);
        for (let v = 0; v < want.vcpus; v++) {
          assert.equal(typeof p[`vcpu.${v}.time`], "bigint");
          assert.equal(typeof p[`vcpu.${v}.state`], "number");
        }
        assert.equal(p[`vcpu.${want.vcpus}.time`], undefined);
        assert.equal(typeof p["balloon.current"], "bigint");
        assert.equal(typeof p["balloon.rss"], "bigint");
        assert.equal(p["balloon.maximum"], BigInt(want.memoryKiB));
        assert.equal(p["block.count"], want.disks.length);
        want.disks.forEach((d, i) => {
          assert.equal(p[`block.${i}.name`], d.target);
          assert.equal(p[`block.${i}.path`], d.source);
          for (const k of ["rd.bytes", "wr.bytes", "rd.reqs", "wr.reqs"]) {
            assert.equal(typeof p[`block.${i}.${k}`], "bigint", `${want.name} block.${i}.${k}`);
          }
        });
        assert.equal(p["net.count"], want.nics.length);
        want.nics.forEach((n, i) => {
          assert.equal(p[`net.${i}.name`], n.target);
          for (const k of ["rx.bytes", "tx.bytes", "rx.pkts", "tx.pkts", "rx.drop", "tx.drop"]) {
            assert.equal(typeof p[`net.${i}.${k}`], "bigint", `${want.name} net.${i}.${k}`);
          }
        });
      }
    });

    it("per-domain calls are exposed individually", async () => {
      const d = td.fx.domains.find((x) => x.state === "running" && x.disks.length > 0 && x.nics.length > 0);
      assert.ok(d);
      const v = await td.conn.vcpus(d.uuid);
      assert.equal(v.vcpus.length, d.vcpus);
      const cpu = await td.conn.cpuStats(d.uuid);
      assert.equal(typeof cpu.cpu_time, "bigint");
      const mem = await td.conn.memoryStats(d.uuid);
      assert.equal(typeof mem.actual, "bigint");
      const b = await td.conn.blockStats(d.uuid, d.disks[0].target);
      assert.equal(typeof b.rdBytes, "bigint");
      const n = await td.conn.interfaceStats(d.uuid, d.nics[0].target);
      assert.equal(typeof n.rxBytes, "bigint");
      const info = await td.conn.domainInfo(d.uuid);
      assert.equal(info.vcpus, d.vcpus);
      assert.ok(info.cpuTime > TWO_53);
    });

    it("counters move between samples and give a finite non-negative rate", async () => {
      const { counterRate } = await import("../src/counter-rate.js");
      const d = td.fx.domains.find((x) => x.state === "running");
      assert.ok(d);
      const a = await td.conn.fallbackFor(d.uuid);
      const t0 = process.hrtime.bigint();
      await new Promise((r) => setTimeout(r, 20));
      const b = await td.conn.fallbackFor(d.uuid);
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      const rate = counterRate(a["cpu.time"] as bigint, b["cpu.time"] as bigint, dt);
      assert.ok(Number.isFinite(rate) && rate > 0, `rate ${rate}`);
    });
  });
});

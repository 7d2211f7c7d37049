import assert from "node:assert/strict";
import { LibvirtConnection, type DomainStatsRecord } from "@ringwatch/libvirt";
import { Sampler } from "../../src/hypervisor/sampler.js";
import { useTestDriver } from "@ringwatch/libvirt/test-driver-connection";

describe("nanoprobe/hypervisor/sampler", () => {
  const td = useTestDriver(30);

  it("turns a pass of 30 domains into rates per domain, vCPU, disk and NIC (test driver counters follow the clock)", async () => {
    const s = new Sampler(td.conn, 1000);
    assert.equal(await s.pass(Date.now()), true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await s.pass(Date.now()), true);
    const series = s.take();
    const running = td.fx.domains.filter((d) => d.state === "running");
    const keys = [...series.keys()];
    for (const d of running) {
      const uuidKeys = keys.filter((k) => k.startsWith(`${d.uuid}/`)).map((k) => k.split("/")[1]);
      assert.ok(uuidKeys.includes("cpu"), `${d.name}: ${uuidKeys}`);
      for (let v = 0; v < d.vcpus; v++) assert.ok(uuidKeys.includes(`vcpu.${v}.time`), `${d.name} vcpu ${v}`);
      for (const disk of d.disks) assert.ok(uuidKeys.includes(`block.${disk.target}.rd.bytes`), `${d.name} ${disk.target}`);
      for (const nic of d.nics) assert.ok(uuidKeys.includes(`net.${nic.target}.rx.bytes`), `${d.name} ${nic.target}`);
    }
    for (const [k, pts] of series) {
      for (const p of pts) assert.ok(Number.isFinite(p.value) && p.value >= 0, `${k}: ${p.value}`);
    }
    assert.equal(s.take().size, 0, "taken once");
  });

  it("computes exact rates from counters beyond 2^53 and drops a counter reset instead of a negative rate", () => {
    const s = new Sampler(td.conn, 1000);
    const rec = (cpu: bigint, rd: bigint): DomainStatsRecord => ({
      uuid: "u1", name: "d1", source: "bulk", params: { "cpu.time": cpu, "block.0.name": "vda", "block.0.rd.bytes": rd, "balloon.current": 1024n },
    });
    const big = 2n ** 60n;
    s.ingest([rec(big, 1000n)], 0);
    s.ingest([rec(big + 500_000_000n, 3000n)], 1000); // half a CPU; 2000 B/s
    s.ingest([rec(big + 1_500_000_000n, 10n)], 2000); // disk counter went backwards: no rate
    const t = s.take();
    assert.deepEqual(t.get("u1/cpu")!.map((p) => p.value), [0.5, 1]);
    assert.deepEqual(t.get("u1/block.vda.rd.bytes")!.map((p) => p.value), [2000]);
    assert.deepEqual(t.get("u1/balloon.current")!.map((p) => p.value), [1024, 1024, 1024]);
  });

  it("a new connection re-bases every counter (no rate spans the gap); detached, a pass samples nothing", async () => {
    const s = new Sampler(td.conn, 1000);
    const rec = (cpu: bigint): DomainStatsRecord => ({ uuid: "u1", name: "d1", source: "bulk", params: { "cpu.time": cpu, "balloon.current": 1024n } });
    s.ingest([rec(10_000_000_000n)], 0);
    s.ingest([rec(10_500_000_000n)], 1000); // half a CPU
    s.attach(undefined); // libvirt went away
    assert.equal(await s.pass(), false);
    assert.equal(s.stats.detachedPasses, 1);
    s.attach(td.conn); // back, e.g. a libvirtd restarted meanwhile
    s.ingest([rec(90_000_000_000n)], 2000); // a baseline only: 80 CPUs over one second would be a spike
    s.ingest([rec(90_250_000_000n)], 3000);
    const t = s.take();
    assert.deepEqual(t.get("u1/cpu")!.map((p) => p.value), [0.5, 0.25]);
    assert.equal(t.get("u1/balloon.current")!.length, 4, "gauges need no baseline");
  });

  it("reuses what it worked out per stat only while it still holds: a device renamed or moved at its index, a vCPU gone a pass, a domain gone and back", () => {
    const s = new Sampler(td.conn, 1000);
    const rec = (p: DomainStatsRecord["params"]): DomainStatsRecord => ({ uuid: "u1", name: "d1", source: "bulk", params: p });
    s.ingest([rec({ "cpu.time": 0n, "vcpu.1.time": 0n, "block.0.name": "vda", "block.0.rd.bytes": 0n, "net.0.name": "vnet0", "net.0.rx.bytes": 0n })], 0);
    // vda unplugged, vdb plugged in at index 0; vCPU 1 gone for this pass
    s.ingest([rec({ "cpu.time": 1_000_000_000n, "block.0.name": "vdb", "block.0.rd.bytes": 500n, "net.0.name": "vnet0", "net.0.rx.bytes": 100n })], 1000);
    // vCPU 1 back (a baseline again); vnet0 moved to index 1, a new vnet1 at index 0
    s.ingest([rec({
      "cpu.time": 2_000_000_000n, "vcpu.1.time": 700_000_000n, "block.0.name": "vdb", "block.0.rd.bytes": 1500n,
      "net.0.name": "vnet1", "net.0.rx.bytes": 5000n, "net.1.name": "vnet0", "net.1.rx.bytes": 300n,
    })], 2000);
    s.ingest([], 3000); // the domain is not listed: what was kept for it goes
    s.ingest([rec({ "cpu.time": 9_000_000_000n })], 4000); // back: a baseline, not 3.5 CPUs over the gap
    s.ingest([rec({ "cpu.time": 9_500_000_000n })], 5000);
    const t = s.take();
    assert.deepEqual(t.get("u1/cpu")!.map((p) => p.value), [1, 1, 0.5]);
    assert.equal(t.get("u1/block.vda.rd.bytes"), undefined, "vdb's counter never counts for vda");
    assert.deepEqual(t.get("u1/block.vdb.rd.bytes")!.map((p) => p.value), [1000]);
    assert.deepEqual(t.get("u1/net.vnet0.rx.bytes")!.map((p) => p.value), [100, 200], "vnet0's rate follows it to index 1");
    assert.equal(t.get("u1/net.vnet1.rx.bytes"), undefined, "vnet1's first value is a baseline");
    assert.equal(t.get("u1/vcpu.1.time"), undefined, "a vCPU missing a pass starts again from a baseline");
  });

  it("never runs two passes at once (a slow pass delays instead of piling up)", async () => {
    const s = new Sampler(td.conn, 1000);
    const [a, b] = await Promise.all([s.pass(), s.pass()]);
    assert.deepEqual([a, b].sort(), [false, true]);
    assert.equal(s.stats.skippedPasses, 1);
  });
});

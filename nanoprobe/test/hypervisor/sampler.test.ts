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

  it("never runs two passes at once (a slow pass delays instead of piling up)", async () => {
    const s = new Sampler(td.conn, 1000);
    const [a, b] = await Promise.all([s.pass(), s.pass()]);
    assert.deepEqual([a, b].sort(), [false, true]);
    assert.equal(s.stats.skippedPasses, 1);
  });
});

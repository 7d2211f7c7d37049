/**
 * The metric catalogue holds across the three packages: every series the nanoprobe's real sampler
 * makes (from libvirt's test driver, and from a record holding every stat libvirt's bulk call
 * returns for the groups the nanoprobe asks for) has an item prototype in the CMA's Zabbix
 * definitions, the bridge maps it to that item, and the quantizer gives it the catalogue's kind.
 * A series named outside the catalogue would fall into the bridge's unmappedSeries: it fails here.
 */
import assert from "node:assert/strict";
import { METRIC_CATALOGUE, catalogued, metricKind } from "@ringwatch/shared";
import { TEMPLATES, seriesItem } from "@ringwatch/cma";
import type { ItemDef } from "@ringwatch/cma";
import { Sampler } from "@ringwatch/nanoprobe";
import { LibvirtConnection } from "@ringwatch/libvirt";
import type { DomainStatsRecord } from "@ringwatch/libvirt";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";

const UUID = "5e1f0000-0000-4000-8000-0000000000ff";

/**
 * One domain's record with every parameter virConnectGetAllDomainStats documents for the groups
 * state, cpu-total, balloon, vcpu, interface and block (two vCPUs, one NIC, one disk): whatever
 * the sampler turns into a series from a real hypervisor, it turns into one from this.
 */
function fullBulkRecord(counter: bigint): DomainStatsRecord {
  const params: DomainStatsRecord["params"] = {
    "state.state": 1, "state.reason": 1,
    "cpu.time": counter, "cpu.user": counter, "cpu.system": counter, "cpu.haltpoll.success.time": counter, "cpu.haltpoll.fail.time": counter,
    "balloon.current": 1048576n, "balloon.maximum": 2097152n, "balloon.swap_in": counter, "balloon.swap_out": counter,
    "balloon.major_fault": counter, "balloon.minor_fault": counter, "balloon.unused": 1000n, "balloon.available": 900000n,
    "balloon.usable": 800000n, "balloon.last-update": 1700000000n, "balloon.disk_caches": 1000n, "balloon.hugetlb_pgalloc": 0n,
    "balloon.hugetlb_pgfail": 0n, "balloon.rss": 500000n,
    "vcpu.current": 2, "vcpu.maximum": 2,
    "net.count": 1, "net.0.name": "tap7n0",
    "block.count": 1, "block.0.name": "vda", "block.0.path": "/var/lib/ringwatch/a.qcow2", "block.0.backingIndex": 1,
    "block.0.allocation": counter, "block.0.capacity": 1n << 30n, "block.0.physical": 1n << 30n, "block.0.threshold": 0n, "block.0.errors": 0n,
  };
  for (const v of [0, 1]) {
    for (const s of ["time", "wait", "delay"]) params[`vcpu.${v}.${s}`] = counter;
    params[`vcpu.${v}.state`] = 1;
    params[`vcpu.${v}.halted`] = false;
  }
  for (const dir of ["rx", "tx"]) for (const s of ["bytes", "pkts", "errs", "drop"]) params[`net.0.${dir}.${s}`] = counter;
  for (const s of ["rd.reqs", "rd.bytes", "rd.times", "wr.reqs", "wr.bytes", "wr.times", "fl.reqs", "fl.times"]) params[`block.0.${s}`] = counter;
  return { uuid: UUID, name: "full", source: "bulk", params };
}

/** The item prototype a concrete key was made from ("ringwatch.vm.cpu[<uuid>]" ← "ringwatch.vm.cpu[{#VM.UUID}]"). */
function prototypeOf(key: string, prototypes: ItemDef[]): ItemDef | undefined {
  const pattern = (k: string): RegExp => new RegExp(`^${k.split(/\{#[A-Z.]+\}/).map((part) => part.replace(/[.[\]]/g, "\\$&")).join("[^,\\]]+")}$`);
  return prototypes.find((p) => pattern(p.key).test(key));
}

describe("system: every series the sampler makes maps to a Zabbix item (metric catalogue)", function () {
  this.timeout(30_000);
  const prototypes = TEMPLATES.flatMap((t) => t.discoveryRules.flatMap((r) => r.itemPrototypes));

  it("the real sampler on libvirt's test driver, and on every stat of the bulk call: each series has its item and the catalogue's kind", async () => {
    const fx = writeFixture(10);
    const conn = await LibvirtConnection.open(fx.uri);
    const made = new Map<string, string>(); // series → "uuid/series" (an example)
    try {
      const sampler = new Sampler(conn, 1000);
      assert.equal(await sampler.pass(Date.now()), true);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await sampler.pass(Date.now()), true);
      sampler.ingest([fullBulkRecord(1_000_000_000n)], 10_000);
      sampler.ingest([fullBulkRecord(3_000_000_000n)], 11_000);
      for (const key of sampler.take().keys()) {
        const slash = key.indexOf("/");
        made.set(key.slice(slash + 1), key.slice(0, slash));
      }
    } finally {
      await conn.close();
      fx.cleanup();
    }
    assert.ok(made.size > 0);
    for (const [series, uuid] of made) {
      const item = seriesItem(uuid, series);
      assert.ok(item, `${series}: maps to no Zabbix item (the bridge would count it in unmappedSeries)`);
      const proto = prototypeOf(item.key, prototypes);
      assert.ok(proto, `${series} → ${item.key}: no item prototype in the Zabbix definitions`);
      const entry = catalogued(series)?.entry;
      assert.ok(entry, `${series}: not in the metric catalogue`);
      assert.equal(proto.key, entry.zabbix.key, series);
      assert.equal(proto.valueType, entry.zabbix.valueType, series);
      assert.equal(metricKind(series), entry.kind, `${series}: the quantizer's kind`);
    }
    // and the other way round: every catalogued series was made here, so the check above saw them all
    const seen = new Set([...made.keys()].map((s) => catalogued(s)?.entry.series));
    for (const e of METRIC_CATALOGUE) assert.ok(seen.has(e.series), `${e.series}: the sampler made none`);
  });
});

import assert from "node:assert/strict";
import { METRIC_CATALOGUE } from "@ringwatch/shared";
import { ALERT_KINDS } from "../../../src/intake/alert-store.js";
import { DEFAULT_NAMES, GUEST_ALERTS, KEYS, TEMPLATES, alertItemKeys, guestHostName, lldRows, seriesItem, stableUuid, zabbixHostName } from "../../../src/zabbix/config/definitions.js";
import type { ItemDef } from "../../../src/zabbix/config/definitions.js";
import { referencedKeys } from "../../../src/zabbix/config/template-export.js";

const U = "5e1f0000-0000-4000-8000-000000000001";

/** Does a concrete key belong to a prototype key ("ringwatch.vm.cpu[{#VM.UUID}]")? */
function fromPrototype(key: string, prototypes: ItemDef[]): ItemDef | undefined {
  const pattern = (k: string): RegExp => new RegExp(`^${k.split(/\{#[A-Z.]+\}/).map((part) => part.replace(/[.[\]]/g, "\\$&")).join("[^,\\]]+")}$`);
  return prototypes.find((p) => pattern(p.key).test(key));
}

const guest = TEMPLATES.find((t) => t.role === "guest")!;
const hypervisor = TEMPLATES.find((t) => t.role === "hypervisor")!;
const prototypes = guest.discoveryRules.flatMap((r) => r.itemPrototypes);

describe("cma/zabbix/config/definitions", () => {
  it("every series the nanoprobe samples maps to an item prototype, with the unit conversion it documents", () => {
    // the sampler's series names (nanoprobe/src/hypervisor/sampler.ts) with their quantized values (shared quantize.ts)
    const cases: [string, number, number][] = [
      ["cpu", 1234, 123.4], // per-mille of a CPU → percent
      ["vcpu.0.time", 1000, 100], ["vcpu.3.wait", 5, 0.5], ["vcpu.12.delay", 77, 7.7],
      ["balloon.current", 1048576, 1073741824], ["balloon.rss", 3, 3072], // KiB → bytes
      ["block.vda.rd.bytes", 4096, 4096], ["block.vda.wr.bytes", 1, 1], ["block.sda.rd.reqs", 9, 9], ["block.hdc.wr.reqs", 2, 2],
      ["net.tap01n0.rx.bytes", 10, 10], ["net.tap01n0.tx.bytes", 11, 11], ["net.macvtap0.rx.pkts", 3, 3], ["net.vnet7.tx.pkts", 4, 4],
      ["net.vnet7.rx.drop", 1, 1], ["net.vnet7.tx.drop", 0, 0],
    ];
    const keys = new Set<string>();
    for (const [metric, q, want] of cases) {
      const it = seriesItem(U, metric);
      assert.ok(it, metric);
      assert.equal(it.value(q), want, metric);
      assert.ok(fromPrototype(it.key, prototypes), `${metric} → ${it.key} matches no prototype`);
      keys.add(it.key);
    }
    assert.equal(keys.size, cases.length, "no two series share an item");
    assert.equal(seriesItem(U, "vcpu.1.time")!.key, `ringwatch.vm.vcpu.time[${U},1]`);
    assert.equal(seriesItem(U, "block.vdb.wr.reqs")!.key, `ringwatch.vm.disk.write.ops[${U},vdb]`);
    assert.equal(seriesItem(U, "net.tap0.rx.drop")!.key, `ringwatch.vm.net.rx.drops[${U},tap0]`);
  });

  it("every series of the metric catalogue has exactly one item prototype, with the catalogue's key, value type and units", () => {
    for (const e of METRIC_CATALOGUE) {
      const found = prototypes.filter((p) => p.key === e.zabbix.key);
      assert.equal(found.length, 1, `${e.series} → ${e.zabbix.key}`);
      assert.equal(found[0].valueType, e.zabbix.valueType, e.series);
      assert.equal(found[0].units, e.zabbix.units, e.series);
    }
  });

  it("maps nothing it cannot name safely: unknown metrics, non-UUID domains, device names that would break a key", () => {
    for (const [d, m] of [[U, "bogus"], ["", "cpu"], ["not-a-uuid", "cpu"], [U, "block.v,da.rd.bytes"], [U, "net.a]b.rx.bytes"], [U, `block.${"x".repeat(65)}.rd.bytes`], [U, 'net.a"b.rx.bytes']]) {
      assert.equal(seriesItem(d, m), undefined, `${d}/${m}`);
    }
  });

  it("every alert kind the CMA accepts has its items; alert and state keys belong to prototypes; every trigger references items of its own template", () => {
    // localStall stays out of Zabbix on purpose (the translator drops it): the CMA's log and alert events only
    for (const kind of ALERT_KINDS) assert.ok(kind in GUEST_ALERTS || ["hostMemoryLeak", "discoveryError", "libvirtUnreachable", "localStall"].includes(kind), `${kind} has no Zabbix items`);
    for (const kind of Object.keys(GUEST_ALERTS) as (keyof typeof GUEST_ALERTS)[]) {
      const k = alertItemKeys(kind, U);
      assert.ok(fromPrototype(k.flag, prototypes), k.flag);
      assert.equal(fromPrototype(k.evidence, prototypes)?.valueType, "text");
    }
    for (const t of TEMPLATES) {
      const itemKeys = new Set([...t.items, ...t.discoveryRules.flatMap((r) => r.itemPrototypes)].map((i) => i.key));
      for (const tr of [...t.triggers, ...t.discoveryRules.flatMap((r) => r.triggerPrototypes)]) {
        const refs = referencedKeys(tr);
        assert.ok(refs.length > 0, tr.name);
        for (const k of refs) assert.ok(itemKeys.has(k), `${tr.name} references ${k}`);
        for (const m of tr.expression.match(/\{\$[A-Z.]+\}/g) ?? []) assert.ok(t.macros.some((x) => x.macro === m), `${m} defined on its template`);
      }
    }
    const hostDown = hypervisor.triggers.find((t) => /is down/.test(t.name))!;
    assert.match(hostDown.expression, /^last\(\/\{T\}\/ringwatch\.host\.state\)=0 or nodata\(/, "membership drives it; nodata is only the backstop");
  });

  it("the trigger set covers what the issue asks: host down, segment, vCPU abuse, memory leaks (guest, host), micro-burst, discovery errors", () => {
    const names = TEMPLATES.flatMap((t) => [...t.triggers, ...t.discoveryRules.flatMap((r) => r.triggerPrototypes)]).map((t) => t.name).join("\n");
    for (const re of [/is down/, /segment .* unreachable/i, /vCPU abuse/, /Memory leak suspected in guest/, /Memory leak suspected on hypervisor/, /micro-burst/, /Discovery scripts failing/]) assert.match(names, re);
  });

  it("LLD rows come from the inventory; devices with unsafe names are left out and counted", () => {
    const { rows, skippedDevices } = lldRows([
      { uuid: U.toUpperCase(), name: "web 1", state: "running", vcpus: 2, memoryKib: 1024, disks: [{ target: "vda", source: "/img/a.qcow2" }, { target: "bad,name", source: "" }], nics: [{ target: "tap0", mac: "52:54:00:00:00:01", bridge: "br0", network: "" }] },
    ]);
    assert.deepEqual(rows[KEYS.lldDomains], [{ "{#VM.UUID}": U, "{#VM.NAME}": "web 1", "{#VM.STATE}": "running" }]);
    assert.deepEqual(rows[KEYS.lldVcpus].map((r) => r["{#VCPU}"]), ["0", "1"]);
    assert.deepEqual(rows[KEYS.lldDisks], [{ "{#VM.UUID}": U, "{#VM.NAME}": "web 1", "{#DISK}": "vda", "{#DISK.SOURCE}": "/img/a.qcow2" }]);
    assert.deepEqual(rows[KEYS.lldNics], [{ "{#VM.UUID}": U, "{#VM.NAME}": "web 1", "{#NIC}": "tap0", "{#NIC.MAC}": "52:54:00:00:00:01", "{#NIC.SOURCE}": "br0" }]);
    assert.equal(skippedDevices, 1);
    const macros = new Set(guest.discoveryRules.flatMap((r) => r.macros));
    for (const r of Object.values(rows).flat()) for (const m of Object.keys(r)) assert.ok(macros.has(m), m);
  });

  it("Zabbix host names: valid names unchanged, others made valid; guest hosts by UUID; stable UUIDs", () => {
    assert.equal(zabbixHostName("hv-01.dc1"), "hv-01.dc1");
    assert.equal(zabbixHostName("hv/01:a"), "hv_01_a");
    assert.equal(zabbixHostName("x".repeat(200)).length, 128);
    assert.equal(guestHostName(U.toUpperCase()), `vm-${U}`);
    const a = stableUuid(DEFAULT_NAMES.hypervisorTemplate, "item", KEYS.hostState);
    assert.match(a, /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    assert.equal(a, stableUuid(DEFAULT_NAMES.hypervisorTemplate, "item", KEYS.hostState));
    assert.notEqual(a, stableUuid(DEFAULT_NAMES.hypervisorTemplate, "item", KEYS.hostEvent));
  });
});

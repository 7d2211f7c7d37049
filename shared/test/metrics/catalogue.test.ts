import assert from "node:assert/strict";
import { METRIC_CATALOGUE, catalogued, dequantize, metricKind, quantize, seriesName } from "../../src/index.js";

/** One concrete name per entry: the placeholder filled with a plausible vCPU number or device. */
const example = (series: string): string => series.replace("<n>", "3").replace("<dev>", "vda");

describe("shared/metrics/catalogue", () => {
  it("names are unique, each with at most one placeholder; Zabbix keys are unique and carry the macro of that placeholder", () => {
    assert.equal(new Set(METRIC_CATALOGUE.map((e) => e.series)).size, METRIC_CATALOGUE.length);
    assert.equal(new Set(METRIC_CATALOGUE.map((e) => e.zabbix.key)).size, METRIC_CATALOGUE.length);
    for (const e of METRIC_CATALOGUE) {
      const placeholders = e.series.match(/<[a-z]+>/g) ?? [];
      assert.ok(placeholders.length <= 1 && placeholders.every((p) => p === "<n>" || p === "<dev>"), e.series);
      const macros = (e.zabbix.key.match(/\{#[A-Z.]+\}/g) ?? []).filter((m) => m !== "{#VM.UUID}");
      assert.ok(e.zabbix.key.includes("[{#VM.UUID}"), `${e.series}: the guest is the key's first parameter`);
      const want = placeholders.length === 0 ? [] : e.series.startsWith("vcpu.") ? ["{#VCPU}"] : e.series.startsWith("block.") ? ["{#DISK}"] : ["{#NIC}"];
      assert.deepEqual(macros, want, e.series);
    }
  });

  it("the quantum of each entry is the quantizer's step for its kind", () => {
    for (const e of METRIC_CATALOGUE) {
      assert.equal(dequantize(e.kind, 1), e.quantum, e.series);
      assert.equal(quantize(e.kind, e.quantum), 1, e.series);
    }
  });

  it("seriesName fills the placeholder with the device or vCPU number as it is", () => {
    assert.equal(seriesName("cpu"), "cpu");
    assert.equal(seriesName("vcpu.<n>.delay", "12"), "vcpu.12.delay");
    assert.equal(seriesName("block.<dev>.wr.reqs", "vdb"), "block.vdb.wr.reqs");
    assert.equal(seriesName("net.<dev>.rx.bytes", "a$&b.c"), "net.a$&b.c.rx.bytes", "no replacement patterns");
  });

  it("finds the entry of a series name and what stands in its placeholder; other names are not catalogued", () => {
    for (const e of METRIC_CATALOGUE) assert.equal(catalogued(example(e.series))?.entry, e, e.series);
    assert.deepEqual(catalogued("vcpu.4095.wait"), { entry: METRIC_CATALOGUE.find((e) => e.series === "vcpu.<n>.wait"), part: "4095" });
    assert.equal(catalogued("block.my.disk.rd.bytes")?.part, "my.disk", "a device name may hold dots");
    assert.equal(catalogued("cpu")?.part, undefined);
    for (const m of ["", "cpu.user", "vcpu.12345.time", "vcpu.x.time", "vcpu.0.halted", "block..rd.bytes", "block.vda.rd.times", "net.tap0.rx.errs", "balloon.maximum", "mem.total"]) {
      assert.equal(catalogued(m), undefined, m);
    }
  });

  it("the quantizer takes each catalogued series' kind from the catalogue; other names keep the kind of their shape", () => {
    for (const e of METRIC_CATALOGUE) assert.equal(metricKind(example(e.series)), e.kind, e.series);
    const byShape: [string, string][] = [
      ["cpu.user", "cpu"], ["vcpu.12345.time", "cpu"], ["net.tap0.rx.errs", "rate"], ["block.vda.errors", "rate"], ["x.packets", "rate"],
      ["mem.total", "memory"], ["balloon.maximum", "memory"], ["vcpu.current", "integer"], ["state.state", "integer"],
    ];
    for (const [m, kind] of byShape) assert.equal(metricKind(m), kind, m);
  });
});

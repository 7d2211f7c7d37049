/**
 * THE list of series a nanoprobe samples for each guest, in one table: the series name on the
 * wire (a pattern: `<n>` stands for a vCPU number, `<dev>` for a disk or NIC target device), the
 * quantizer's kind, the unit of a sample, the step the quantizer keeps, and the Zabbix item that
 * stores it (item prototype key and value type).
 *
 * The sampler names its series from here (seriesName), the quantizer takes their kinds from here
 * (metricKind), and the CMA's Zabbix definitions make their item prototypes and map series to
 * items from here: a new series gets its item where it gets its name, instead of silently falling
 * into the bridge's unmappedSeries. The Zabbix part is plain data; the nanoprobe loads no Zabbix code.
 */
import type { MetricKind } from "./quantize.js";

export interface MetricSeries {
  /** series name; at most one placeholder: `<n>` (a vCPU number) or `<dev>` (a target device name) */
  readonly series: string;
  readonly kind: MetricKind;
  /** unit of a sample as the sampler makes it (before quantizing) */
  readonly unit: string;
  /** the step the quantizer keeps, in that unit (quantize.ts: per kind) */
  readonly quantum: number;
  readonly zabbix: {
    /** item prototype key: {#VM.UUID} is the guest; {#VCPU}, {#DISK} or {#NIC} stands for the placeholder */
    readonly key: string;
    readonly valueType: "float" | "unsigned";
    /** units of the Zabbix item (the CMA converts by kind: cpu per-mille → percent, memory KiB → bytes) */
    readonly units: string;
  };
}

const CPUS = "CPU"; // CPU-seconds per wall second: 1 = one host CPU busy

/** In the order of the Zabbix item prototypes (the template export follows it). */
export const METRIC_CATALOGUE = [
  { series: "cpu", kind: "cpu", unit: CPUS, quantum: 0.001, zabbix: { key: "ringwatch.vm.cpu[{#VM.UUID}]", valueType: "float", units: "%" } },
  { series: "balloon.current", kind: "memory", unit: "KiB", quantum: 1, zabbix: { key: "ringwatch.vm.memory.current[{#VM.UUID}]", valueType: "float", units: "B" } },
  { series: "balloon.rss", kind: "memory", unit: "KiB", quantum: 1, zabbix: { key: "ringwatch.vm.memory.rss[{#VM.UUID}]", valueType: "float", units: "B" } },
  { series: "vcpu.<n>.time", kind: "cpu", unit: CPUS, quantum: 0.001, zabbix: { key: "ringwatch.vm.vcpu.time[{#VM.UUID},{#VCPU}]", valueType: "float", units: "%" } },
  { series: "vcpu.<n>.wait", kind: "cpu", unit: CPUS, quantum: 0.001, zabbix: { key: "ringwatch.vm.vcpu.wait[{#VM.UUID},{#VCPU}]", valueType: "float", units: "%" } },
  { series: "vcpu.<n>.delay", kind: "cpu", unit: CPUS, quantum: 0.001, zabbix: { key: "ringwatch.vm.vcpu.delay[{#VM.UUID},{#VCPU}]", valueType: "float", units: "%" } },
  { series: "block.<dev>.rd.bytes", kind: "rate", unit: "B/s", quantum: 1, zabbix: { key: "ringwatch.vm.disk.read.bytes[{#VM.UUID},{#DISK}]", valueType: "float", units: "Bps" } },
  { series: "block.<dev>.wr.bytes", kind: "rate", unit: "B/s", quantum: 1, zabbix: { key: "ringwatch.vm.disk.write.bytes[{#VM.UUID},{#DISK}]", valueType: "float", units: "Bps" } },
  { series: "block.<dev>.rd.reqs", kind: "rate", unit: "requests/s", quantum: 1, zabbix: { key: "ringwatch.vm.disk.read.ops[{#VM.UUID},{#DISK}]", valueType: "float", units: "!ops/s" } },
  { series: "block.<dev>.wr.reqs", kind: "rate", unit: "requests/s", quantum: 1, zabbix: { key: "ringwatch.vm.disk.write.ops[{#VM.UUID},{#DISK}]", valueType: "float", units: "!ops/s" } },
  { series: "net.<dev>.rx.bytes", kind: "rate", unit: "B/s", quantum: 1, zabbix: { key: "ringwatch.vm.net.rx.bytes[{#VM.UUID},{#NIC}]", valueType: "float", units: "Bps" } },
  { series: "net.<dev>.rx.pkts", kind: "rate", unit: "packets/s", quantum: 1, zabbix: { key: "ringwatch.vm.net.rx.packets[{#VM.UUID},{#NIC}]", valueType: "float", units: "pps" } },
  { series: "net.<dev>.rx.drop", kind: "rate", unit: "packets/s", quantum: 1, zabbix: { key: "ringwatch.vm.net.rx.drops[{#VM.UUID},{#NIC}]", valueType: "float", units: "pps" } },
  { series: "net.<dev>.tx.bytes", kind: "rate", unit: "B/s", quantum: 1, zabbix: { key: "ringwatch.vm.net.tx.bytes[{#VM.UUID},{#NIC}]", valueType: "float", units: "Bps" } },
  { series: "net.<dev>.tx.pkts", kind: "rate", unit: "packets/s", quantum: 1, zabbix: { key: "ringwatch.vm.net.tx.packets[{#VM.UUID},{#NIC}]", valueType: "float", units: "pps" } },
  { series: "net.<dev>.tx.drop", kind: "rate", unit: "packets/s", quantum: 1, zabbix: { key: "ringwatch.vm.net.tx.drops[{#VM.UUID},{#NIC}]", valueType: "float", units: "pps" } },
] as const satisfies readonly MetricSeries[];

/** A series name as the catalogue writes it: "cpu", "vcpu.<n>.time", "block.<dev>.rd.bytes" … */
export type SeriesPattern = (typeof METRIC_CATALOGUE)[number]["series"];

type PlaceholderOf<P extends string> = P extends `${string}<${string}>${string}` ? [part: string] : [];

const PLACEHOLDER = /<n>|<dev>/;

/** The series name: the pattern with its placeholder (if it has one) replaced by the vCPU number or device. */
export function seriesName<P extends SeriesPattern>(pattern: P, ...part: PlaceholderOf<P>): string {
  return part.length === 0 ? pattern : pattern.replace(PLACEHOLDER, () => part[0]);
}

/** A series name found in the catalogue: its entry and what stands in its placeholder (absent when it has none). */
export interface CataloguedSeries {
  entry: MetricSeries;
  part: string | undefined;
}

/**
 * `<n>` is at most 4 digits (the CMA's discovery makes at most 4096 vCPU rows); `<dev>` is any
 * non-empty name, dots included (the fixed end of the pattern tells where it stops).
 */
function patternRegExp(series: string): RegExp {
  const parts = series.split(PLACEHOLDER).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const group = series.includes("<n>") ? "(\\d{1,4})" : "(.+)";
  return new RegExp(`^${parts.join(group)}$`);
}

/** Entries by the series' first name component ("cpu", "vcpu", "block" …): a name is tried against a few patterns only. */
const BY_HEAD = new Map<string, { entry: MetricSeries; re: RegExp }[]>();
for (const entry of METRIC_CATALOGUE) {
  const head = entry.series.split(".")[0];
  const list = BY_HEAD.get(head) ?? [];
  list.push({ entry, re: patternRegExp(entry.series) });
  BY_HEAD.set(head, list);
}

/** The catalogue entry a series name belongs to, or undefined when it is not a catalogued series. */
export function catalogued(metric: string): CataloguedSeries | undefined {
  const dot = metric.indexOf(".");
  const candidates = BY_HEAD.get(dot < 0 ? metric : metric.slice(0, dot));
  if (!candidates) return undefined;
  for (const c of candidates) {
    const m = c.re.exec(metric);
    if (m) return { entry: c.entry, part: m[1] };
  }
  return undefined;
}

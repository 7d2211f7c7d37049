/**
 * Stats batch size for one hypervisor: 30 domains (1–2 vCPUs, 1–2 disks, 1–2 NICs; mostly idle
 * with noise, a few busy), sampled every second for 60 s, quantized, compacted and encoded.
 * Prints bytes per minute per host with the key table included and with it already known,
 * next to naive JSON of the same data.
 *
 *   node bench/dist/metrics-batch.bench.js [minutes=10]
 */
import {
  StatsBatchReceiver, StatsBatchSender, compactSamples, encodeStatsBatch, batchKeyTable, metricKind, quantize, seededRandom,
} from "@ringwatch/shared";
import type { CompactedSeries, StatsBatch } from "@ringwatch/shared";
import { deflateRawSync } from "node:zlib";

const minutes = Number(process.argv[2] ?? 10);
const rand = seededRandom(2024);
const uuid = (): string => {
  const h = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
};
const noise = (scale: number): number => (rand() - 0.5) * 2 * scale;
const pos = (x: number): number => Math.max(0, x);

/** One metric's sample generator: called once per second. */
type Gen = (sec: number) => number;

interface Domain { uuid: string; gens: Map<string, Gen> }

function makeDomain(busy: boolean): Domain {
  const gens = new Map<string, Gen>();
  const vcpus = 1 + Math.floor(rand() * 2);
  const disks = 1 + Math.floor(rand() * 2);
  const nics = 1 + Math.floor(rand() * 2);
  const vcpuNow: number[] = [];
  for (let v = 0; v < vcpus; v++) {
    const base = busy ? 0.5 + rand() * 0.4 : 0.005 + rand() * 0.03;
    gens.set(`vcpu.${v}.time`, () => (vcpuNow[v] = Math.min(1, pos(base + noise(base * 0.4) + (rand() < 0.02 ? 0.5 : 0)))));
    gens.set(`vcpu.${v}.delay`, () => pos((busy ? 0.02 : 0.0005) + noise(busy ? 0.02 : 0.0005)));
  }
  gens.set("cpu", () => vcpuNow.reduce((s, x) => s + x, 0) + 0.003 + pos(noise(0.002)));
  for (let d = 0; d < disks; d++) {
    const dev = `vd${"ab"[d]}`;
    const period = 5 + Math.floor(rand() * 5);
    const phase = Math.floor(rand() * period);
    gens.set(`block.${dev}.rd.bytes`, () => (busy ? pos(2e6 + noise(1.5e6)) : rand() < 0.03 ? 4096 * (1 + Math.floor(rand() * 16)) : 0));
    gens.set(`block.${dev}.wr.bytes`, (s) => (busy ? pos(5e5 + noise(4e5)) : (s + phase) % period === 0 ? 4096 * (2 + Math.floor(rand() * 14)) : 0));
  }
  for (let n = 0; n < nics; n++) {
    const rxBase = busy ? 3e6 : 300 + rand() * 1500;
    const txBase = busy ? 8e6 : 100 + rand() * 400;
    gens.set(`net.tap${n}.rx.bytes`, () => pos(rxBase + noise(rxBase * 0.5)));
    gens.set(`net.tap${n}.tx.bytes`, () => pos(txBase + noise(txBase * 0.5)));
  }
  return { uuid: uuid(), gens };
}

const domains = Array.from({ length: 30 }, (_, i) => makeDomain(i % 6 === 0)); // 5 busy, 25 idle-ish
const sender = new StatsBatchSender();
const receiver = new StatsBatchReceiver();
const rows: { fresh: number; known: number; jsonRaw: number; jsonRawZ: number; jsonCompact: number; values: number; series: number; encMs: number }[] = [];

for (let minute = 0; minute < minutes; minute++) {
  const start = 1_700_000_000_000 + minute * 60_000;
  const raw = new Map<string, { domain: string; metric: string; samples: number[] }>();
  for (let sec = 0; sec < 60; sec++) {
    for (const d of domains) {
      for (const [metric, gen] of d.gens) {
        const key = `${d.uuid}/${metric}`;
        let r = raw.get(key);
        if (!r) raw.set(key, (r = { domain: d.uuid, metric, samples: [] }));
        r.samples.push(quantize(metricKind(metric), gen(minute * 60 + sec)));
      }
    }
  }
  const t0 = performance.now();
  const batch: StatsBatch<CompactedSeries> = {
    intervalStart: start,
    intervalMs: 60_000,
    series: [...raw.values()].map(({ domain, metric, samples }) => ({
      domain, metric, kind: metricKind(metric), data: compactSamples(samples, start, start + 59_000),
    })),
  };
  const fresh = encodeStatsBatch(batch, { includeTable: true, table: batchKeyTable(batch) });
  const encMs = performance.now() - t0;
  const known = encodeStatsBatch(batch, { includeTable: false });
  // the stateful pair agrees with the measurement: full table first, then only its id
  const sent = sender.encode(batch);
  if (sent.bytes.length !== (minute === 0 ? fresh : known).length) throw new Error("sender size differs");
  const back = receiver.decode("hv1", sent.bytes);
  if (back.series.length !== batch.series.length) throw new Error("round trip lost series");
  const rawJson = JSON.stringify({
    host: "hv1", start, intervalMs: 60_000,
    series: [...raw.values()].map(({ domain, metric, samples }) => ({ domain, metric, samples: samples.map((v, i) => ({ t: start + i * 1000, v })) })),
  });
  const compactJson = JSON.stringify({
    host: "hv1", start,
    series: batch.series.map(({ domain, metric, data }) => ({ domain, metric, count: data.count, first: data.firstTime, last: data.lastTime, values: data.values })),
  });
  rows.push({
    fresh: fresh.length, known: known.length, jsonRaw: rawJson.length, jsonRawZ: deflateRawSync(rawJson).length,
    jsonCompact: compactJson.length, values: batch.series.reduce((s, x) => s + x.data.values.length, 0), series: batch.series.length, encMs,
  });
}

const avg = (f: (r: (typeof rows)[number]) => number): number => rows.reduce((s, r) => s + f(r), 0) / rows.length;
const max = (f: (r: (typeof rows)[number]) => number): number => Math.max(...rows.map(f));
console.log(`30 domains, ${rows[0].series} series, 60 samples each at 1 s; ${minutes} one-minute batches (bytes per minute per host)`);
console.log(`  stats batch, key table included : avg ${avg((r) => r.fresh).toFixed(0)}, max ${max((r) => r.fresh)}`);
console.log(`  stats batch, key table known    : avg ${avg((r) => r.known).toFixed(0)}, max ${max((r) => r.known)}`);
console.log(`  compacted values per series     : avg ${(avg((r) => r.values) / rows[0].series).toFixed(2)} (${avg((r) => r.values).toFixed(0)} values instead of ${rows[0].series * 60})`);
console.log(`  naive JSON of compacted values  : avg ${avg((r) => r.jsonCompact).toFixed(0)}`);
console.log(`  naive JSON of raw samples       : avg ${avg((r) => r.jsonRaw).toFixed(0)} (deflated: ${avg((r) => r.jsonRawZ).toFixed(0)})`);
console.log(`  compact + encode time           : avg ${avg((r) => r.encMs).toFixed(2)} ms`);

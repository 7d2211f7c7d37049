/**
 * The synthetic hypervisor of the stats batch benchmark (moved here unchanged from
 * metrics-batch.bench.ts): 30 domains (1–2 vCPUs, 1–2 disks, 1–2 NICs; mostly idle with noise, a
 * few busy), sampled every second, quantized and compacted into one batch per minute.
 */
import { compactSamples, metricKind, quantize, seededRandom } from "@ringwatch/shared";
import type { CompactedSeries, StatsBatch } from "@ringwatch/shared";

let rand = seededRandom(2024);
// the metrics beyond the issue's set draw from their own generator, so the issue's series are the
// same numbers as in the runs recorded before them
let rand2 = seededRandom(7);
const uuid = (): string => {
  const h = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
};
const noise = (scale: number, r = rand): number => (r() - 0.5) * 2 * scale;
const pos = (x: number): number => Math.max(0, x);

/** One metric's sample generator: called once per second. */
type Gen = (sec: number) => number;

interface Domain { uuid: string; gens: Map<string, Gen> }

function makeDomain(busy: boolean): Domain {
  const gens = new Map<string, Gen>();
  const extra = new Map<string, Gen>();
  const vcpus = 1 + Math.floor(rand() * 2);
  const disks = 1 + Math.floor(rand() * 2);
  const nics = 1 + Math.floor(rand() * 2);
  const vcpuNow: number[] = [];
  for (let v = 0; v < vcpus; v++) {
    const base = busy ? 0.5 + rand() * 0.4 : 0.005 + rand() * 0.03;
    gens.set(`vcpu.${v}.time`, () => (vcpuNow[v] = Math.min(1, pos(base + noise(base * 0.4) + (rand() < 0.02 ? 0.5 : 0)))));
    gens.set(`vcpu.${v}.delay`, () => pos((busy ? 0.02 : 0.0005) + noise(busy ? 0.02 : 0.0005)));
    extra.set(`vcpu.${v}.wait`, () => pos((busy ? 0.01 : 0.0002) + noise(busy ? 0.01 : 0.0002, rand2)));
  }
  gens.set("cpu", () => vcpuNow.reduce((s, x) => s + x, 0) + 0.003 + pos(noise(0.002)));
  const diskNow = new Map<string, number>();
  for (let d = 0; d < disks; d++) {
    const dev = `vd${"ab"[d]}`;
    const period = 5 + Math.floor(rand() * 5);
    const phase = Math.floor(rand() * period);
    gens.set(`block.${dev}.rd.bytes`, () => { const v = busy ? pos(2e6 + noise(1.5e6)) : rand() < 0.03 ? 4096 * (1 + Math.floor(rand() * 16)) : 0; diskNow.set(`${dev}.rd`, v); return v; });
    gens.set(`block.${dev}.wr.bytes`, (s) => { const v = busy ? pos(5e5 + noise(4e5)) : (s + phase) % period === 0 ? 4096 * (2 + Math.floor(rand() * 14)) : 0; diskNow.set(`${dev}.wr`, v); return v; });
    // requests follow the bytes (4–64 KiB each)
    for (const op of ["rd", "wr"]) extra.set(`block.${dev}.${op}.reqs`, () => Math.round((diskNow.get(`${dev}.${op}`) ?? 0) / (4096 * (1 + Math.floor(rand2() * 16)))));
  }
  const nicNow = new Map<string, number>();
  for (let n = 0; n < nics; n++) {
    const rxBase = busy ? 3e6 : 300 + rand() * 1500;
    const txBase = busy ? 8e6 : 100 + rand() * 400;
    gens.set(`net.tap${n}.rx.bytes`, () => { const v = pos(rxBase + noise(rxBase * 0.5)); nicNow.set(`${n}.rx`, v); return v; });
    gens.set(`net.tap${n}.tx.bytes`, () => { const v = pos(txBase + noise(txBase * 0.5)); nicNow.set(`${n}.tx`, v); return v; });
    for (const dir of ["rx", "tx"]) {
      extra.set(`net.tap${n}.${dir}.pkts`, () => Math.round((nicNow.get(`${n}.${dir}`) ?? 0) / (busy ? 1400 : 90 + rand2() * 200)));
      extra.set(`net.tap${n}.${dir}.drop`, () => (rand2() < (busy ? 0.01 : 0.001) ? 1 + Math.floor(rand2() * 5) : 0));
    }
  }
  const mem = (busy ? 4 : 1) * 1024 * 1024; // KiB
  let rss = mem * (0.3 + rand2() * 0.4);
  extra.set("balloon.current", () => mem);
  extra.set("balloon.rss", () => (rss = Math.min(mem * 1.05, rss + noise(64, rand2) + (busy ? 8 : 0.5))));
  for (const [k, g] of extra) gens.set(k, g); // after the issue's metrics: same draw order as before
  return { uuid: uuid(), gens };
}

export const ISSUE = /^(cpu|vcpu\.\d+\.time|block\..+\.(rd|wr)\.bytes|net\..+\.(rx|tx)\.bytes)$/;
const domains = (): Domain[] => Array.from({ length: 30 }, (_, i) => makeDomain(i % 6 === 0)); // 5 busy, 25 idle-ish

export interface Minute { batch: StatsBatch<CompactedSeries>; raw: { domain: string; metric: string; samples: number[] }[] }

/** `minutes` one-minute batches of the synthetic hypervisor; the same numbers on every call (seeded). */
export function syntheticMinutes(minutes: number): Minute[] {
  rand = seededRandom(2024);
  rand2 = seededRandom(7);
  const hosts = domains();
  const data: Minute[] = [];
  for (let minute = 0; minute < minutes; minute++) {
    const start = 1_700_000_000_000 + minute * 60_000;
    const raw = new Map<string, { domain: string; metric: string; samples: number[] }>();
    for (let sec = 0; sec < 60; sec++) {
      for (const d of hosts) {
        for (const [metric, gen] of d.gens) {
          const key = `${d.uuid}/${metric}`;
          let r = raw.get(key);
          if (!r) raw.set(key, (r = { domain: d.uuid, metric, samples: [] }));
          r.samples.push(quantize(metricKind(metric), gen(minute * 60 + sec)));
        }
      }
    }
    data.push({
      raw: [...raw.values()],
      batch: {
        intervalStart: start, intervalMs: 60_000,
        series: [...raw.values()].map(({ domain, metric, samples }) => ({ domain, metric, kind: metricKind(metric), data: compactSamples(samples, start, start + 59_000) })),
      },
    });
  }
  return data;
}

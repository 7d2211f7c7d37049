/**
 * Stats batch size for one hypervisor: 30 domains (1–2 vCPUs, 1–2 disks, 1–2 NICs; mostly idle
 * with noise, a few busy), sampled every second for 60 s, quantized, compacted and encoded, one
 * batch per minute. Two series sets:
 *   issue — what issue 4's target names: cpu, each vCPU's time, disk rd/wr bytes, NIC rx/tx bytes;
 *   full  — everything the nanoprobe's sampler really sends: also vCPU delay and wait, balloon
 *           current and RSS, disk rd/wr requests, NIC rx/tx packets and drops.
 * Side by side, in the same run and on the same data: the current encoding (a stream of deltas,
 * averages to the quantized unit, and with exact sums), the same batches self-contained (what goes
 * after a CMA restart), the previous encoding (version 1), and naive JSON. For the issue set the
 * stream is also sent through the real reliable channel (two Endpoints on loopback with a counting
 * UDP proxy between them) to measure the bytes actually on the wire, acknowledgements included.
 *
 *   node bench/dist/metrics-batch.bench.js [minutes=30]
 */
import {
  Endpoint, Keyring, StatsBatchReceiver, StatsBatchSender, compactSamples, decodeEnvelope, encodeEnvelope, makeClusterKey, metricKind, quantize, seededRandom,
} from "@ringwatch/shared";
import { ImpairmentProxy } from "@ringwatch/shared/testing";
import type { CompactedSeries, StatsBatch } from "@ringwatch/shared";
import { randomBytes } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { encodeStatsBatchV1 } from "./legacy-stats-batch-v1.js";

const minutes = Number(process.argv[2] ?? 30);
const rand = seededRandom(2024);
// the metrics beyond the issue's set draw from their own generator, so the issue's series are the
// same numbers as in the runs recorded before them
const rand2 = seededRandom(7);
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

const ISSUE = /^(cpu|vcpu\.\d+\.time|block\..+\.(rd|wr)\.bytes|net\..+\.(rx|tx)\.bytes)$/;
const domains = Array.from({ length: 30 }, (_, i) => makeDomain(i % 6 === 0)); // 5 busy, 25 idle-ish

interface Minute { batch: StatsBatch<CompactedSeries>; raw: { domain: string; metric: string; samples: number[] }[] }
const data: Minute[] = [];
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
  data.push({
    raw: [...raw.values()],
    batch: {
      intervalStart: start, intervalMs: 60_000,
      series: [...raw.values()].map(({ domain, metric, samples }) => ({ domain, metric, kind: metricKind(metric), data: compactSamples(samples, start, start + 59_000) })),
    },
  });
}

const subset = (b: StatsBatch<CompactedSeries>, issueOnly: boolean): StatsBatch<CompactedSeries> => ({ ...b, series: b.series.filter((s) => !issueOnly || ISSUE.test(s.metric)) });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const avg = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const fmt = (xs: number[]): string => `avg ${avg(xs).toFixed(0)}, max ${Math.max(...xs)}`;

/** The stream as the nanoprobe sends it; every batch decoded and checked as the CMA would. */
function stream(issueOnly: boolean, exact: boolean): { sizes: number[]; encMs: number[]; decMs: number[] } {
  const tx = new StatsBatchSender({ exact });
  const rx = new StatsBatchReceiver();
  const sizes: number[] = [];
  const encMs: number[] = [];
  const decMs: number[] = [];
  for (const m of data) {
    const b = subset(m.batch, issueOnly);
    let t = performance.now();
    tx.add(b);
    const [d] = tx.drain();
    encMs.push(performance.now() - t);
    t = performance.now();
    const r = rx.receive("hv1", d.bytes);
    decMs.push(performance.now() - t);
    if (r.status !== "accepted") throw new Error(`batch ${d.seq} not accepted: ${r.status}`);
    const want = new Map(b.series.map((s) => [`${s.domain}/${s.metric}`, s.data]));
    for (const s of r.batch.series) {
      const w = want.get(`${s.domain}/${s.metric}`)!;
      if (s.data.min !== w.min || s.data.max !== w.max || s.data.count !== w.count) throw new Error("min/max/count differ after decoding");
      if (exact ? s.data.excess !== w.excess : Math.abs(s.data.avg - w.avg) > 0.5) throw new Error("average differs after decoding");
    }
    sizes.push(d.bytes.length);
  }
  return { sizes, encMs, decMs };
}

/** Every batch self-contained: what each one costs right after a CMA restart. */
function selfContained(issueOnly: boolean): number[] {
  const tx = new StatsBatchSender();
  return data.map((m) => {
    tx.restart();
    tx.add(subset(m.batch, issueOnly));
    return tx.drain()[0].bytes.length;
  });
}

/** The unit stream through two real Endpoints; bytes counted by a UDP proxy between them. */
async function onTheWire(issueOnly: boolean): Promise<{ up: number[]; down: number[]; datagrams: number[]; retransmits: number }> {
  const keyring = new Keyring("bench", makeClusterKey(randomBytes(32)));
  const cma = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
  const np = await Endpoint.open({ identity: "hv1", keyring, bindAddress: "127.0.0.1" });
  const proxy = await ImpairmentProxy.open(cma.address());
  const rx = new StatsBatchReceiver();
  let accepted = 0;
  cma.on("message", (m) => {
    const env = decodeEnvelope(m.payload);
    if (env.stats && rx.receive("hv1", env.stats.batch).status === "accepted") accepted++;
  });
  const tx = new StatsBatchSender();
  const up: number[] = [];
  const down: number[] = [];
  const datagrams: number[] = [];
  try {
    for (const m of data) {
      const s0 = { ...proxy.stats };
      tx.add(subset(m.batch, issueOnly));
      for (const d of tx.drain()) await np.send(proxy.address(), encodeEnvelope({ stats: { batch: d.bytes } }));
      up.push(proxy.stats.bytesFromClients - s0.bytesFromClients);
      down.push(proxy.stats.bytesFromTarget - s0.bytesFromTarget);
      datagrams.push(proxy.stats.datagramsFromClients - s0.datagramsFromClients + proxy.stats.datagramsFromTarget - s0.datagramsFromTarget);
    }
  } finally {
    await proxy.close();
    await np.close();
    await cma.close();
  }
  if (accepted !== data.length) throw new Error(`${accepted} of ${data.length} batches accepted over the channel`);
  return { up, down, datagrams, retransmits: np.counters.retransmits + cma.counters.retransmits };
}

for (const issueOnly of [true, false]) {
  const series = subset(data[0].batch, issueOnly).series.length;
  const unit = stream(issueOnly, false);
  const exact = stream(issueOnly, true);
  const full = selfContained(issueOnly);
  const v1known = data.map((m) => encodeStatsBatchV1(subset(m.batch, issueOnly), false).length);
  const v1table = encodeStatsBatchV1(subset(data[0].batch, issueOnly), true).length;
  const jsonCompact = data.map((m) => JSON.stringify({
    host: "hv1", start: m.batch.intervalStart,
    series: subset(m.batch, issueOnly).series.map(({ domain, metric, data: d }) => ({ domain, metric, count: d.count, first: d.firstTime, last: d.lastTime, values: d.values })),
  }).length);
  const rawJson = data.map((m) => JSON.stringify({
    host: "hv1", start: m.batch.intervalStart, intervalMs: 60_000,
    series: m.raw.filter((r) => !issueOnly || ISSUE.test(r.metric)).map(({ domain, metric, samples }) => ({ domain, metric, samples: samples.map((v, i) => ({ t: m.batch.intervalStart + i * 1000, v })) })),
  }));
  const steady = (xs: number[]): number[] => xs.slice(1);
  console.log(`\n${issueOnly ? "issue set" : "full nanoprobe set"}: 30 domains, ${series} series, 60 samples each at 1 s; ${minutes} one-minute batches (bytes per batch = per minute per host)`);
  console.log(`  v2 stream, averages to the unit : first ${unit.sizes[0]} (self-contained), then ${fmt(steady(unit.sizes))}; last 10: avg ${avg(unit.sizes.slice(-10)).toFixed(0)}`);
  console.log(`  v2 stream, exact sums           : first ${exact.sizes[0]}, then ${fmt(steady(exact.sizes))}; last 10: avg ${avg(exact.sizes.slice(-10)).toFixed(0)}`);
  console.log(`  v2 self-contained every minute  : ${fmt(full)}`);
  console.log(`  v1, key table known             : ${fmt(v1known)} (with the table: ${v1table})`);
  console.log(`  naive JSON of compacted values  : avg ${avg(jsonCompact).toFixed(0)}`);
  console.log(`  naive JSON of raw samples       : avg ${avg(rawJson.map((j) => j.length)).toFixed(0)} (deflated: ${avg(rawJson.map((j) => deflateRawSync(j).length)).toFixed(0)})`);
  console.log(`  v2 encode / decode per batch    : median ${median(unit.encMs.slice(1)).toFixed(2)} / ${median(unit.decMs.slice(1)).toFixed(2)} ms`);
  if (issueOnly) {
    const w = await onTheWire(issueOnly);
    const ipUdp = w.datagrams.map((n) => n * 28);
    // a retransmission (an ack held up by a busy machine) adds a whole frame to its minute: the median shows the usual minute
    console.log(`  on the wire (UDP payload)       : nanoprobe → CMA median ${median(steady(w.up))}, ${fmt(steady(w.up))}; acks back median ${median(steady(w.down))}; first minute ${w.up[0]} + ${w.down[0]}; ${w.retransmits} retransmissions`);
    console.log(`  IPv4 + UDP headers on top       : median ${median(steady(ipUdp))} (${avg(steady(w.datagrams)).toFixed(1)} datagrams per minute)`);
  }
}

/**
 * Stats batch size for one hypervisor, one batch per minute, two data sources side by side:
 *   synthetic — 30 domains (1–2 vCPUs, 1–2 disks, 1–2 NICs; mostly idle with noise, a few busy),
 *               sampled every second (metrics-synthetic.ts), the generator of the earlier runs;
 *   recorded  — what the nanoprobe's sampler made from 30 real QEMU domains on this machine
 *               (record-libvirt-stats.ts; idle SeaBIOS guests with no OS: easier than real guests).
 * Two series sets:
 *   issue — what issue 4's target names: cpu, each vCPU's time, disk rd/wr bytes, NIC rx/tx bytes;
 *   full  — everything the nanoprobe's sampler really sends: also vCPU delay and wait, balloon
 *           current and RSS, disk rd/wr requests, NIC rx/tx packets and drops.
 * Side by side, in the same run and on the same data: the current encoding (version 3, a stream of
 * deltas, exact sums and averages to the quantized unit), each of its modelling ideas turned off in
 * turn, the encoding before (version 2, frozen in @ringwatch/shared/testing), the same batches
 * self-contained (what goes after a CMA restart), version 1 and naive JSON. Encode and decode time
 * is CPU time of this process (process.cpuUsage), so other load on the machine inflates it less.
 * The synthetic stream is also sent through the real reliable channel (two Endpoints on loopback
 * with a counting UDP proxy between them) to measure the bytes actually on the wire.
 *
 *   node bench/dist/metrics-batch.bench.js [minutes=30] [recording=bench/fixtures/libvirt-idle-30-domains.json.gz]
 */
import {
  DEFAULT_TUNING, Endpoint, Keyring, StatsBatchReceiver, StatsBatchSender, decodeEnvelope, decodeStatsBatch, encodeEnvelope, encodeStatsBatch, makeClusterKey,
} from "@ringwatch/shared";
import { ImpairmentProxy, decodeStatsBatchV2, encodeStatsBatchV2 } from "@ringwatch/shared/testing";
import type { BatchState, CodecTuning, CompactedSeries, StatsBatch } from "@ringwatch/shared";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { deflateRawSync } from "node:zlib";
import { encodeStatsBatchV1 } from "./legacy-stats-batch-v1.js";
import { ISSUE, syntheticMinutes } from "./metrics-synthetic.js";
import type { Minute } from "./metrics-synthetic.js";
import { readRecording } from "./metrics-recording.js";

const minutes = Number(process.argv[2] ?? 30);
const recording = process.argv[3] ?? fileURLToPath(new URL("../fixtures/libvirt-idle-30-domains.json.gz", import.meta.url));

const subset = (b: StatsBatch<CompactedSeries>, issueOnly: boolean): StatsBatch<CompactedSeries> => ({ ...b, series: b.series.filter((s) => !issueOnly || ISSUE.test(s.metric)) });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const avg = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const fmt = (xs: number[]): string => `avg ${avg(xs).toFixed(0)}, max ${Math.max(...xs)}`;
const steady = (xs: number[]): number[] => xs.slice(1);
/** CPU ms of this process spent in f. */
function cpuMs<T>(f: () => T): [T, number] {
  const t = process.cpuUsage();
  const r = f();
  const d = process.cpuUsage(t);
  return [r, (d.user + d.system) / 1000];
}

/** Every decoded batch must be what was sent: min, max, count and times exact, the sum exact or the average within ½ unit. */
function check(sent: StatsBatch<CompactedSeries>, got: StatsBatch, exact: boolean): void {
  const want = new Map(sent.series.map((s) => [`${s.domain}/${s.metric}`, s.data]));
  if (got.series.length !== sent.series.length) throw new Error("series lost in decoding");
  for (const s of got.series) {
    const w = want.get(`${s.domain}/${s.metric}`)!;
    if (s.data.min !== w.min || s.data.max !== w.max || s.data.count !== w.count || s.data.firstTime !== w.firstTime || s.data.lastTime !== w.lastTime) throw new Error("min/max/count/times differ after decoding");
    if (exact ? s.data.excess !== w.excess : Math.abs(s.data.avg - w.avg) > 0.5) throw new Error("average differs after decoding");
  }
}

interface Run { sizes: number[]; encMs: number[]; decMs: number[] }

/** The stream as the nanoprobe sends it (StatsBatchSender) and the CMA receives it. */
function stream(data: StatsBatch<CompactedSeries>[], exact: boolean): Run {
  const tx = new StatsBatchSender({ exact });
  const rx = new StatsBatchReceiver();
  const run: Run = { sizes: [], encMs: [], decMs: [] };
  for (const b of data) {
    const [[d], enc] = cpuMs(() => {
      tx.add(b);
      return tx.drain();
    });
    const [r, dec] = cpuMs(() => rx.receive("hv1", d.bytes));
    if (r.status !== "accepted") throw new Error(`batch ${d.seq} not accepted: ${r.status}`);
    check(b, r.batch, exact);
    run.sizes.push(d.bytes.length);
    run.encMs.push(enc);
    run.decMs.push(dec);
  }
  return run;
}

/** A chain of deltas coded with some of the ideas off (the decoder told the same), or with the version 2 coder. */
function chain(data: StatsBatch<CompactedSeries>[], exact: boolean, coder: { tuning: CodecTuning } | "v2"): Run {
  let tx: BatchState | undefined;
  let rx: BatchState | undefined;
  let txV2: ReturnType<typeof encodeStatsBatchV2>["state"] | undefined;
  let rxV2: ReturnType<typeof decodeStatsBatchV2>["state"] | undefined;
  const run: Run = { sizes: [], encMs: [], decMs: [] };
  data.forEach((b, i) => {
    const pos = { stream: 7, seq: i + 1, prevSeq: i, chain: 1, exact };
    let bytes: Buffer;
    let enc: number;
    let dec: number;
    let got: StatsBatch;
    if (coder === "v2") {
      [bytes, enc] = cpuMs(() => {
        const e = encodeStatsBatchV2(b, { ...pos, includeTable: i === 0, base: txV2 });
        txV2 = e.state;
        return e.bytes;
      });
      [got, dec] = cpuMs(() => decodeStatsBatchV2(bytes, rxV2));
      rxV2 = (got as ReturnType<typeof decodeStatsBatchV2>).state;
    } else {
      [bytes, enc] = cpuMs(() => {
        const e = encodeStatsBatch(b, { ...pos, includeTable: i === 0, base: tx, tuning: coder.tuning });
        tx = e.state;
        return e.bytes;
      });
      [got, dec] = cpuMs(() => decodeStatsBatch(bytes, rx, coder.tuning));
      rx = (got as ReturnType<typeof decodeStatsBatch>).state;
    }
    check(b, got, exact);
    run.sizes.push(bytes.length);
    run.encMs.push(enc);
    run.decMs.push(dec);
  });
  return run;
}

/** Every batch self-contained: what each one costs right after a CMA restart. */
function selfContained(data: StatsBatch<CompactedSeries>[], exact: boolean): number[] {
  const tx = new StatsBatchSender({ exact });
  return data.map((b) => {
    tx.restart();
    tx.add(b);
    return tx.drain()[0].bytes.length;
  });
}

/** The exact stream through two real Endpoints; bytes counted by a UDP proxy between them. */
async function onTheWire(data: StatsBatch<CompactedSeries>[]): Promise<{ up: number[]; down: number[]; datagrams: number[]; retransmits: number }> {
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
  const tx = new StatsBatchSender({ exact: true });
  const up: number[] = [];
  const down: number[] = [];
  const datagrams: number[] = [];
  try {
    for (const b of data) {
      const s0 = { ...proxy.stats };
      tx.add(b);
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

const IDEAS: [string, Partial<CodecTuning>][] = [
  ["contexts per metric family", { families: false }],
  ["cpu predicted from its vCPUs", { siblings: false }],
  ["third column as the sum", { sum: false }],
  ["running-mean guess", { mean: false }],
  ["max/sum from the new min", { aboveMin: false }],
  ["count/times from the series before", { sharedTimes: false }],
];

async function report(source: string, all: Minute[] | StatsBatch<CompactedSeries>[], wire: boolean): Promise<void> {
  const batches = all.map((m) => ("batch" in m ? m.batch : m));
  const raw = all.every((m) => "raw" in m) ? (all as Minute[]) : undefined;
  for (const issueOnly of [true, false]) {
    const data = batches.map((b) => subset(b, issueOnly));
    const series = data[0].series.length;
    const exact = stream(data, true);
    const unit = stream(data, false);
    const v2exact = chain(data, true, "v2");
    const v2unit = chain(data, false, "v2");
    const full = selfContained(data, true);
    const v1known = data.map((b) => encodeStatsBatchV1(b, false).length);
    const v1table = encodeStatsBatchV1(data[0], true).length;
    const ms = (r: Run): string => `encode / decode ${median(steady(r.encMs)).toFixed(2)} / ${median(steady(r.decMs)).toFixed(2)} ms CPU (median)`;
    const row = (name: string, r: Run): string => `  ${name.padEnd(44)}: first ${r.sizes[0]}, then ${fmt(steady(r.sizes))}; last 10 avg ${avg(r.sizes.slice(-10)).toFixed(0)}`;
    console.log(`\n${source}, ${issueOnly ? "issue set" : "full nanoprobe set"}: ${series} series; ${data.length} one-minute batches (bytes per batch = per minute per host)`);
    console.log(`${row("v3 stream, exact sums (default)", exact)}; ${ms(exact)}`);
    console.log(`${row("v3 stream, averages to the unit", unit)}; ${ms(unit)}`);
    for (const [name, off] of IDEAS) console.log(row(`v3 exact without: ${name}`, chain(data, true, { tuning: { ...DEFAULT_TUNING, ...off } })));
    console.log(`${row("v2 (before), exact sums", v2exact)}; ${ms(v2exact)}`);
    console.log(`${row("v2 (before), averages to the unit", v2unit)}; ${ms(v2unit)}`);
    console.log(`  ${"v3 self-contained every minute (exact)".padEnd(44)}: ${fmt(full)}`);
    console.log(`  ${"v1, key table known".padEnd(44)}: ${fmt(v1known)} (with the table: ${v1table})`);
    if (raw) {
      const jsonCompact = data.map((b) => JSON.stringify({
        host: "hv1", start: b.intervalStart,
        series: b.series.map(({ domain, metric, data: d }) => ({ domain, metric, count: d.count, first: d.firstTime, last: d.lastTime, values: d.values })),
      }).length);
      const rawJson = raw.map((m) => JSON.stringify({
        host: "hv1", start: m.batch.intervalStart, intervalMs: 60_000,
        series: m.raw.filter((r) => !issueOnly || ISSUE.test(r.metric)).map(({ domain, metric, samples }) => ({ domain, metric, samples: samples.map((v, i) => ({ t: m.batch.intervalStart + i * 1000, v })) })),
      }));
      console.log(`  ${"naive JSON of compacted values".padEnd(44)}: avg ${avg(jsonCompact).toFixed(0)}`);
      console.log(`  ${"naive JSON of raw samples".padEnd(44)}: avg ${avg(rawJson.map((j) => j.length)).toFixed(0)} (deflated: ${avg(rawJson.map((j) => deflateRawSync(j).length)).toFixed(0)})`);
    }
    if (wire) {
      const w = await onTheWire(data);
      const ipUdp = w.datagrams.map((n) => n * 28);
      // a retransmission (an ack held up by a busy machine) adds a whole frame to its minute: the median shows the usual minute
      console.log(`  ${"on the wire, exact (UDP payload)".padEnd(44)}: nanoprobe → CMA median ${median(steady(w.up))}, ${fmt(steady(w.up))}; acks back median ${median(steady(w.down))}; first minute ${w.up[0]} + ${w.down[0]}; ${w.retransmits} retransmissions`);
      console.log(`  ${"IPv4 + UDP headers on top".padEnd(44)}: median ${median(steady(ipUdp))} (${avg(steady(w.datagrams)).toFixed(1)} datagrams per minute)`);
    }
  }
}

await report("synthetic (30 domains, 60 samples each at 1 s)", syntheticMinutes(minutes), true);
if (existsSync(recording)) {
  const rec = readRecording(recording).slice(0, minutes);
  const domains = new Set(rec[0].series.map((s) => s.domain)).size;
  await report(`recorded (${domains} idle QEMU domains on qemu:///system, ${recording.split("/").pop()})`, rec, false);
} else {
  console.log(`\n(no recording at ${recording}: record one with record-libvirt-stats.js)`);
}

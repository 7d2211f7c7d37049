/**
 * Reliable channel over loopback: messages per second and p50/p99 latency for 100-byte and 10 KB
 * messages at 0% and 10% loss; CPU time per 1,000 authenticated frames sent and received.
 * Baseline in the same run: raw UDP datagrams (no auth, no reliability) for the same sizes, and the
 * channel with the cluster key only (HMAC, in clear: before host keys) beside it sealed under pair
 * keys (X25519 + HKDF, AES-256-GCM: what hosts and the CMA use now).
 *
 *   node bench/dist/channel.bench.js [--quick]
 *
 * Sender, receiver and the loss proxy share one process and one core's event loop, so throughput
 * here is a lower bound of what two hosts achieve.
 */
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { cpus } from "node:os";
import {
  Endpoint, FrameType, Keyring, PairKeys, decodeFrame, encodeFrame, generateHostKeys, makeClusterKey, publicHalf,
} from "@ringwatch/shared";
import { ImpairmentProxy } from "@ringwatch/shared/testing";
import type { PeerAddress } from "@ringwatch/shared";

const quick = process.argv.includes("--quick");
const ring = new Keyring("bench", makeClusterKey(randomBytes(32)));

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Row {
  what: string;
  size: number;
  loss: number;
  msgsPerSec: number;
  p50: number;
  p99: number;
  cpuUsPerFrame: number;
}

/** two endpoints' pair keys, each trusting the other (as after admission) */
function pairKeys(): { a: PairKeys; b: PairKeys } {
  const ka = generateHostKeys();
  const kb = generateHostKeys();
  const a = new PairKeys("bench", "bench-a", ka);
  const b = new PairKeys("bench", "bench-b", kb);
  a.trust("bench-b", publicHalf(kb));
  b.trust("bench-a", publicHalf(ka));
  return { a, b };
}

async function channelRun(size: number, loss: number, sealed: boolean): Promise<Row> {
  const keys = sealed ? pairKeys() : undefined;
  const a = await Endpoint.open({ identity: "bench-a", keyring: ring, bindAddress: "127.0.0.1", pairKeys: keys?.a });
  const b = await Endpoint.open({ identity: "bench-b", keyring: ring, bindAddress: "127.0.0.1", pairKeys: keys?.b });
  const proxy = loss > 0 ? await ImpairmentProxy.open(b.address(), { loss }, 99) : undefined;
  const to: PeerAddress = proxy ? proxy.address() : b.address();
  const payload = randomBytes(size); // incompressible: measures the channel, not zlib
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  let delivered = 0;
  b.on("message", (m) => {
    const id = m.payload.readUInt32BE(0);
    const t = sentAt.get(id);
    if (t !== undefined) lat.push(performance.now() - t);
    delivered++;
  });
  a.expect(to, "bench-b");
  const mk = (i: number): Buffer => {
    const p = Buffer.from(payload);
    p.writeUInt32BE(i, 0);
    return p;
  };
  await a.send(to, mk(0xffffffff)); // sync the stream before timing

  // 1. throughput: keep the window full (send waits when the queue is full)
  const n = size <= 100 ? (quick ? 5000 : 30_000) : quick ? 500 : 3000;
  delivered = 0;
  const cpu0 = process.cpuUsage();
  const frames0 = a.counters.framesSent + b.counters.framesSent;
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    pending.push(a.send(to, mk(0xfffffff0)));
    if (pending.length >= 256) await pending.shift();
  }
  await Promise.all(pending);
  while (delivered < n) await new Promise((r) => setImmediate(r));
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const frames = a.counters.framesSent + b.counters.framesSent - frames0;
  const cpuUsPerFrame = (cpu.user + cpu.system) / frames;

  // 2. latency: paced sends (one every 2 ms, well under capacity), send → delivery
  const m = quick ? 300 : 2000;
  for (let i = 0; i < m; i++) {
    sentAt.set(i, performance.now());
    void a.send(to, mk(i));
    await new Promise((r) => setTimeout(r, 2));
  }
  const deadline = Date.now() + 30_000;
  while (lat.length < m && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  lat.sort((x, y) => x - y);
  await proxy?.close();
  await a.close();
  await b.close();
  return { what: sealed ? "reliable channel, sealed (pair keys, AES-256-GCM)" : "reliable channel, cluster key only (HMAC, clear)", size, loss, msgsPerSec: n / secs, p50: pct(lat, 50), p99: pct(lat, 99), cpuUsPerFrame };
}

/** Raw UDP, same sizes (fragmented into ≤1400-byte datagrams like the channel): the floor. */
async function rawUdpRun(size: number): Promise<Row> {
  const rx = createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
  const tx = createSocket({ type: "udp4", sendBufferSize: 4 << 20 });
  await new Promise<void>((r) => rx.bind(0, "127.0.0.1", () => r()));
  const port = rx.address().port;
  const perMsg = Math.ceil(size / 1300);
  const chunk = randomBytes(Math.min(size, 1300));
  let got = 0;
  const lat: number[] = [];
  let stamp = 0;
  rx.on("message", () => {
    got++;
    if (stamp) {
      lat.push(performance.now() - stamp);
      stamp = 0;
    }
  });
  const n = size <= 100 ? (quick ? 5000 : 30_000) : quick ? 500 : 3000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n * perMsg; ) {
    const end = Math.min(n * perMsg, i + 200);
    for (; i < end; i++) tx.send(chunk, port, "127.0.0.1");
    const target = i;
    while (got < target * 0.99) await new Promise((r) => setImmediate(r));
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  for (let i = 0; i < (quick ? 300 : 2000); i++) {
    stamp = performance.now();
    tx.send(chunk, port, "127.0.0.1");
    await new Promise((r) => setTimeout(r, 2));
  }
  lat.sort((x, y) => x - y);
  await new Promise<void>((r) => rx.close(() => r()));
  await new Promise<void>((r) => tx.close(() => r()));
  return { what: "raw UDP (no auth, no reliability)", size, loss: 0, msgsPerSec: n / secs, p50: pct(lat, 50), p99: pct(lat, 99), cpuUsPerFrame: (cpu.user + cpu.system) / (2 * n * perMsg) };
}

function codecCpu(sealed: boolean): { encodeMsPer1000: number; decodeMsPer1000: number } {
  const n = quick ? 20_000 : 200_000;
  const session = { startMs: Date.now(), random: 1 };
  const base = {
    type: FrameType.DATA, flags: 0, sender: "hv-0042.dc1", senderSession: session, receiverSession: { startMs: Date.now(), random: 2 },
    timestampMs: Date.now(), seq: 1, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: randomBytes(100),
  };
  const ka = generateHostKeys();
  const kb = generateHostKeys();
  const tx = new PairKeys("bench", "hv-0042.dc1", ka);
  tx.trust("cma", publicHalf(kb));
  const rx = new PairKeys("bench", "cma", kb);
  rx.trust("hv-0042.dc1", publicHalf(ka));
  const frames: Buffer[] = [];
  let c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const seal = sealed ? tx.sealFor("cma", session, base.receiverSession) : undefined;
    if (seal) seal.withKey = undefined; // steady state: the receiver has our key
    const f = encodeFrame({ ...base, seq: i + 1 }, ring, seal);
    if (i < 1000) frames.push(f);
  }
  let c = process.cpuUsage(c0);
  const enc = (c.user + c.system) / 1000 / (n / 1000);
  c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const f = decodeFrame(frames[i % 1000], ring, sealed ? rx.open : undefined);
    if (f.sealed) rx.accepted(f);
  }
  c = process.cpuUsage(c0);
  const dec = (c.user + c.system) / 1000 / (n / 1000);
  return { encodeMsPer1000: enc, decodeMsPer1000: dec };
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);

const rows: Row[] = [];
for (const size of [100, 10 * 1024]) {
  rows.push(await rawUdpRun(size));
  for (const loss of [0, 0.1]) for (const sealed of [false, true]) rows.push(await channelRun(size, loss, sealed));
}
const codec = codecCpu(false);
const sealedCodec = codecCpu(true);

console.log(`# channel benchmark — ${new Date().toISOString()} — ${cpus()[0]?.model ?? "cpu?"} ×${cpus().length}, node ${process.version}${quick ? " (quick)" : ""}`);
console.log("");
console.log("| path | message | loss | msgs/s | p50 latency ms | p99 latency ms | CPU µs per frame (sent+received) |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.what} | ${r.size} B | ${r.loss * 100}% | ${Math.round(r.msgsPerSec).toLocaleString("en")} | ${f2(r.p50)} | ${f2(r.p99)} | ${f1(r.cpuUsPerFrame)} |`);
}
console.log("");
console.log(`CPU per 1,000 frames (100-byte payload), cluster key (HMAC-SHA256): encode+tag ${f2(codec.encodeMsPer1000)} ms, verify+decode ${f2(codec.decodeMsPer1000)} ms`);
console.log(`CPU per 1,000 frames (100-byte payload), sealed (AES-256-GCM under the pair key): seal ${f2(sealedCodec.encodeMsPer1000)} ms, open+decode ${f2(sealedCodec.decodeMsPer1000)} ms`);

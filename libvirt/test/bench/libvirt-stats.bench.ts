// CPU cost of the binding on the 30-domain test driver (in-process driver: the figures include
// the driver's own work, there is no libvirtd). Run: node libvirt/dist/test/bench/libvirt-stats.bench.js [N]
import { LibvirtConnection } from "../../src/connection.js";
import { DEFAULT_STATS_GROUPS } from "../../src/types.js";
import type { LifecycleEvent } from "../../src/types.js";
import { writeFixture } from "../fixtures/test-driver-xml.js";

const N = Number(process.argv[2] ?? 300);

async function measure(label: string, n: number, fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20; i++) await fn(); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const perCallMs = (cpu.user + cpu.system) / 1000 / n;
  console.log(`${label.padEnd(44)} ${perCallMs.toFixed(3)} ms CPU/call  ${(wallMs / n).toFixed(3)} ms wall/call  (n=${n})`);
}

const fx = writeFixture(30);
const conn = await LibvirtConnection.open(fx.uri);
const rss0 = process.memoryUsage().rss;
const active = fx.domains.filter((d) => d.state !== "shutoff").length;
console.log(`libvirt ${LibvirtConnection.libvirtVersion()}, 30 domains (${active} active), node ${process.version}`);

await measure("bulkStats(6 groups) [test driver: state only]", N, () => conn.bulkStats(DEFAULT_STATS_GROUPS));
await measure(`allDomainStats(6 groups) [bulk + ${active} fallbacks]`, N, () => conn.allDomainStats(DEFAULT_STATS_GROUPS));
await measure("listDomains()", N, () => conn.listDomains());
const one = fx.domains.find((d) => d.state === "running")!;
await measure("fallbackFor(one domain)", N, () => conn.fallbackFor(one.uuid));

// Event latency: from the action's promise resolving to the event reaching JS.
await conn.watchLifecycle();
const lat: number[] = [];
let sent = 0n;
conn.events.on("lifecycle", (_ev: LifecycleEvent) => lat.push(Number(process.hrtime.bigint() - sent) / 1e6));
for (let i = 0; i < 100; i++) {
  const got = new Promise((r) => conn.events.once("lifecycle", r));
  sent = process.hrtime.bigint();
  await (i % 2 === 0 ? conn.suspend(one.uuid) : conn.resume(one.uuid));
  await got;
}
lat.sort((a, b) => a - b);
console.log(`lifecycle event latency (action call -> JS listener): median ${lat[50].toFixed(3)} ms, p95 ${lat[95].toFixed(3)} ms`);
console.log(`RSS ${(rss0 / 2 ** 20).toFixed(1)} MiB after open -> ${(process.memoryUsage().rss / 2 ** 20).toFixed(1)} MiB after ${4 * N + 80} calls`);
await conn.close();
fx.cleanup();

/**
 * Record what the nanoprobe's sampler makes from a real libvirtd, as a fixture for the stats batch
 * benchmark: the same Sampler (bulk stats every second, counters → rates), each series quantized
 * per its kind, one line of JSON per minute (what buildStatsBatch compacts). Read-only connection;
 * it starts, stops and changes nothing. Stops by itself after `minutes`.
 *
 *   node bench/dist/record-libvirt-stats.js <out.jsonl> [minutes=35] [uri=qemu:///system]
 *
 * Line format: { start, intervalMs, series: [[domain, metric, firstAt, lastAt, [q0, q1, …]], …] }.
 */
import { LibvirtConnection } from "@ringwatch/libvirt";
import { Sampler } from "@ringwatch/nanoprobe";
import { metricKind, quantize } from "@ringwatch/shared";
import { appendFileSync, writeFileSync } from "node:fs";

const [out, minutesArg, uriArg] = process.argv.slice(2);
if (!out) throw new Error("usage: record-libvirt-stats <out.jsonl> [minutes] [uri]");
const minutes = Number(minutesArg ?? 35);
const uri = uriArg ?? "qemu:///system";

const conn = await LibvirtConnection.open(uri, { readOnly: true });
const sampler = new Sampler(conn, 1000, undefined, (e) => console.error(`pass failed: ${e.message}`));
writeFileSync(out, "");
// minute boundaries on the wall clock, as the agent's report interval
const first = Math.ceil(Date.now() / 60_000) * 60_000;
await new Promise((r) => setTimeout(r, first - Date.now()));
sampler.start();
sampler.take();
for (let m = 0; m < minutes; m++) {
  const start = first + m * 60_000;
  await new Promise((r) => setTimeout(r, start + 60_000 - Date.now()));
  const series: unknown[] = [];
  for (const [key, points] of sampler.take()) {
    if (points.length === 0) continue;
    const slash = key.indexOf("/");
    const metric = key.slice(slash + 1);
    const kind = metricKind(metric);
    series.push([key.slice(0, slash), metric, points[0].at, points[points.length - 1].at, points.map((p) => quantize(kind, p.value))]);
  }
  appendFileSync(out, `${JSON.stringify({ start, intervalMs: 60_000, series })}\n`);
  console.log(`minute ${m + 1}/${minutes}: ${series.length} series; passes ${sampler.stats.passes}, skipped ${sampler.stats.skippedPasses}, failed ${sampler.stats.failedPasses}`);
}
sampler.stop();
await conn.close();

/**
 * A recording of real samples for the stats batch benchmark. record-libvirt-stats.js writes one
 * line per minute with each series' quantized samples; the fixture kept in the repository holds
 * only what a batch carries (count, first and last time, min, max, Σ(x − min) per series), gzipped:
 *
 *   node bench/dist/metrics-recording.js <recorded.jsonl> <fixture.json.gz>
 */
import { compactSamples, compactSummary, metricKind } from "@ringwatch/shared";
import type { CompactedSeries, StatsBatch } from "@ringwatch/shared";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";

type RecordedLine = { start: number; intervalMs: number; series: [string, string, number, number, number[]][] };
type FixtureLine = { start: number; intervalMs: number; series: [string, string, number, number, number, number, number, number][] };

/** The fixture's minutes as batches (every series compacted as the nanoprobe would). */
export function readRecording(path: string): StatsBatch<CompactedSeries>[] {
  const lines = gunzipSync(readFileSync(path)).toString("utf8").split("\n").filter((l) => l.trim() !== "");
  return lines.map((l) => {
    const m = JSON.parse(l) as FixtureLine;
    return {
      intervalStart: m.start, intervalMs: m.intervalMs,
      series: m.series.map(([domain, metric, count, firstTime, lastTime, min, max, excess]) => ({
        domain, metric, kind: metricKind(metric), data: compactSummary({ count, firstTime, lastTime, min, max, excess }),
      })),
    };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [from, to] = process.argv.slice(2);
  const out = readFileSync(from, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => {
    const m = JSON.parse(l) as RecordedLine;
    const series = m.series.map(([domain, metric, first, last, q]) => {
      const c = compactSamples(q, first, last);
      return [domain, metric, c.count, c.firstTime, c.lastTime, c.min, c.max, c.excess];
    });
    return JSON.stringify({ start: m.start, intervalMs: m.intervalMs, series });
  });
  writeFileSync(to, gzipSync(`${out.join("\n")}\n`, { level: 9 }));
  console.log(`${out.length} minutes → ${to}`);
}

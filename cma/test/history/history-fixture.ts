/** Real stats batches (the shared encoder) through a real StatsStore into a HistoryStore on a temp dir. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatsBatchSender, compactSamples, metricKind, silentLogger } from "@ringwatch/shared";
import { HistoryStore, StatsStore, historyBatch } from "../../src/index.js";

export const GUEST = "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b";
export const T0 = Date.UTC(2026, 10, 2, 0, 0, 0);
export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export const tempDir = (): string => mkdtempSync(join(tmpdir(), "rw-history-"));

/** A host's nanoprobe side: each call encodes one interval's batch of quantized samples per metric. */
export class Host {
  private readonly tx = new StatsBatchSender();
  constructor(readonly name: string) {}
  batch(intervalStart: number, samples: Record<string, number[]>, domain = GUEST): Uint8Array {
    const series = Object.entries(samples).map(([metric, xs]) => ({ domain, metric, kind: metricKind(metric), data: compactSamples(xs, intervalStart, intervalStart + 1000 * (xs.length - 1)) }));
    this.tx.add({ intervalStart, intervalMs: MIN, series });
    return this.tx.drain()[0].bytes;
  }
}

/** A StatsStore whose accepted batches go to a HistoryStore in dir, as cma.ts wires them. */
export function intake(dir: string): { stats: StatsStore; history: HistoryStore } {
  const log = silentLogger();
  const history = new HistoryStore(dir, log);
  const stats = new StatsStore(log);
  stats.on("event", (e) => history.write(historyBatch(e)));
  return { stats, history };
}

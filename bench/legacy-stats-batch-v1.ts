/**
 * The stats batch encoding before version 2 (commit 96af2ad, shared/src/metrics/batch-codec.ts),
 * kept only so the benchmark can print it side by side with the current one. Encode only.
 * Per series: count, first offset, span (zigzag deltas from the previous series), min (zigzag),
 * max − min, excess − (max − min) as byte varints; the key table by id unless included; the body
 * deflated (raw) when that is shorter.
 */
import { deflateRawSync, constants } from "node:zlib";
import { ByteWriter, compareKeys, makeKeyTable } from "@ringwatch/shared";
import type { SeriesSummary, StatsBatch } from "@ringwatch/shared";

export function encodeStatsBatchV1(batch: StatsBatch<SeriesSummary>, includeTable: boolean): Buffer {
  const series = [...batch.series].sort(compareKeys);
  const table = makeKeyTable(series.map(({ domain, metric, kind }) => ({ domain, metric, kind })));
  const w = new ByteWriter();
  const id = Buffer.alloc(4);
  id.writeUInt32BE(table.id);
  w.bytes(id);
  if (includeTable) {
    w.uint(table.bytes.length);
    w.bytes(table.bytes);
  }
  w.uint(batch.intervalStart);
  w.uint(batch.intervalMs);
  const column = (f: (d: SeriesSummary) => number, coding: "delta" | "signed" | "unsigned"): void => {
    let prev = 0;
    for (const s of series) {
      const v = f(s.data);
      if (coding === "delta") w.sint(v - prev);
      else if (coding === "signed") w.sint(v);
      else w.uint(v);
      prev = v;
    }
  };
  column((d) => d.count, "delta");
  column((d) => d.firstTime - batch.intervalStart, "delta");
  column((d) => d.lastTime - d.firstTime, "delta");
  column((d) => d.min, "signed");
  column((d) => d.max - d.min, "unsigned");
  column((d) => d.excess - (d.max - d.min), "unsigned");
  const body = w.finish();
  const z = deflateRawSync(body, { level: constants.Z_BEST_COMPRESSION });
  const deflate = z.length < body.length;
  return Buffer.concat([Buffer.from([0xb5, 0x10 | (deflate ? 1 : 0) | (includeTable ? 2 : 0)]), deflate ? z : body]);
}

/**
 * The metric history: what the nanoprobes send, kept on disk in SQLite (better-sqlite3 12; chosen
 * over DuckDB by measurement, BENCHMARKS.md "Metric history store"). Per series (host, domain,
 * metric) and report interval one row of count/min/avg/max in the series' own units (dequantized:
 * CPUs, per second, KiB), and per series and hour one rollup row (count-weighted avg, min of mins,
 * max of maxes) kept up to date as each interval is written, so no job ever has to scan the points
 * to build it. retention.ts deletes what is older than the configured days; series-query.ts reads.
 *
 * Writes are synchronous (better-sqlite3), one transaction per batch (~600 series, a few ms).
 * A point already stored (the same series and interval start: a batch delivered again after a
 * crash between the event and the saved stream position) is ignored, and neither is its rollup
 * counted twice. A write that fails (disk full, locked by another process) is logged and counted
 * and its batch kept in memory to be tried again before the next one (at most MAX_PENDING
 * batches, past which the oldest is dropped and counted): the stats intake never waits or stops.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Logger, MetricKind } from "@ringwatch/shared";

export const HOUR_MS = 3_600_000;
/** Failed batches kept to be tried again (10 minutes of 100 hypervisors). */
export const MAX_PENDING = 1000;
/** How long a write waits for a lock another process holds (nothing else should write this file). */
const BUSY_TIMEOUT_MS = 50;

/** One series' interval, values in the series' units. */
export interface HistoryPoint {
  domain: string;
  metric: string;
  kind: MetricKind;
  count: number;
  min: number;
  avg: number;
  max: number;
}

/** One host's report interval. */
export interface HistoryBatch {
  host: string;
  intervalStart: number;
  intervalMs: number;
  points: HistoryPoint[];
}

export interface SeriesRef {
  host: string;
  domain: string;
  metric: string;
}

export interface SeriesInfo extends SeriesRef {
  id: number;
  kind: MetricKind;
}

/** A stored row: a full-resolution interval or an hourly rollup, starting at t (ms). */
export interface HistoryRow {
  t: number;
  count: number;
  min: number;
  avg: number;
  max: number;
}

export interface HistoryCounters {
  /** batches written */
  batchesWritten: number;
  pointsWritten: number;
  /** points already stored (a batch delivered again) */
  duplicatePoints: number;
  /** failed write attempts (each logged) */
  writeErrors: number;
  /** batches dropped after failures: more than MAX_PENDING were waiting */
  batchesDropped: number;
  /** batches waiting to be tried again */
  pending: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, host TEXT NOT NULL, domain TEXT NOT NULL, metric TEXT NOT NULL, kind TEXT NOT NULL, UNIQUE (host, domain, metric));
CREATE TABLE IF NOT EXISTS points (series INTEGER NOT NULL, t INTEGER NOT NULL, interval_ms INTEGER NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, avg REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hourly (series INTEGER NOT NULL, t INTEGER NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, avg REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, t)) WITHOUT ROWID;
`;

export class HistoryStore {
  readonly path: string;
  readonly counters: HistoryCounters = { batchesWritten: 0, pointsWritten: 0, duplicatePoints: 0, writeErrors: 0, batchesDropped: 0, pending: 0 };
  private readonly db: Database.Database;
  private readonly ids = new Map<string, number>();
  private readonly pending: HistoryBatch[] = [];
  private readonly stmt;
  private readonly writeTx: (b: HistoryBatch) => void;

  /** Opens (or creates) the store in dir. Throws when it cannot: a CMA asked for history must not start without it. */
  constructor(dir: string, private readonly log: Logger) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, "history.sqlite");
    this.db = new Database(this.path, { timeout: BUSY_TIMEOUT_MS });
    this.db.pragma("journal_mode = WAL"); // readers never wait for the writer
    this.db.pragma("synchronous = NORMAL"); // a power cut may lose the last batches, never corrupt the file
    this.db.exec(SCHEMA);
    this.stmt = {
      addSeries: this.db.prepare("INSERT INTO series (host, domain, metric, kind) VALUES (?, ?, ?, ?)"),
      point: this.db.prepare("INSERT OR IGNORE INTO points VALUES (?, ?, ?, ?, ?, ?, ?)"),
      hour: this.db.prepare(
        "INSERT INTO hourly VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (series, t) DO UPDATE SET " +
        "avg = (avg * count + excluded.avg * excluded.count) / (count + excluded.count), count = count + excluded.count, " +
        "min = min(min, excluded.min), max = max(max, excluded.max)",
      ),
      points: this.db.prepare("SELECT t, count, min, avg, max FROM points WHERE series = ? AND t >= ? AND t < ? ORDER BY t"),
      hours: this.db.prepare("SELECT t, count, min, avg, max FROM hourly WHERE series = ? AND t >= ? AND t < ? ORDER BY t"),
      pointCount: this.db.prepare("SELECT count(*) AS n FROM points WHERE series = ? AND t >= ? AND t < ?").pluck(),
      hourCount: this.db.prepare("SELECT count(*) AS n FROM hourly WHERE series = ? AND t >= ? AND t < ?").pluck(),
      // avg weighted by count: the mean of every raw sample in the bucket
      pointBuckets: this.db.prepare("SELECT ? + CAST((t - ?) / ? AS INTEGER) * ? AS t, sum(count) AS count, min(min) AS min, sum(avg * count) / sum(count) AS avg, max(max) AS max FROM points WHERE series = ? AND t >= ? AND t < ? GROUP BY 1 ORDER BY 1"),
      hourBuckets: this.db.prepare("SELECT ? + CAST((t - ?) / ? AS INTEGER) * ? AS t, sum(count) AS count, min(min) AS min, sum(avg * count) / sum(count) AS avg, max(max) AS max FROM hourly WHERE series = ? AND t >= ? AND t < ? GROUP BY 1 ORDER BY 1"),
      find: this.db.prepare("SELECT id, host, domain, metric, kind FROM series WHERE host = ? AND domain = ? AND metric = ?"),
      listHost: this.db.prepare("SELECT id, host, domain, metric, kind FROM series WHERE host = ? ORDER BY domain, metric"),
      listDomain: this.db.prepare("SELECT id, host, domain, metric, kind FROM series WHERE host = ? AND domain = ? ORDER BY metric"),
      seriesIds: this.db.prepare("SELECT id FROM series WHERE id > ? ORDER BY id LIMIT ?").pluck(),
      expirePoints: this.db.prepare("DELETE FROM points WHERE series = ? AND t < ?"),
      expireHours: this.db.prepare("DELETE FROM hourly WHERE series = ? AND t < ?"),
      dropSeries: this.db.prepare("DELETE FROM series WHERE id = ? AND NOT EXISTS (SELECT 1 FROM hourly WHERE series = ?) AND NOT EXISTS (SELECT 1 FROM points WHERE series = ?)"),
    };
    for (const s of this.db.prepare("SELECT id, host, domain, metric FROM series").all() as SeriesInfo[]) this.ids.set(seriesKey(s), s.id);
    this.writeTx = this.db.transaction((b: HistoryBatch) => this.writeRows(b));
  }

  /** Stores one batch (and any that failed before it). Never throws. */
  write(batch: HistoryBatch): void {
    this.pending.push(batch);
    if (this.pending.length > MAX_PENDING) {
      const lost = this.pending.shift()!;
      this.counters.batchesDropped++;
      this.log.error({ host: lost.host, intervalStart: lost.intervalStart, pending: this.pending.length }, "history: too many batches failed to write; the oldest is dropped");
    }
    while (this.pending.length > 0) {
      const b = this.pending[0];
      try {
        this.writeTx(b);
      } catch (e) {
        this.counters.writeErrors++;
        this.log.warn({ err: (e as Error).message, path: this.path, host: b.host, pending: this.pending.length }, "history: batch not written; it will be tried again with the next one");
        break;
      }
      this.pending.shift();
      this.counters.batchesWritten++;
    }
    this.counters.pending = this.pending.length;
  }

  private writeRows(b: HistoryBatch): void {
    const hour = Math.floor(b.intervalStart / HOUR_MS) * HOUR_MS;
    const added: [string, number][] = [];
    try {
      for (const p of b.points) {
        const key = seriesKey({ host: b.host, domain: p.domain, metric: p.metric });
        let id = this.ids.get(key);
        if (id === undefined) {
          id = Number(this.stmt.addSeries.run(b.host, p.domain, p.metric, p.kind).lastInsertRowid);
          added.push([key, id]);
          this.ids.set(key, id);
        }
        if (this.stmt.point.run(id, b.intervalStart, b.intervalMs, p.count, p.min, p.avg, p.max).changes === 0) {
          this.counters.duplicatePoints++;
          continue;
        }
        this.stmt.hour.run(id, hour, p.count, p.min, p.avg, p.max);
        this.counters.pointsWritten++;
      }
    } catch (e) {
      for (const [key] of added) this.ids.delete(key); // rolled back with the transaction
      throw e;
    }
  }

  series(ref: SeriesRef): SeriesInfo | undefined {
    return this.stmt.find.get(ref.host, ref.domain, ref.metric) as SeriesInfo | undefined;
  }

  list(host: string, domain?: string): SeriesInfo[] {
    return (domain === undefined ? this.stmt.listHost.all(host) : this.stmt.listDomain.all(host, domain)) as SeriesInfo[];
  }

  /** Rows stored in [from, to) at full resolution or hourly. */
  count(table: "points" | "hourly", id: number, from: number, to: number): number {
    return (table === "points" ? this.stmt.pointCount : this.stmt.hourCount).get(id, from, to) as number;
  }

  rows(table: "points" | "hourly", id: number, from: number, to: number): HistoryRow[] {
    return (table === "points" ? this.stmt.points : this.stmt.hours).all(id, from, to) as HistoryRow[];
  }

  /** Rows in [from, to) aggregated per bucket of bucketMs from `from` on; each bucket's t is its start. */
  buckets(table: "points" | "hourly", id: number, from: number, to: number, bucketMs: number): HistoryRow[] {
    return (table === "points" ? this.stmt.pointBuckets : this.stmt.hourBuckets).all(from, from, bucketMs, bucketMs, id, from, to) as HistoryRow[];
  }

  /** Up to `limit` series ids after `after`, in order (the retention job walks them in slices). */
  seriesIds(after: number, limit: number): number[] {
    return this.stmt.seriesIds.all(after, limit) as number[];
  }

  /** Deletes one series' points before pointsBefore and rollups before hoursBefore, and the series once nothing is left. */
  expire(id: number, pointsBefore: number, hoursBefore: number): number {
    return this.db.transaction(() => {
      const n = this.stmt.expirePoints.run(id, pointsBefore).changes + this.stmt.expireHours.run(id, hoursBefore).changes;
      if (this.stmt.dropSeries.run(id, id, id).changes > 0) {
        for (const [k, v] of this.ids) if (v === id) this.ids.delete(k);
      }
      return n;
    })();
  }

  close(): void {
    if (this.pending.length > 0) this.log.warn({ pending: this.pending.length }, "history: batches that could not be written are lost at close");
    this.db.close();
  }
}

const seriesKey = (s: SeriesRef): string => `${s.host}\u0000${s.domain}\u0000${s.metric}`;

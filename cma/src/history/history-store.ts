/**
 * The metric history: what the nanoprobes send, kept on disk in SQLite (better-sqlite3 12; chosen
 * over DuckDB, and this layout over a row per series and time, by measurement: BENCHMARKS.md
 * "Metric history store"). Per series (host, domain, metric) and report interval one row of
 * count/min/avg/max in the series' own units (dequantized: CPUs, per second, KiB), keyed by
 * (host, interval start, series): a batch's rows land together at the end of its host's range, a
 * few pages per batch, where a (series, time) key dirtied one page per series (600 per batch) and
 * grew slower as the file grew. A series' range is read with one index seek per interval of its
 * host (the `intervals` table drives the join). Per series and hour one rollup row (count-weighted
 * avg, min of mins, max of maxes), built by rollup-retention.ts from the host-hours a write marks
 * pending; series-query.ts reads.
 *
 * Writes are synchronous (better-sqlite3), one transaction per batch (~600 series, ~2.5 ms CPU).
 * A point already stored (the same series and interval start: a batch delivered again after a
 * crash between the event and the saved stream position) is ignored, and counted. A write that
 * fails (disk full, locked by another process) is logged and counted and its batch kept in memory
 * to be tried again before the next one (at most MAX_PENDING batches, past which the oldest is
 * dropped and counted): the stats intake never waits or stops.
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
CREATE TABLE IF NOT EXISTS hosts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, host INTEGER NOT NULL, domain TEXT NOT NULL, metric TEXT NOT NULL, kind TEXT NOT NULL, UNIQUE (host, domain, metric));
CREATE TABLE IF NOT EXISTS intervals (host INTEGER NOT NULL, t INTEGER NOT NULL, interval_ms INTEGER NOT NULL, PRIMARY KEY (host, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS points (host INTEGER NOT NULL, t INTEGER NOT NULL, series INTEGER NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, avg REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (host, t, series)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hourly (series INTEGER NOT NULL, t INTEGER NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, avg REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_rollups (host INTEGER NOT NULL, hour INTEGER NOT NULL, PRIMARY KEY (host, hour)) WITHOUT ROWID;
`;

/** An hour of a host's points not yet (or no longer: a late batch) summed into the hourly rollups. */
export interface PendingRollup {
  host: number;
  hour: number;
}

const SERIES_COLUMNS = "s.id AS id, h.name AS host, s.domain AS domain, s.metric AS metric, s.kind AS kind";
// one seek per interval of the host: CROSS JOIN keeps the planner from scanning the host's rows
const SERIES_RANGE = "FROM intervals i CROSS JOIN points p ON p.host = i.host AND p.t = i.t AND p.series = ? WHERE i.host = ? AND i.t >= ? AND i.t < ?";

export class HistoryStore {
  readonly path: string;
  readonly counters: HistoryCounters = { batchesWritten: 0, pointsWritten: 0, duplicatePoints: 0, writeErrors: 0, batchesDropped: 0, pending: 0 };
  private readonly db: Database.Database;
  private readonly hostIds = new Map<string, number>();
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
    const db = this.db;
    this.stmt = {
      addHost: db.prepare("INSERT INTO hosts (name) VALUES (?)"),
      addSeries: db.prepare("INSERT INTO series (host, domain, metric, kind) VALUES (?, ?, ?, ?)"),
      interval: db.prepare("INSERT OR IGNORE INTO intervals VALUES (?, ?, ?)"),
      point: db.prepare("INSERT OR IGNORE INTO points VALUES (?, ?, ?, ?, ?, ?, ?)"),
      markHour: db.prepare("INSERT OR IGNORE INTO pending_rollups VALUES (?, ?)"),
      pendingRollups: db.prepare("SELECT host, hour FROM pending_rollups ORDER BY host, hour"),
      rollup: db.prepare("INSERT OR REPLACE INTO hourly SELECT series, ? AS t, sum(count), min(min), sum(avg * count) / sum(count), max(max) FROM points WHERE host = ? AND t >= ? AND t < ? GROUP BY series"),
      rolled: db.prepare("DELETE FROM pending_rollups WHERE host = ? AND hour = ?"),
      points: db.prepare(`SELECT p.t AS t, p.count AS count, p.min AS min, p.avg AS avg, p.max AS max ${SERIES_RANGE} ORDER BY i.t`),
      hours: db.prepare("SELECT t, count, min, avg, max FROM hourly WHERE series = ? AND t >= ? AND t < ? ORDER BY t"),
      // intervals, not points: an upper bound on the series' rows, and a plain range count
      intervalCount: db.prepare("SELECT count(*) FROM intervals WHERE host = ? AND t >= ? AND t < ?").pluck(),
      hourCount: db.prepare("SELECT count(*) FROM hourly WHERE series = ? AND t >= ? AND t < ?").pluck(),
      // avg weighted by count: the mean of every raw sample in the bucket
      pointBuckets: db.prepare(`SELECT ? + CAST((p.t - ?) / ? AS INTEGER) * ? AS t, sum(p.count) AS count, min(p.min) AS min, sum(p.avg * p.count) / sum(p.count) AS avg, max(p.max) AS max ${SERIES_RANGE} GROUP BY 1 ORDER BY 1`),
      hourBuckets: db.prepare("SELECT ? + CAST((t - ?) / ? AS INTEGER) * ? AS t, sum(count) AS count, min(min) AS min, sum(avg * count) / sum(count) AS avg, max(max) AS max FROM hourly WHERE series = ? AND t >= ? AND t < ? GROUP BY 1 ORDER BY 1"),
      find: db.prepare(`SELECT ${SERIES_COLUMNS}, s.host AS hostId FROM series s JOIN hosts h ON h.id = s.host WHERE h.name = ? AND s.domain = ? AND s.metric = ?`),
      listHost: db.prepare(`SELECT ${SERIES_COLUMNS} FROM series s JOIN hosts h ON h.id = s.host WHERE h.name = ? ORDER BY s.domain, s.metric`),
      listDomain: db.prepare(`SELECT ${SERIES_COLUMNS} FROM series s JOIN hosts h ON h.id = s.host WHERE h.name = ? AND s.domain = ? ORDER BY s.metric`),
      hosts: db.prepare("SELECT id FROM hosts ORDER BY id").pluck(),
      expirePoints: db.prepare("DELETE FROM points WHERE host = ? AND t < ?"),
      expireIntervals: db.prepare("DELETE FROM intervals WHERE host = ? AND t < ?"),
      seriesIds: db.prepare("SELECT id FROM series WHERE id > ? ORDER BY id LIMIT ?").pluck(),
      expireHours: db.prepare("DELETE FROM hourly WHERE series = ? AND t < ?"),
      // every point of a completed hour is in a rollup, and rollups outlive points: a series with no rollup has points only in
      // its host's pending hours (a new series), looked up by one seek per interval of those hours
      dropSeries: db.prepare(`DELETE FROM series WHERE id = ? AND NOT EXISTS (SELECT 1 FROM hourly WHERE series = ?) AND NOT EXISTS (
        SELECT 1 FROM pending_rollups r CROSS JOIN intervals i ON i.host = r.host AND i.t >= r.hour AND i.t < r.hour + ${HOUR_MS}
        CROSS JOIN points p ON p.host = i.host AND p.t = i.t AND p.series = series.id WHERE r.host = series.host)`),
    };
    for (const h of db.prepare("SELECT id, name FROM hosts").all() as { id: number; name: string }[]) this.hostIds.set(h.name, h.id);
    for (const s of db.prepare(`SELECT ${SERIES_COLUMNS} FROM series s JOIN hosts h ON h.id = s.host`).all() as SeriesInfo[]) this.ids.set(seriesKey(s), s.id);
    this.writeTx = db.transaction((b: HistoryBatch) => this.writeRows(b));
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
    const added: string[] = [];
    try {
      let host = this.hostIds.get(b.host);
      if (host === undefined) {
        host = Number(this.stmt.addHost.run(b.host).lastInsertRowid);
        this.hostIds.set(b.host, host);
        added.push(`host:${b.host}`);
      }
      this.stmt.interval.run(host, b.intervalStart, b.intervalMs);
      this.stmt.markHour.run(host, Math.floor(b.intervalStart / HOUR_MS) * HOUR_MS);
      for (const p of b.points) {
        const key = seriesKey({ host: b.host, domain: p.domain, metric: p.metric });
        let id = this.ids.get(key);
        if (id === undefined) {
          id = Number(this.stmt.addSeries.run(host, p.domain, p.metric, p.kind).lastInsertRowid);
          added.push(key);
          this.ids.set(key, id);
        }
        if (this.stmt.point.run(host, b.intervalStart, id, p.count, p.min, p.avg, p.max).changes === 0) this.counters.duplicatePoints++;
        else this.counters.pointsWritten++;
      }
    } catch (e) {
      // rolled back with the transaction
      for (const k of added) {
        if (k.startsWith("host:")) this.hostIds.delete(k.slice(5));
        else this.ids.delete(k);
      }
      throw e;
    }
  }

  series(ref: SeriesRef): (SeriesInfo & { hostId: number }) | undefined {
    return this.stmt.find.get(ref.host, ref.domain, ref.metric) as (SeriesInfo & { hostId: number }) | undefined;
  }

  list(host: string, domain?: string): SeriesInfo[] {
    return (domain === undefined ? this.stmt.listHost.all(host) : this.stmt.listDomain.all(host, domain)) as SeriesInfo[];
  }

  /** At most this many rows of the series in [from, to): its host's intervals, or its hourly rollups. */
  count(table: "points" | "hourly", s: { id: number; hostId: number }, from: number, to: number): number {
    return (table === "points" ? this.stmt.intervalCount.get(s.hostId, from, to) : this.stmt.hourCount.get(s.id, from, to)) as number;
  }

  /** The series' rows in [from, to) at full resolution or hourly. */
  rows(table: "points" | "hourly", s: { id: number; hostId: number }, from: number, to: number): HistoryRow[] {
    return (table === "points" ? this.stmt.points.all(s.id, s.hostId, from, to) : this.stmt.hours.all(s.id, from, to)) as HistoryRow[];
  }

  /** The series' rows in [from, to) aggregated per bucket of bucketMs from `from` on; each bucket's t is its start. */
  buckets(table: "points" | "hourly", s: { id: number; hostId: number }, from: number, to: number, bucketMs: number): HistoryRow[] {
    return (table === "points" ? this.stmt.pointBuckets.all(from, from, bucketMs, bucketMs, s.id, s.hostId, from, to) : this.stmt.hourBuckets.all(from, from, bucketMs, bucketMs, s.id, from, to)) as HistoryRow[];
  }

  pendingRollups(): PendingRollup[] {
    return this.stmt.pendingRollups.all() as PendingRollup[];
  }

  /** (Re)computes a host-hour's rollups from its points; a completed hour stops being pending (until a late batch marks it again). */
  rollup(r: PendingRollup, complete: boolean): void {
    this.db.transaction(() => {
      this.stmt.rollup.run(r.hour, r.host, r.hour, r.hour + HOUR_MS);
      if (complete) this.stmt.rolled.run(r.host, r.hour);
    })();
  }

  hosts(): number[] {
    return this.stmt.hosts.all() as number[];
  }

  /** Deletes a host's points (and intervals) before `before`: one range of its rows. */
  expireHost(host: number, before: number): number {
    return this.db.transaction(() => {
      const n = this.stmt.expirePoints.run(host, before).changes;
      this.stmt.expireIntervals.run(host, before);
      return n;
    })();
  }

  /** Up to `limit` series ids after `after`, in order (the retention job walks them in slices). */
  seriesIds(after: number, limit: number): number[] {
    return this.stmt.seriesIds.all(after, limit) as number[];
  }

  /** Deletes one series' rollups before `before`, and the series once nothing of it is left. */
  expireSeries(id: number, before: number): number {
    return this.db.transaction(() => {
      const n = this.stmt.expireHours.run(id, before).changes;
      if (this.stmt.dropSeries.run(id, id).changes > 0) for (const [k, v] of this.ids) if (v === id) this.ids.delete(k);
      return n;
    })();
  }

  close(): void {
    if (this.pending.length > 0) this.log.warn({ pending: this.pending.length }, "history: batches that could not be written are lost at close");
    this.db.close();
  }
}

const seriesKey = (s: SeriesRef): string => `${s.host}\u0000${s.domain}\u0000${s.metric}`;

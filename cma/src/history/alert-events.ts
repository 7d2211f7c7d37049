/**
 * The alerts' history, for markers on the charts' time axis: every accepted alert change (raised,
 * cleared, a one-shot finding) with its host, subject (a guest's UUID, or the host's own subject),
 * kind and time, kept in SQLite beside the metric history (alert-events.sqlite in the same
 * directory: its own file, so neither store's schema or locking reaches into the other). The
 * active set stays in intake/alert-store.ts (memory); this is what was, and it survives a restart.
 *
 * Bounded by age (the hourly rollups' retention: a marker lives as long as the chart it marks) and
 * by count (MAX_EVENTS, the oldest dropped first: a flapping detector cannot fill the disk). A
 * write that fails is logged and counted, never thrown: markers are worth less than the intake.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Logger } from "@ringwatch/shared";

/** Most events kept (at ~200 bytes each, ~200 MB): far above a healthy fleet's 90 days. */
export const MAX_EVENTS = 1_000_000;
/** Most events one read returns (a chart needs its range's markers, not a flood). */
export const MAX_READ = 5000;

export interface AlertEventRow {
  host: string;
  subject: string;
  subjectName: string;
  kind: string;
  change: "raised" | "cleared";
  /** when the nanoprobe saw the change (ms since the epoch) */
  t: number;
}

export interface AlertEventQuery {
  host: string;
  /** a guest's UUID: its own events and the host-wide ones (subjects that are not a guest of the host's charts); absent: all of the host's */
  subject?: string;
  from: number;
  to: number;
  limit: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_events (id INTEGER PRIMARY KEY, host TEXT NOT NULL, subject TEXT NOT NULL, subject_name TEXT NOT NULL, kind TEXT NOT NULL, change TEXT NOT NULL, t INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS alert_events_host_t ON alert_events (host, t);
`;
const COLUMNS = "host, subject, subject_name AS subjectName, kind, change, t";

export class AlertEventLog {
  readonly path: string;
  readonly counters = { written: 0, writeErrors: 0, expired: 0 };
  private readonly db: Database.Database;
  private readonly stmt;

  /** Opens (or creates) the log in dir. Throws when it cannot (like the history store it sits beside). */
  constructor(dir: string, private readonly log: Logger) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, "alert-events.sqlite");
    this.db = new Database(this.path, { timeout: 50 });
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(SCHEMA);
    this.stmt = {
      add: this.db.prepare("INSERT INTO alert_events (host, subject, subject_name, kind, change, t) VALUES (?, ?, ?, ?, ?, ?)"),
      host: this.db.prepare(`SELECT ${COLUMNS} FROM alert_events WHERE host = ? AND t >= ? AND t < ? ORDER BY t, id LIMIT ?`),
      // a guest's chart: its own events, and those about the host itself (subject not a UUID-shaped guest: libvirt unreachable, stalls, host memory)
      subject: this.db.prepare(`SELECT ${COLUMNS} FROM alert_events WHERE host = ? AND t >= ? AND t < ? AND (subject = ? OR kind IN ('libvirtUnreachable', 'localStall', 'hostMemoryLeak')) ORDER BY t, id LIMIT ?`),
      expireAge: this.db.prepare("DELETE FROM alert_events WHERE t < ?"),
      expireCount: this.db.prepare("DELETE FROM alert_events WHERE id <= (SELECT max(id) FROM alert_events) - ?"),
    };
  }

  /** Records one change. Never throws. */
  add(e: AlertEventRow): void {
    try {
      this.stmt.add.run(e.host, e.subject, e.subjectName, e.kind, e.change, e.t);
      this.counters.written++;
    } catch (err) {
      this.counters.writeErrors++;
      this.log.warn({ err: (err as Error).message, path: this.path, host: e.host, kind: e.kind }, "alert history: event not written (a chart will miss its marker)");
    }
  }

  /** The host's (or one guest's) events in [from, to), oldest first, at most `limit`. */
  read(q: AlertEventQuery): AlertEventRow[] {
    const limit = Math.min(q.limit, MAX_READ);
    return (q.subject === undefined ? this.stmt.host.all(q.host, q.from, q.to, limit) : this.stmt.subject.all(q.host, q.from, q.to, q.subject, limit)) as AlertEventRow[];
  }

  /** Deletes events before `before`, and the oldest past `maxEvents`. Returns how many went. */
  expire(before: number, maxEvents = MAX_EVENTS): number {
    try {
      const n = this.stmt.expireAge.run(before).changes + this.stmt.expireCount.run(maxEvents).changes;
      this.counters.expired += n;
      return n;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, path: this.path }, "alert history: expiry failed; the next pass tries again");
      return 0;
    }
  }

  close(): void {
    this.db.close();
  }
}

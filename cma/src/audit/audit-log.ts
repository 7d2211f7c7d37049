/**
 * The CMA's audit log: who did what, on what, from where, with what outcome and when — every
 * state-changing request (control socket commands today; sign-ins, users, tokens and HTTP
 * maintenance/removal once access control is wired in). Append-only JSON lines under
 * `<dataDir>/audit/`, one file per UTC day (audit-files.ts), whole days older than retentionDays
 * deleted at open and every hour after.
 *
 * Durable before it answers: record() writes the line and fsyncs it, and throws AuditWriteError
 * when the disk refuses, so the caller can refuse to report an unaudited success. After a failed
 * write the file is reopened and its tail checked before the next line goes in.
 *
 * Crash-safe: at open (and whenever a file is reopened for appending) a torn last line is cut and
 * counted; nothing before it is touched. A damaged line in the middle is skipped and counted by
 * the reads, never fatal. `seq` continues across restarts (the last good line's seq + 1), and
 * also when another process (the offline CLI) appended meanwhile: before each write the file's
 * size is compared with what this process wrote, and lines it did not write are read for their seq.
 */
import { EventEmitter } from "node:events";
import { closeSync, createReadStream, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Logger } from "@ringwatch/shared";
import { boundRecord, entryLine, parseEntryLine } from "./audit-entry.js";
import type { AuditEntry, AuditRecord } from "./audit-entry.js";
import { DAY_MS, dayFile, dayOf, expireDayFiles, lastSeqOf, listDayFiles, scanTail } from "./audit-files.js";
import type { DayFile } from "./audit-files.js";

export { AUDIT_OUTCOMES, AuditRecordError, MAX_DETAIL_BYTES, MAX_FIELD_CHARS } from "./audit-entry.js";
export type { AuditEntry, AuditOutcome, AuditRecord } from "./audit-entry.js";

export interface AuditQuery {
  /** entries at or after this time (ms since the epoch) */
  since?: number;
  /** entries before this time (ms since the epoch) */
  until?: number;
  actor?: string;
  action?: string;
  /** list: default 100, at most 10,000; lines: everything unless given */
  limit?: number;
}

export interface AuditLogOptions {
  /** whole days older than this are deleted */
  retentionDays: number;
  /** the clock (tests set it; the CMA uses Date.now) */
  now?: () => number;
}

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 10_000;
/** Retention is applied at open and this often (a CMA runs for months). */
const EXPIRE_EVERY_MS = 3600_000;

/** The disk refused an entry: the action it records must not be reported as done. */
export class AuditWriteError extends Error {
  constructor(message: string) {
    super(`audit log: ${message}`);
    this.name = "AuditWriteError";
  }
}

/** A query the log cannot answer (the HTTP API checks its input before it gets here). */
export class AuditQueryError extends RangeError {}

export interface AuditCounters {
  /** entries written by this process */
  records: number;
  /** entries the disk refused (AuditWriteError thrown) */
  writeErrors: number;
  /** files whose torn tail (a crash mid-write) was cut */
  tornTailsCut: number;
  /** day files deleted by retention */
  expiredFiles: number;
  /** damaged lines skipped by reads (a line is counted by every read that meets it) */
  corruptLines: number;
  /** details over MAX_DETAIL_BYTES replaced by their preview */
  detailsTrimmed: number;
  /** records refused as malformed (AuditRecordError: a caller's mistake) */
  refused: number;
}

function checkQuery(q: AuditQuery): void {
  for (const k of ["since", "until"] as const) if (q[k] !== undefined && !Number.isFinite(q[k])) throw new AuditQueryError(`${k} must be a time in ms since the epoch`);
  if (q.limit !== undefined && (!Number.isSafeInteger(q.limit) || q.limit < 1)) throw new AuditQueryError("limit must be a positive integer");
}

function matches(e: AuditEntry, q: AuditQuery): boolean {
  if (q.actor !== undefined && e.actor !== q.actor) return false;
  if (q.action !== undefined && e.action !== q.action) return false;
  if (q.since === undefined && q.until === undefined) return true;
  const t = Date.parse(e.time);
  return (q.since === undefined || t >= q.since) && (q.until === undefined || t < q.until);
}

/** Can a day file hold entries in [since, until)? */
function dayInRange(f: DayFile, q: AuditQuery): boolean {
  return (q.since === undefined || f.start + DAY_MS > q.since) && (q.until === undefined || f.start < q.until);
}

export class AuditLog {
  /** each entry once it is durable (the graph and Zabbix record actions on guests from here) */
  readonly entries = new EventEmitter<{ entry: [AuditEntry] }>();
  readonly counters: AuditCounters = { records: 0, writeErrors: 0, tornTailsCut: 0, expiredFiles: 0, corruptLines: 0, detailsTrimmed: 0, refused: 0 };
  private seq: number;
  /** the file being appended to: its day, descriptor and the size this process knows it has */
  private current: { day: string; fd: number; size: number } | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private readonly now: () => number;

  private constructor(
    readonly dir: string,
    private readonly retentionDays: number,
    private readonly log: Logger,
    now: (() => number) | undefined,
  ) {
    this.now = now ?? Date.now;
    this.seq = 0;
    this.timer = setInterval(() => this.expire(), EXPIRE_EVERY_MS);
    this.timer.unref();
  }

  /** Open (creating) the log in dir: expired days deleted, a torn tail cut, seq recovered. Throws when dir cannot be made or read. */
  static open(dir: string, o: AuditLogOptions, log: Logger): AuditLog {
    if (!Number.isFinite(o.retentionDays) || o.retentionDays < 1) throw new RangeError(`audit log: retentionDays must be at least 1, got ${o.retentionDays}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const a = new AuditLog(dir, o.retentionDays, log, o.now);
    a.expire();
    const files = listDayFiles(dir);
    const newest = files.at(-1);
    // only the file written last can hold a torn tail; the others are read for the highest seq
    if (newest) a.seq = Math.max(a.seq, a.repairTail(newest.path) ?? 0);
    for (const f of files.slice(0, -1)) a.seq = Math.max(a.seq, lastSeqOf(f.path) ?? 0);
    log.info({ dir, files: files.length, lastSeq: a.seq, retentionDays: o.retentionDays }, "audit log open");
    return a;
  }

  /** Cut a torn tail off the file at path (counted, logged); returns its last good seq. */
  private repairTail(path: string, fd?: number): number | undefined {
    const own = fd === undefined ? openSync(path, "r+") : fd;
    try {
      const size = fstatSync(own).size;
      const { goodEnd, lastSeq } = scanTail(own);
      if (goodEnd < size) {
        ftruncateSync(own, goodEnd);
        fsyncSync(own);
        this.counters.tornTailsCut++;
        this.log.warn({ file: path, cutBytes: size - goodEnd, keptBytes: goodEnd }, "audit log: torn tail cut (a write was interrupted); earlier entries kept");
      }
      return lastSeq;
    } finally {
      if (fd === undefined) closeSync(own);
    }
  }

  /** Delete whole days past retention (at open, hourly, and when a new day's file starts). */
  expire(): void {
    try {
      const gone = expireDayFiles(this.dir, this.retentionDays, this.now());
      if (gone.length) {
        this.counters.expiredFiles += gone.length;
        this.log.info({ days: gone, retentionDays: this.retentionDays }, "audit log: days past retention deleted");
      }
    } catch (e) {
      this.log.warn({ err: (e as Error).message, dir: this.dir }, "audit log: retention could not run (retried within the hour)");
    }
  }

  /** The file for today, open for appending, its tail checked when it is first opened. */
  private fileFor(now: number): { day: string; fd: number; size: number } {
    const day = dayOf(now);
    if (this.current?.day === day) return this.current;
    this.dropCurrent();
    const f = dayFile(this.dir, day);
    const fd = openSync(f.path, "a+", 0o600);
    try {
      this.seq = Math.max(this.seq, this.repairTail(f.path, fd) ?? 0);
      const size = fstatSync(fd).size;
      if (size === 0) {
        // a new file: its directory entry made durable too
        const d = openSync(this.dir, "r");
        try {
          fsyncSync(d);
        } finally {
          closeSync(d);
        }
      }
      this.current = { day, fd, size };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    if (this.current.size === 0) this.expire();
    return this.current;
  }

  private dropCurrent(): void {
    if (!this.current) return;
    try {
      closeSync(this.current.fd);
    } catch {
      // already unusable: nothing more to lose
    }
    this.current = undefined;
  }

  /** Lines another process (the offline CLI) appended since this one last wrote: their highest seq. */
  private catchUp(c: { fd: number; size: number }): void {
    const size = fstatSync(c.fd).size;
    if (size === c.size) return;
    if (size > c.size) {
      const buf = Buffer.alloc(size - c.size);
      readSync(c.fd, buf, 0, buf.length, c.size);
      for (const line of buf.toString("utf8").split("\n")) {
        const e = line ? parseEntryLine(line) : undefined;
        if (e && e.seq > this.seq) this.seq = e.seq;
      }
    } else this.seq = Math.max(this.seq, scanTail(c.fd).lastSeq ?? 0); // cut by another process's repair
    c.size = size;
  }

  /**
   * Throws AuditWriteError when today's file cannot be opened for appending (the directory gone, not
   * writable): a caller checks this before acting, so nothing is done that could not be recorded.
   * A full disk shows only when record() writes.
   */
  ready(): void {
    if (this.closed) throw new AuditWriteError("closed (the CMA is stopping)");
    try {
      this.fileFor(this.now());
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new AuditWriteError(`cannot write to ${this.dir}: ${err.code ?? err.message}`);
    }
  }

  /** Append one entry and fsync it. Throws AuditWriteError when the disk refuses, AuditRecordError for a malformed record. */
  record(r: AuditRecord): AuditEntry {
    let bounded: ReturnType<typeof boundRecord>;
    try {
      bounded = boundRecord(r);
    } catch (e) {
      this.counters.refused++;
      throw e;
    }
    if (this.closed) {
      this.counters.writeErrors++;
      throw new AuditWriteError("closed (the CMA is stopping)");
    }
    if (bounded.trimmed) this.counters.detailsTrimmed++;
    const now = this.now();
    try {
      const c = this.fileFor(now);
      this.catchUp(c);
      const entry: AuditEntry = { seq: this.seq + 1, time: new Date(now).toISOString(), ...bounded.record };
      const bytes = Buffer.from(entryLine(entry), "utf8");
      // one write call per line (O_APPEND): lines of two writers never interleave
      let done = 0;
      while (done < bytes.length) done += writeSync(c.fd, bytes, done, bytes.length - done);
      fsyncSync(c.fd);
      c.size += bytes.length;
      this.seq = entry.seq;
      this.counters.records++;
      this.announce(entry);
      return entry;
    } catch (e) {
      this.counters.writeErrors++;
      this.dropCurrent(); // reopened, and its tail checked, before the next entry
      const err = e as NodeJS.ErrnoException;
      this.log.error({ err: err.message, code: err.code, dir: this.dir, action: r.action }, "audit log: entry not written");
      throw new AuditWriteError(`cannot write to ${this.dir}: ${err.message}`);
    }
  }

  /** A listener's failure is logged, never the recorder's: the entry is on disk already. */
  private announce(entry: AuditEntry): void {
    try {
      this.entries.emit("entry", entry);
    } catch (e) {
      this.log.error({ err: (e as Error).message, seq: entry.seq }, "audit log: a listener failed");
    }
  }

  /** Entries matching q, newest first, at most limit (default 100, at most 10,000). */
  list(q: AuditQuery = {}): AuditEntry[] {
    checkQuery(q);
    const limit = Math.min(q.limit ?? DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT);
    const out: AuditEntry[] = [];
    for (const f of listDayFiles(this.dir).reverse()) {
      if (!dayInRange(f, q)) continue;
      let text: string;
      try {
        text = readFileSync(f.path, "utf8");
      } catch {
        continue; // expired meanwhile
      }
      const lines = text.split("\n");
      lines.pop(); // after the last newline: nothing, or a line still being written
      for (let i = lines.length - 1; i >= 0; i--) {
        const e = this.parse(lines[i]);
        if (e && matches(e, q)) {
          out.push(e);
          if (out.length >= limit) return out;
        }
      }
    }
    return out;
  }

  /** Entries matching q as JSON lines (each with its newline), oldest first, read file by file: for export. */
  async *lines(q: AuditQuery = {}): AsyncIterable<string> {
    checkQuery(q);
    let left = q.limit ?? Infinity;
    for (const f of listDayFiles(this.dir)) {
      if (!dayInRange(f, q)) continue;
      const input = createReadStream(f.path, { encoding: "utf8" });
      const opened = await new Promise<boolean>((resolve) => {
        input.once("open", () => resolve(true));
        input.once("error", () => resolve(false)); // expired meanwhile
      });
      if (!opened) continue;
      const rl = createInterface({ input, crlfDelay: Infinity });
      try {
        for await (const line of rl) {
          const e = this.parse(line);
          if (!e || !matches(e, q)) continue;
          yield entryLine(e);
          if (--left <= 0) return;
        }
      } finally {
        rl.close();
        input.destroy();
      }
    }
  }

  private parse(line: string): AuditEntry | undefined {
    if (line === "") return undefined;
    const e = parseEntryLine(line);
    if (!e) this.counters.corruptLines++;
    return e;
  }

  /** The last seq written (by any process, as far as this one has seen). */
  get lastSeq(): number {
    return this.seq;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.dropCurrent();
  }
}

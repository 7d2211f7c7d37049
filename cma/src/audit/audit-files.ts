/**
 * The audit log's files: one per UTC day (`audit-2026-12-06.jsonl`), so the log is bounded by age
 * by deleting whole files, and a reader asking for a time range opens only the days it covers.
 * Also the tail check: the last line of a file must be whole (ends in a newline) and a well-formed
 * entry; a crash mid-write leaves a torn one, which is cut so the next entry starts on a clean line.
 */
import { closeSync, fstatSync, openSync, readSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { MAX_LINE_BYTES, parseEntryLine } from "./audit-entry.js";

export const DAY_MS = 86_400_000;
const FILE_RE = /^audit-(\d{4}-\d{2}-\d{2})\.jsonl$/;

export interface DayFile {
  /** the UTC day, YYYY-MM-DD */
  day: string;
  path: string;
  /** ms since the epoch at the day's start (UTC) */
  start: number;
}

/** The UTC day a time falls on, YYYY-MM-DD. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function dayFile(dir: string, day: string): DayFile {
  return { day, path: join(dir, `audit-${day}.jsonl`), start: Date.parse(`${day}T00:00:00Z`) };
}

/** The day files in dir, oldest first (anything else in the directory is left alone). */
export function listDayFiles(dir: string): DayFile[] {
  return readdirSync(dir)
    .map((name) => FILE_RE.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && Number.isFinite(Date.parse(`${m[1]}T00:00:00Z`)))
    .map((m) => dayFile(dir, m[1]))
    .sort((a, b) => a.start - b.start);
}

/** Delete the files whose whole day lies more than retentionDays before now; returns the days deleted. */
export function expireDayFiles(dir: string, retentionDays: number, now: number): string[] {
  const cutoff = now - retentionDays * DAY_MS;
  const gone: string[] = [];
  for (const f of listDayFiles(dir)) {
    if (f.start + DAY_MS > cutoff) break; // sorted: the rest are newer
    rmSync(f.path, { force: true });
    gone.push(f.day);
  }
  return gone;
}

export interface TailScan {
  /** bytes up to the end of the last whole, well-formed line (0: none) */
  goodEnd: number;
  /** that line's seq */
  lastSeq: number | undefined;
}

/**
 * Read a file backwards to its last whole, well-formed entry. Whatever follows it (a line without
 * its newline, a line that is not an entry) is what a crash mid-write leaves: the caller cuts it.
 */
export function scanTail(fd: number): TailScan {
  let end = fstatSync(fd).size;
  let window = Math.min(end, 2 * MAX_LINE_BYTES);
  while (end > 0) {
    const start = Math.max(0, end - window);
    const buf = Buffer.alloc(end - start);
    readSync(fd, buf, 0, buf.length, start);
    const last = buf.length - 1;
    if (buf[last] !== 0x0a) {
      // a line without its newline: everything after the previous newline goes
      const nl = buf.lastIndexOf(0x0a, last);
      if (nl >= 0) end = start + nl + 1;
      else if (start === 0) end = 0;
      else window = Math.min(end, window * 2); // a longer run of garbage: look further back
      continue;
    }
    const prev = last === 0 ? -1 : buf.lastIndexOf(0x0a, last - 1);
    if (prev < 0 && start > 0) {
      window = Math.min(end, window * 2);
      continue;
    }
    const entry = parseEntryLine(buf.subarray(prev + 1, last).toString("utf8"));
    if (entry) return { goodEnd: end, lastSeq: entry.seq };
    end = start + prev + 1; // a whole line that is no entry: cut too
  }
  return { goodEnd: 0, lastSeq: undefined };
}

/** The seq of a file's last good line without changing the file (undefined: none, or the file is gone). */
export function lastSeqOf(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    return scanTail(fd).lastSeq;
  } finally {
    closeSync(fd);
  }
}

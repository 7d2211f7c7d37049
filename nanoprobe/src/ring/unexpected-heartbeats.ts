/**
 * Heartbeats from hosts this nanoprobe does not watch. While the CMA reassigns neighbours, the two
 * ends of a link learn of it at slightly different times: only heartbeats that keep coming for
 * warntime are worth telling the CMA about, and then not too often.
 */

/** Unexpected heartbeats from one source are reported at most this often. */
const UNEXPECTED_REPORT_INTERVAL_MS = 60_000;
const MAX_UNEXPECTED_SOURCES = 1024;

export class UnexpectedHeartbeats {
  private readonly seen = new Map<string, { first: number; last: number; reportedAt: number }>();

  /** A heartbeat from `source` (id@address:port) at `now`: true when it is time to report the source. */
  heard(source: string, now: number, warntimeMs: number): boolean {
    const seen = this.seen.get(source);
    if (!seen || now - seen.last > warntimeMs) {
      if (this.seen.size >= MAX_UNEXPECTED_SOURCES) this.seen.delete(this.seen.keys().next().value as string);
      this.seen.set(source, { first: now, last: now, reportedAt: seen?.reportedAt ?? -Infinity });
      return false;
    }
    seen.last = now;
    if (now - seen.first < warntimeMs || now - seen.reportedAt < UNEXPECTED_REPORT_INTERVAL_MS) return false;
    seen.reportedAt = now;
    return true;
  }
}

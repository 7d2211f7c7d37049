/**
 * The durable queue in front of Zabbix: append-only segment files of checksummed records
 * (spool-records.ts) in one directory, read in order, with the position of the last record the
 * server confirmed kept in a small file (written atomically: temp file + rename). A new instance
 * on the same directory continues from there, so a CMA restart neither loses nor resends values.
 *
 * Bounded: past maxBytes on disk the oldest segment is dropped, its unread records counted and
 * reported as a "drop" event (the bridge turns it into an alert). A torn or corrupt tail found
 * when opening (a crash mid-write, a damaged disk) is counted, reported and cut off; it never
 * stops the CMA (events found while opening are emitted on the next tick). Writes are not fsync'ed: a CMA crash or restart loses nothing (the page cache
 * survives the process); a power cut may lose the last seconds.
 */
import { EventEmitter } from "node:events";
import {
  closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, truncateSync, unlinkSync,
  writeFileSync, writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Logger } from "@ringwatch/shared";
import { RECORD_HEADER_BYTES, encodeRecords, scanRecords } from "./spool-records.js";

export interface SpoolOptions {
  dir: string;
  /** bytes on disk beyond which the oldest segment is dropped */
  maxBytes: number;
  /** a new segment file starts past this size (default: maxBytes / 8, at most 8 MiB) */
  segmentBytes?: number;
}

export interface SpoolPosition {
  segment: number;
  offset: number;
}

export interface SpooledRecord {
  payload: Buffer;
  /** the position just after this record */
  end: SpoolPosition;
}

export interface SpoolDropEvent {
  reason: "spoolFull" | "writeError";
  /** records lost (never sent) */
  records: number;
  bytes: number;
  detail: string;
}

export interface SpoolCorruptEvent {
  file: string;
  /** where the good records end */
  offset: number;
  /** bytes cut off */
  bytes: number;
  reason: string;
}

interface Segment {
  seq: number;
  path: string;
  /** bytes of good records */
  size: number;
  records: number;
  /** records handed out by read() (sent or in flight) */
  readRecords: number;
}

const SEGMENT_FILE = /^seg-(\d{12})\.log$/;
const COMMITTED_FILE = "committed.json";
const READ_CHUNK = 256 * 1024;
/** append marks closer than this are merged (oldestPendingAt is then up to this much early: conservative) */
const MARK_MS = 100;

export class ValueSpool extends EventEmitter<{ drop: [SpoolDropEvent]; corrupt: [SpoolCorruptEvent] }> {
  readonly counters = { appended: 0, appendedBytes: 0, committed: 0, dropped: 0, droppedBytes: 0, corruptTails: 0, corruptBytes: 0, writeErrors: 0 };
  private readonly segments: Segment[] = [];
  private readonly segmentBytes: number;
  private activeFd = -1;
  private readFd: { seq: number; fd: number } | undefined;
  private read_: SpoolPosition;
  private committed: SpoolPosition;
  /** positions of records read but not yet committed, oldest first */
  private inflight: SpoolPosition[] = [];
  private unread = 0;
  private totalBytes = 0;
  private nextSeq = 1;
  private closed = false;
  /**
   * When the records still pending were appended, oldest first: the cumulative count appended up to
   * each mark and its time (records found at open: time 0, older than anything this process took).
   * Marks closer than MARK_MS are merged, keeping the earlier time, so an outage of hours keeps a
   * few thousand marks, not one per append.
   */
  private readonly appendMarks: { upTo: number; at: number }[] = [];
  private appendedTotal = 0;

  private constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    segmentBytes: number | undefined,
    private readonly log: Logger,
  ) {
    super();
    this.segmentBytes = segmentBytes ?? Math.max(64 * 1024, Math.min(8 << 20, Math.floor(maxBytes / 8)));
    this.read_ = { segment: 0, offset: 0 };
    this.committed = { segment: 0, offset: 0 };
  }

  /** Open (or create) the spool in o.dir: scan the segments, cut a bad tail, resume after the last commit. */
  static open(o: SpoolOptions, log: Logger): ValueSpool {
    if (!(o.maxBytes > 0)) throw new RangeError(`spool maxBytes ${o.maxBytes}`);
    const s = new ValueSpool(o.dir, o.maxBytes, o.segmentBytes, log);
    s.load();
    return s;
  }

  /** records not yet handed out by read() */
  get unreadRecords(): number {
    return this.unread;
  }

  /** records read but not committed */
  get inflightRecords(): number {
    return this.inflight.length;
  }

  /** bytes of all segment files (what the bound applies to) */
  get bytesOnDisk(): number {
    return this.totalBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * When the oldest record not yet confirmed (unread or in flight) was appended; undefined when
   * every record appended is confirmed, dropped or skipped. Records are read, confirmed and dropped
   * oldest first, so the pending ones are the last (unread + in flight) appended.
   */
  oldestPendingAt(): number | undefined {
    const done = this.appendedTotal - (this.unread + this.inflight.length);
    while (this.appendMarks.length > 0 && this.appendMarks[0]!.upTo <= done) this.appendMarks.shift();
    return this.appendMarks[0]?.at;
  }

  get committedPosition(): SpoolPosition {
    return { ...this.committed };
  }

  /**
   * Append payloads as records in one write. False (with a "drop" event) only if the disk refused
   * the write: the caller has nowhere else to keep them.
   */
  append(payloads: readonly Buffer[]): boolean {
    if (this.closed) throw new Error("spool closed");
    if (!payloads.length) return true;
    const buf = encodeRecords(payloads);
    let seg = this.segments[this.segments.length - 1]!;
    try {
      if (this.activeFd < 0 || (seg.size > 0 && seg.size + buf.length > this.segmentBytes)) seg = this.rotate();
      let at = 0;
      while (at < buf.length) at += writeSync(this.activeFd, buf, at, buf.length - at);
    } catch (e) {
      this.counters.writeErrors++;
      try {
        ftruncateSync(this.activeFd, seg.size); // no half record stays in front of later ones
      } catch {
        /* the next open cuts it */
      }
      const detail = `spool write to ${this.dir} failed: ${(e as Error).message}`;
      this.log.error({ err: (e as Error).message, records: payloads.length }, "zabbix spool: write failed, values dropped");
      this.emit("drop", { reason: "writeError", records: payloads.length, bytes: buf.length, detail });
      return false;
    }
    seg.size += buf.length;
    seg.records += payloads.length;
    this.unread += payloads.length;
    this.appendedTotal += payloads.length;
    const now = Date.now();
    const last = this.appendMarks.at(-1);
    if (last && now - last.at < MARK_MS) last.upTo = this.appendedTotal;
    else this.appendMarks.push({ upTo: this.appendedTotal, at: now });
    this.totalBytes += buf.length;
    this.counters.appended += payloads.length;
    this.counters.appendedBytes += buf.length;
    this.enforceBound();
    return true;
  }

  /** Up to max records after the last read, in order; they stay in flight until commit(). */
  read(max: number): SpooledRecord[] {
    const out: SpooledRecord[] = [];
    while (out.length < max && this.unread > 0) {
      const i = this.segments.findIndex((s) => s.seq === this.read_.segment);
      const seg = this.segments[i];
      if (!seg) break;
      if (this.read_.offset >= seg.size) {
        const next = this.segments[i + 1];
        if (!next) break;
        this.read_ = { segment: next.seq, offset: 0 };
        continue;
      }
      const want = Math.min(seg.size - this.read_.offset, Math.max(READ_CHUNK, (max - out.length) * 256));
      let buf = this.readAt(seg, this.read_.offset, want);
      if (buf.length >= RECORD_HEADER_BYTES && RECORD_HEADER_BYTES + buf.readUInt32LE(0) > buf.length && buf.length < seg.size - this.read_.offset) {
        buf = this.readAt(seg, this.read_.offset, Math.min(seg.size - this.read_.offset, RECORD_HEADER_BYTES + buf.readUInt32LE(0)));
      }
      const base = this.read_.offset;
      const segment = seg.seq;
      const r = scanRecords(buf, 0, (payload, end) => {
        const pos = { segment, offset: base + end };
        out.push({ payload, end: pos });
        this.inflight.push(pos);
      }, max - out.length, true);
      seg.readRecords += r.records;
      this.unread -= r.records;
      this.read_ = { segment, offset: base + r.end };
      if (r.error || r.records === 0) {
        // damaged after it was opened (it was good then): skip the rest of the segment
        const lost = seg.records - seg.readRecords;
        this.counters.corruptBytes += seg.size - this.read_.offset;
        this.unread -= lost;
        seg.readRecords = seg.records;
        const ev = { file: seg.path, offset: this.read_.offset, bytes: seg.size - this.read_.offset, reason: r.error ?? "record runs past the end of the segment" };
        this.log.error({ ...ev, records: lost }, "zabbix spool: segment damaged while in use; rest of it skipped");
        this.emit("corrupt", ev);
        this.read_ = { segment, offset: seg.size };
        if (seg === this.segments[this.segments.length - 1]) this.rotate();
      }
    }
    return out;
  }

  /** The oldest n records in flight were delivered (or parked elsewhere): never read again. */
  commit(n: number): void {
    if (n <= 0) return;
    if (n > this.inflight.length) throw new RangeError(`commit ${n} of ${this.inflight.length} records in flight`);
    const last = this.inflight[n - 1]!;
    this.inflight.splice(0, n);
    this.counters.committed += n;
    const first = this.segments[0]!;
    this.committed = last.segment < first.seq ? { segment: first.seq, offset: 0 } : last;
    // at the end of a finished segment: move to the start of the next, so the old one can go
    const i = this.segments.findIndex((s) => s.seq === this.committed.segment);
    const next = this.segments[i + 1];
    if (i >= 0 && next && this.committed.offset >= this.segments[i]!.size) this.committed = { segment: next.seq, offset: 0 };
    this.saveCommitted();
    while (this.segments.length > 1 && this.segments[0]!.seq < this.committed.segment) this.removeOldest();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.activeFd >= 0) closeSync(this.activeFd);
    if (this.readFd) closeSync(this.readFd.fd);
    this.activeFd = -1;
    this.readFd = undefined;
  }

  private readAt(seg: Segment, offset: number, length: number): Buffer {
    if (this.readFd?.seq !== seg.seq) {
      if (this.readFd) closeSync(this.readFd.fd);
      this.readFd = { seq: seg.seq, fd: openSync(seg.path, "r") };
    }
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.readFd.fd, buf, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  }

  private rotate(): Segment {
    if (this.activeFd >= 0) closeSync(this.activeFd);
    this.activeFd = -1; // until the new file is open: a failed open is retried by the next append
    const seq = this.nextSeq++;
    const path = join(this.dir, `seg-${String(seq).padStart(12, "0")}.log`);
    this.activeFd = openSync(path, "a");
    const seg = { seq, path, size: 0, records: 0, readRecords: 0 };
    this.segments.push(seg);
    this.log.debug({ segment: path, segments: this.segments.length, bytes: this.totalBytes }, "zabbix spool: new segment");
    return seg;
  }

  private enforceBound(): void {
    while (this.totalBytes > this.maxBytes) {
      if (this.segments.length === 1) {
        if (this.segments[0]!.size === 0) return;
        try {
          this.rotate(); // the full active segment becomes droppable
        } catch (e) {
          this.log.error({ err: (e as Error).message }, "zabbix spool: cannot start a segment; bound enforced at the next write");
          return;
        }
      }
      const seg = this.segments[0]!;
      const lost = seg.records - seg.readRecords;
      this.removeOldest();
      this.unread -= lost;
      this.counters.dropped += lost;
      this.counters.droppedBytes += seg.size;
      if (this.committed.segment <= seg.seq) {
        this.committed = { segment: this.segments[0]!.seq, offset: 0 };
        this.saveCommitted();
      }
      const detail = `spool over ${this.maxBytes} bytes: dropped the oldest ${lost} values (${seg.size} bytes)`;
      this.log.warn({ records: lost, bytes: seg.size, segment: seg.path, spoolBytes: this.totalBytes }, "zabbix spool full: oldest values dropped");
      this.emit("drop", { reason: "spoolFull", records: lost, bytes: seg.size, detail });
    }
  }

  private removeOldest(): void {
    const seg = this.segments.shift()!;
    if (this.readFd?.seq === seg.seq) {
      closeSync(this.readFd.fd);
      this.readFd = undefined;
    }
    rmSync(seg.path, { force: true });
    this.totalBytes -= seg.size;
    // the reader may sit at the end of the removed segment: its next record is the next segment's first
    if (this.read_.segment <= seg.seq && this.segments[0]) this.read_ = { segment: this.segments[0].seq, offset: 0 };
  }

  private saveCommitted(): void {
    const tmp = join(this.dir, `${COMMITTED_FILE}.tmp`);
    writeFileSync(tmp, JSON.stringify({ version: 1, segment: this.committed.segment, offset: this.committed.offset }));
    renameSync(tmp, join(this.dir, COMMITTED_FILE));
  }

  private loadCommitted(): SpoolPosition | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.dir, COMMITTED_FILE), "utf8");
    } catch {
      return undefined;
    }
    try {
      const d = JSON.parse(text) as Record<string, unknown>;
      const ok = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
      if (d.version === 1 && ok(d.segment) && ok(d.offset)) return { segment: d.segment, offset: d.offset };
    } catch {
      /* reported below */
    }
    // the spool is resent from its oldest record: duplicates are better than losses
    this.log.warn({ file: join(this.dir, COMMITTED_FILE), text: text.slice(0, 100) }, "zabbix spool: unreadable commit position, resending from the oldest record");
    this.counters.corruptTails++;
    return undefined;
  }

  private load(): void {
    mkdirSync(this.dir, { recursive: true });
    const files = readdirSync(this.dir)
      .map((f) => ({ f, m: SEGMENT_FILE.exec(f) }))
      .filter((x) => x.m)
      .map((x) => ({ path: join(this.dir, x.f), seq: Number(x.m![1]) }))
      .sort((a, b) => a.seq - b.seq);
    let committed = this.loadCommitted();
    for (const { path, seq } of files) {
      let buf: Buffer;
      try {
        buf = readFileSync(path);
      } catch (e) {
        this.log.warn({ file: path, err: (e as Error).message }, "zabbix spool: unreadable segment ignored");
        continue;
      }
      const r = scanRecords(buf);
      if (r.error) {
        truncateSync(path, r.end);
        this.counters.corruptTails++;
        this.counters.corruptBytes += buf.length - r.end;
        const ev = { file: path, offset: r.end, bytes: buf.length - r.end, reason: r.error };
        this.log.warn({ ...ev, torn: r.incomplete ?? false }, "zabbix spool: bad tail cut off");
        // after open() returned, so a listener attached right away hears it
        process.nextTick(() => this.emit("corrupt", ev));
      }
      this.segments.push({ seq, path, size: r.end, records: r.records, readRecords: 0 });
      this.totalBytes += r.end;
    }
    this.nextSeq = (this.segments[this.segments.length - 1]?.seq ?? 0) + 1;
    // resume after the commit position (on a record boundary; earlier segments are done)
    if (committed && !this.segments.length) committed = undefined;
    if (committed) {
      const seg = this.segments.find((s) => s.seq >= committed!.segment);
      if (!seg) committed = undefined;
      else if (seg.seq > committed.segment) committed = { segment: seg.seq, offset: 0 };
    }
    if (committed) {
      while (this.segments[0] && this.segments[0].seq < committed.segment) this.removeOldest();
      const seg = this.segments[0]!;
      const want = committed.offset;
      let at = 0;
      const buf = want > 0 ? readFileSync(seg.path).subarray(0, seg.size) : Buffer.alloc(0);
      const r = scanRecords(buf, 0, (_p, end) => (end <= want ? ((at = end), true) : false));
      seg.readRecords = r.records - (r.end > want ? 1 : 0);
      if (at !== want) this.log.warn({ segment: seg.path, committed: want, boundary: at }, "zabbix spool: commit position not on a record boundary; resuming at the record before");
      this.committed = { segment: seg.seq, offset: at };
    } else {
      this.committed = { segment: this.segments[0]?.seq ?? this.nextSeq, offset: 0 };
    }
    this.read_ = { ...this.committed };
    this.unread = this.segments.reduce((n, s) => n + s.records - s.readRecords, 0);
    this.appendedTotal = this.unread;
    if (this.unread > 0) this.appendMarks.push({ upTo: this.unread, at: 0 });
    // append to the last segment while it has room, else start one
    const last = this.segments[this.segments.length - 1];
    if (last && last.size < this.segmentBytes) this.activeFd = openSync(last.path, "a");
    else this.rotate();
    if (this.segments.length && this.committed.segment < this.segments[0]!.seq) this.committed = { segment: this.segments[0]!.seq, offset: 0 };
    for (const f of readdirSync(this.dir)) if (f.endsWith(".tmp")) unlinkSync(join(this.dir, f));
    this.log.debug({ dir: this.dir, segments: this.segments.length, bytes: this.totalBytes, unread: this.unread, committed: this.committed }, "zabbix spool opened");
  }
}

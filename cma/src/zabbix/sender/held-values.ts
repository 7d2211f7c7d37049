/**
 * Values of pairs the Zabbix server does not know yet (host or item not created, LLD item not
 * there yet, configuration cache not synced), held in order per pair while the bridge resyncs
 * Zabbix and the sender retries. On disk (one file of checksummed records, spool-records.ts) so
 * the main spool can move on past them without a restart losing them: appended as they are
 * held, rewritten atomically (temp file + rename) when a pair is delivered or given up. Bounded:
 * add() refuses past maxBytes (or when the disk refuses) and the caller drops and counts.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, renameSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import type { Logger } from "@ringwatch/shared";
import { RECORD_HEADER_BYTES, encodeRecords, scanRecords } from "./spool-records.js";
import { pairIdOfEntry } from "./value-entry.js";

export class HeldValues {
  private readonly byPair = new Map<string, Buffer[]>();
  private fd = -1;
  private bytes_ = 0;
  private values_ = 0;
  readonly counters = { corruptBytes: 0, badEntries: 0 };

  private constructor(
    readonly file: string,
    private readonly maxBytes: number,
    private readonly log: Logger,
  ) {}

  static open(file: string, maxBytes: number, log: Logger): HeldValues {
    const h = new HeldValues(file, maxBytes, log);
    h.load();
    return h;
  }

  get values(): number {
    return this.values_;
  }

  get bytes(): number {
    return this.bytes_;
  }

  pairs(): string[] {
    return [...this.byPair.keys()];
  }

  has(pair: string): boolean {
    return this.byPair.has(pair);
  }

  entries(pair: string): readonly Buffer[] {
    return this.byPair.get(pair) ?? [];
  }

  /** Hold more values of one pair, after those it already has. False when over the bound (nothing held). */
  add(pair: string, entries: readonly Buffer[]): boolean {
    const buf = encodeRecords(entries);
    if (this.bytes_ + buf.length > this.maxBytes) return false;
    try {
      let at = 0;
      while (at < buf.length) at += writeSync(this.fd, buf, at, buf.length - at);
    } catch (e) {
      this.log.error({ file: this.file, err: (e as Error).message }, "zabbix held values: write failed");
      try {
        ftruncateSync(this.fd, this.bytes_);
      } catch {
        /* cut at the next open */
      }
      return false;
    }
    const list = this.byPair.get(pair) ?? [];
    list.push(...entries);
    this.byPair.set(pair, list);
    this.bytes_ += buf.length;
    this.values_ += entries.length;
    return true;
  }

  /** Replace what is held for these pairs (empty: delivered or dropped) in one atomic rewrite. */
  replace(changes: ReadonlyMap<string, readonly Buffer[]>): void {
    for (const [pair, entries] of changes) {
      const old = this.byPair.get(pair);
      if (old) this.values_ -= old.length;
      if (entries.length) {
        this.byPair.set(pair, [...entries]);
        this.values_ += entries.length;
      } else {
        this.byPair.delete(pair);
      }
    }
    this.rewrite();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private rewrite(): void {
    if (this.fd >= 0) closeSync(this.fd);
    const all = [...this.byPair.values()].flat();
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, encodeRecords(all));
    renameSync(tmp, this.file);
    this.bytes_ = all.reduce((n, e) => n + RECORD_HEADER_BYTES + e.length, 0);
    this.fd = openSync(this.file, "a");
  }

  private load(): void {
    let buf: Buffer = Buffer.alloc(0);
    try {
      buf = readFileSync(this.file);
    } catch {
      /* none yet */
    }
    const r = scanRecords(buf, 0, (payload) => {
      const pair = pairIdOfEntry(payload);
      if (!pair) {
        this.counters.badEntries++;
        return;
      }
      const copy = Buffer.from(payload);
      const list = this.byPair.get(pair);
      if (list) list.push(copy);
      else this.byPair.set(pair, [copy]);
      this.values_++;
    });
    this.bytes_ = r.end;
    if (r.error) {
      truncateSync(this.file, r.end);
      this.counters.corruptBytes += buf.length - r.end;
      this.log.warn({ file: this.file, offset: r.end, bytes: buf.length - r.end, reason: r.error }, "zabbix held values: bad tail cut off");
    }
    this.fd = openSync(this.file, "a");
    if (this.values_) this.log.info({ pairs: this.byPair.size, values: this.values_ }, "zabbix held values loaded");
  }
}

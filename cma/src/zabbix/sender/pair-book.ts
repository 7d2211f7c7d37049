/**
 * The (host, key) pairs the Zabbix server has accepted a value for. Values of a confirmed pair go
 * out in shared batches; any other pair is first probed with one value in a request of its own
 * (a reply only counts failures, it does not say which value failed). Kept in a small append-only
 * file ("+pair" / "-pair" lines) so a restarted CMA does not probe every item again; a lost or
 * torn line only costs one more probe. Past maxPairs the book starts over (items come and go with
 * domains; probing again is slower, never wrong).
 */
import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import type { Logger } from "@ringwatch/shared";

/** a pair id is the start of a value entry: {"host":...,"key":... (see value-entry.ts) */
const PAIR_ID = /^\{"host":".*","key":".*"$/;

export class PairBook {
  private readonly pairs = new Set<string>();
  private fd = -1;
  readonly counters = { badLines: 0, resets: 0 };

  private constructor(
    readonly file: string,
    private readonly maxPairs: number,
    private readonly log: Logger,
  ) {}

  static open(file: string, log: Logger, maxPairs = 1_000_000): PairBook {
    const b = new PairBook(file, maxPairs, log);
    b.load();
    return b;
  }

  get size(): number {
    return this.pairs.size;
  }

  has(pair: string): boolean {
    return this.pairs.has(pair);
  }

  confirm(pair: string): void {
    if (this.pairs.has(pair)) return;
    if (this.pairs.size >= this.maxPairs) {
      this.log.info({ pairs: this.pairs.size }, "zabbix confirmed pairs: book full, starting over");
      this.counters.resets++;
      this.pairs.clear();
      this.rewrite();
    }
    this.pairs.add(pair);
    this.write(`+${pair}\n`);
  }

  forget(pairs: Iterable<string>): void {
    let text = "";
    for (const p of pairs) if (this.pairs.delete(p)) text += `-${p}\n`;
    if (text) this.write(text);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private write(text: string): void {
    try {
      writeSync(this.fd, text);
    } catch (e) {
      // only a cache: a pair missing from the file is probed again after a restart
      this.log.warn({ file: this.file, err: (e as Error).message }, "zabbix confirmed pairs: write failed");
    }
  }

  private load(): void {
    let text = "";
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      /* none yet */
    }
    const lines = text.split("\n");
    lines.pop(); // the part after the last newline is empty or torn
    for (const l of lines) {
      const pair = l.slice(1);
      if ((l[0] === "+" || l[0] === "-") && PAIR_ID.test(pair)) {
        if (l[0] === "+") this.pairs.add(pair);
        else this.pairs.delete(pair);
      } else {
        this.counters.badLines++;
      }
    }
    if (this.counters.badLines) this.log.warn({ file: this.file, badLines: this.counters.badLines }, "zabbix confirmed pairs: unreadable lines ignored");
    if (this.pairs.size > this.maxPairs) this.pairs.clear();
    this.rewrite(); // compact: one line per pair
  }

  private rewrite(): void {
    if (this.fd >= 0) closeSync(this.fd);
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, [...this.pairs].map((p) => `+${p}\n`).join(""));
    renameSync(tmp, this.file);
    this.fd = openSync(this.file, "a");
  }
}

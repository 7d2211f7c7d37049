/**
 * Key tables across batches: the sender includes its table only when it changed, when the
 * receiver asked (after UnknownKeyTableError, e.g. a restarted CMA) and every `refreshEvery`
 * batches as a safety net; the receiver keeps the last table per host.
 */
import { batchKeyTable, decodeStatsBatch, encodeStatsBatch } from "./batch-codec.js";
import type { StatsBatch } from "./batch-codec.js";
import type { SeriesSummary } from "./compaction.js";
import type { KeyTable } from "./key-table.js";

export interface StatsBatchSenderOptions {
  /** Carry the full table at least every this many batches (default 60: hourly at 1-minute reports). */
  refreshEvery?: number;
}

export class StatsBatchSender {
  private sentId: number | null = null;
  private sinceFull = 0;
  private readonly refreshEvery: number;

  constructor(opts: StatsBatchSenderOptions = {}) {
    this.refreshEvery = Math.max(1, opts.refreshEvery ?? 60);
  }

  encode(batch: StatsBatch<SeriesSummary>): { bytes: Buffer; tableIncluded: boolean; tableId: number } {
    const table = batchKeyTable(batch);
    const include = table.id !== this.sentId || this.sinceFull >= this.refreshEvery - 1;
    const bytes = encodeStatsBatch(batch, { includeTable: include, table });
    if (include) {
      this.sentId = table.id;
      this.sinceFull = 0;
    } else {
      this.sinceFull++;
    }
    return { bytes, tableIncluded: include, tableId: table.id };
  }

  /** The receiver does not have our table (it threw UnknownKeyTableError or restarted): send it next time. */
  resendTable(): void {
    this.sentId = null;
  }
}

export class StatsBatchReceiver {
  private readonly tables = new Map<string, KeyTable>();

  /** Throws BatchCodecError; UnknownKeyTableError means "ask this host to resend its table". */
  decode(host: string, bytes: Uint8Array): StatsBatch {
    const known = this.tables.get(host);
    const b = decodeStatsBatch(bytes, (id) => (known?.id === id ? known : undefined));
    if (b.table) this.tables.set(host, b.table); // only once the whole batch validated
    return { intervalStart: b.intervalStart, intervalMs: b.intervalMs, series: b.series };
  }

  /** Table id currently held for a host (for diagnostics and tests). */
  tableIdOf(host: string): number | undefined {
    return this.tables.get(host)?.id;
  }

  forget(host: string): void {
    this.tables.delete(host);
  }
}

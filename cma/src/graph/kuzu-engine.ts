/**
 * Kuzu itself, as it runs inside the graph worker process (kuzu-worker.ts): one Database, a
 * connection for the ingestion's writes, and every query in a READ ONLY transaction of its own on
 * a fresh connection. Kuzu refuses any write inside such a transaction (checked in the tests), so
 * the query path cannot write by construction, and a query sees every write committed before it
 * began: no second Database to reopen after each write (that cost 0.13–1.3 s on the first query
 * after a write).
 *
 * Checkpoints are ours, not Kuzu's: Kuzu's automatic checkpoint at a commit waits for every open
 * transaction and, when a query is still running, fails the commit's caller after ~5 s although
 * the data was committed (measured with kuzu 0.11.3). So auto_checkpoint is off; after a write, once
 * the write-ahead log is past checkpointWalBytes, new queries wait, the running ones finish (each
 * is bounded by its timeout), the checkpoint runs, and the queries go on.
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import kuzu from "kuzu";
import type { Connection, Database, KuzuValue, QueryResult } from "kuzu";
import { GraphQueryError } from "./graph-store.js";
import type { GraphParams, GraphRow, ReadLimits, ReadResult } from "./graph-store.js";
import { kuzuDdl, relationshipPairs, tableProperties } from "./schema.js";
import { usedParams } from "./query-checks.js";
import { toGraphValue } from "./kuzu-values.js";

/** Kuzu's own default checkpoint threshold (16 MiB of write-ahead log) */
export const CHECKPOINT_WAL_BYTES = 16 * 1024 * 1024;

/** What the engine did, for status and for the tests that count it. */
export interface EngineStats {
  /** Databases opened (one per worker start: queries open none) */
  databaseOpens: number;
  reads: number;
  writes: number;
  checkpoints: number;
  checkpointFailures: number;
  /** the longest a checkpoint waited for running queries, and the longest one took (ms) */
  checkpointWaitMsMax: number;
  checkpointMsMax: number;
}

export interface SlowStatement {
  ms: number;
  rows: number;
  cypher: string;
}

export interface KuzuEngineOptions {
  path: string;
  bufferPoolBytes: number;
  /** checkpoint once the write-ahead log is this large (default CHECKPOINT_WAL_BYTES) */
  checkpointWalBytes?: number;
  /** how long to wait for another process's lock on the database to go (default 20 s) */
  lockWaitMs?: number;
}

/** Kuzu's messages, sorted into the codes callers see. */
export function kuzuError(e: unknown): GraphQueryError {
  if (e instanceof GraphQueryError) return e;
  const msg = (e instanceof Error ? e.message : String(e)).trim();
  if (/read-only (database|transaction)/i.test(msg)) return new GraphQueryError("write-refused", "read-only queries only: the graph refused a write");
  // a procedure that writes (create_fts_index ...) cannot run inside the query's transaction at all
  if (/only supported in auto transaction mode/i.test(msg)) return new GraphQueryError("write-refused", `read-only queries only: ${msg}`);
  if (/^Interrupted\.?$/i.test(msg) || /timeout/i.test(msg)) return new GraphQueryError("timeout", "the query ran out of time and was stopped");
  if (/^(Parser|Binder|Catalog) exception|Parameter .* not found|prepare multiple statements/i.test(msg)) return new GraphQueryError("syntax", msg);
  return new GraphQueryError("store", msg);
}

async function closeResult(r: QueryResult | QueryResult[]): Promise<void> {
  for (const x of Array.isArray(r) ? r : [r]) x.close();
}

export class KuzuEngine {
  private db?: Database;
  private writer?: Connection;
  private activeReads = 0;
  /** set while a checkpoint waits for the running queries or runs: new queries wait for it */
  private checkpointing?: Promise<void>;
  private drained?: () => void;
  readonly stats: EngineStats = { databaseOpens: 0, reads: 0, writes: 0, checkpoints: 0, checkpointFailures: 0, checkpointWaitMsMax: 0, checkpointMsMax: 0 };

  constructor(private readonly o: KuzuEngineOptions) {}

  async init(): Promise<void> {
    mkdirSync(dirname(this.o.path), { recursive: true });
    // A CMA restarted at once finds the previous worker still closing the database (it holds
    // the file lock until then): wait for it rather than fail the start.
    for (let waited = 0; ; waited += 250) {
      const db = new kuzu.Database(this.o.path, this.o.bufferPoolBytes);
      try {
        await db.init();
        this.db = db;
        this.stats.databaseOpens++;
        break;
      } catch (e) {
        await db.close().catch(() => undefined);
        if (!/lock/i.test(e instanceof Error ? e.message : String(e)) || waited >= (this.o.lockWaitMs ?? 20_000)) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    this.writer = new kuzu.Connection(this.db);
    await this.writer.init();
    await closeResult(await this.writer.query("CALL auto_checkpoint=false")); // the database's setting: ours (above)
    for (const ddl of kuzuDdl()) await closeResult(await this.writer.query(ddl));
    // A store written by an older version: add the properties it lacks (they read as NULL;
    // GraphIngestor backfills the derived ones).
    for (const [table, props] of tableProperties()) {
      const r = await this.writer.query(`CALL table_info('${table}') RETURN name`);
      const have = new Set((await (Array.isArray(r) ? r[0] : r).getAll()).map((x) => String(x.name)));
      await closeResult(r);
      for (const [p, type] of Object.entries(props)) if (!have.has(p)) await closeResult(await this.writer.query(`ALTER TABLE ${table} ADD ${p} ${type}`));
    }
    // ... and the (from, to) pairs a relationship gained since (a guest's services and dependencies)
    for (const [type, pairs] of relationshipPairs()) {
      for (const [from, to] of pairs) await closeResult(await this.writer.query(`ALTER TABLE ${type} ADD IF NOT EXISTS FROM ${from} TO ${to}`));
    }
  }

  /** All statements in one transaction: either all of them or none. Returns the statements slower than slowMs. */
  async write(statements: readonly { cypher: string; params?: GraphParams }[], slowMs = Infinity): Promise<SlowStatement[]> {
    const c = this.writer;
    if (!c) throw new GraphQueryError("store", "the graph store is not open");
    const slow: SlowStatement[] = [];
    await closeResult(await c.query("BEGIN TRANSACTION"));
    try {
      for (const s of statements) {
        const t = performance.now();
        const ps = await c.prepare(s.cypher);
        if (!ps.isSuccess()) throw new Error(ps.getErrorMessage());
        await closeResult(await c.execute(ps, usedParams(s.cypher, s.params) as Record<string, KuzuValue>));
        const ms = performance.now() - t;
        if (ms > slowMs) slow.push({ ms: Math.round(ms), rows: Array.isArray(s.params?.rows) ? s.params.rows.length : 1, cypher: s.cypher.slice(0, 200) });
      }
      await closeResult(await c.query("COMMIT"));
    } catch (e) {
      // Kuzu has already rolled back when a statement failed; otherwise roll back here.
      await c.query("ROLLBACK").then(closeResult, () => undefined);
      throw kuzuError(e);
    }
    this.stats.writes++;
    // committed: a checkpoint that fails does not make the write fail (the log is folded in later)
    if (this.walBytes() >= (this.o.checkpointWalBytes ?? CHECKPOINT_WAL_BYTES)) await this.checkpoint().catch(() => void this.stats.checkpointFailures++);
    return slow;
  }

  private walBytes(): number {
    try {
      return statSync(`${this.o.path}.wal`).size;
    } catch {
      return 0; // none yet, or just checkpointed
    }
  }

  /**
   * Fold the write-ahead log into the database. Called between writes (the worker applies them one
   * at a time), so no write transaction is open; new queries wait, running ones are let finish.
   */
  async checkpoint(): Promise<void> {
    const c = this.writer;
    if (!c || this.checkpointing) return;
    let release!: () => void;
    this.checkpointing = new Promise<void>((r) => (release = r));
    const t0 = performance.now();
    try {
      if (this.activeReads > 0) await new Promise<void>((r) => (this.drained = r));
      const t1 = performance.now();
      await closeResult(await c.query("CHECKPOINT"));
      this.stats.checkpoints++;
      this.stats.checkpointWaitMsMax = Math.max(this.stats.checkpointWaitMsMax, Math.round(t1 - t0));
      this.stats.checkpointMsMax = Math.max(this.stats.checkpointMsMax, Math.round(performance.now() - t1));
    } finally {
      this.checkpointing = undefined;
      this.drained = undefined;
      release();
    }
  }

  private readDone(): void {
    this.activeReads--;
    if (this.activeReads === 0) this.drained?.();
  }

  async read(cypher: string, params: GraphParams | undefined, limits: ReadLimits): Promise<ReadResult> {
    const started = performance.now();
    while (this.checkpointing) await this.checkpointing;
    const db = this.db;
    if (!db) throw new GraphQueryError("store", "the graph store is not open");
    this.activeReads++;
    this.stats.reads++;
    const c = new kuzu.Connection(db);
    let result: QueryResult | undefined;
    let inTransaction = false;
    try {
      await c.init();
      c.setQueryTimeout(Math.max(1, Math.round(limits.timeoutMs)));
      await closeResult(await c.query("BEGIN TRANSACTION READ ONLY"));
      inTransaction = true;
      const used = usedParams(cypher, params);
      const ps = await c.prepare(cypher);
      let r: QueryResult | QueryResult[];
      if (ps.isSuccess()) r = await c.execute(ps, used as Record<string, KuzuValue>);
      // Kuzu expands standalone CALLs (create_fts_index ...) into several statements, which
      // prepare() refuses; without parameters they can still run (and be refused as writes).
      else if (/prepare multiple statements/i.test(ps.getErrorMessage()) && Object.keys(used).length === 0) r = await c.query(cypher);
      else throw new Error(ps.getErrorMessage());
      if (Array.isArray(r)) {
        await closeResult(r);
        throw new GraphQueryError("syntax", "one statement per query");
      }
      result = r;
      const columns = r.getColumnNamesSync();
      const total = r.getNumTuples();
      // Synchronously: the async getAll() costs a thread-pool round trip per row (measured: 2,100
      // rows in 90 ms async, 8 ms sync). This process serves only the graph, so blocking is fine.
      const raw: Record<string, KuzuValue>[] = [];
      for (let i = 0; i < limits.maxRows && r.hasNext(); i++) raw.push(r.getNextSync()!);
      const rows = raw.map((row) => {
        const out: GraphRow = {};
        for (const col of columns) out[col] = toGraphValue(row[col]);
        return out;
      });
      return { columns, rows, truncated: total > limits.maxRows, elapsedMs: performance.now() - started };
    } catch (e) {
      throw kuzuError(e);
    } finally {
      result?.close();
      // a read-only transaction has nothing to keep; a failed statement may have ended it already
      if (inTransaction) await c.query("ROLLBACK").then(closeResult, () => undefined);
      await c.close().catch(() => undefined);
      this.readDone();
    }
  }

  async close(): Promise<void> {
    await this.checkpoint().catch(() => undefined); // the next start need not replay the log
    await this.writer?.close().catch(() => undefined);
    await this.db?.close().catch(() => undefined);
    this.writer = this.db = undefined;
  }
}

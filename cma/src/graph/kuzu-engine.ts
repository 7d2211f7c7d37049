/**
 * Kuzu itself, as it runs inside the graph worker process (kuzu-worker.ts): one read-write
 * Database for the ingestion's writes and a read-only Database for queries, so the query path
 * cannot write by construction. A read-only Database sees the store as of its opening, so every
 * committed write bumps a generation and the next read opens a fresh one; the previous one is
 * closed once its last read is done.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import kuzu from "kuzu";
import type { Connection, Database, KuzuValue, QueryResult } from "kuzu";
import { GraphQueryError } from "./graph-store.js";
import type { GraphParams, GraphRow, ReadLimits, ReadResult } from "./graph-store.js";
import { kuzuDdl, tableProperties } from "./schema.js";
import { usedParams } from "./query-checks.js";
import { toGraphValue } from "./kuzu-values.js";

export interface SlowStatement {
  ms: number;
  rows: number;
  cypher: string;
}

export interface KuzuEngineOptions {
  path: string;
  bufferPoolBytes: number;
  readBufferPoolBytes: number;
  /** how long to wait for another process's lock on the database to go (default 20 s) */
  lockWaitMs?: number;
}

/** Kuzu's messages, sorted into the codes callers see. */
export function kuzuError(e: unknown): GraphQueryError {
  if (e instanceof GraphQueryError) return e;
  const msg = (e instanceof Error ? e.message : String(e)).trim();
  if (/read-only database/i.test(msg)) return new GraphQueryError("write-refused", "read-only queries only: the graph refused a write");
  if (/^Interrupted\.?$/i.test(msg) || /timeout/i.test(msg)) return new GraphQueryError("timeout", "the query ran out of time and was stopped");
  if (/^(Parser|Binder|Catalog) exception|Parameter .* not found|prepare multiple statements/i.test(msg)) return new GraphQueryError("syntax", msg);
  return new GraphQueryError("store", msg);
}

async function closeResult(r: QueryResult | QueryResult[]): Promise<void> {
  for (const x of Array.isArray(r) ? r : [r]) x.close();
}

interface ReadDb {
  db: Database;
  generation: number;
  users: number;
  stale: boolean;
}

export class KuzuEngine {
  private rw?: Database;
  private writer?: Connection;
  private generation = 0;
  private ro?: ReadDb;
  private opening?: Promise<ReadDb>;

  constructor(private readonly o: KuzuEngineOptions) {}

  async init(): Promise<void> {
    mkdirSync(dirname(this.o.path), { recursive: true });
    // A CMA restarted at once finds the previous worker still closing the database (it holds
    // the file lock until then): wait for it rather than fail the start.
    for (let waited = 0; ; waited += 250) {
      const db = new kuzu.Database(this.o.path, this.o.bufferPoolBytes);
      try {
        await db.init();
        this.rw = db;
        break;
      } catch (e) {
        await db.close().catch(() => undefined);
        if (!/lock/i.test(e instanceof Error ? e.message : String(e)) || waited >= (this.o.lockWaitMs ?? 20_000)) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    this.writer = new kuzu.Connection(this.rw);
    await this.writer.init();
    for (const ddl of kuzuDdl()) await closeResult(await this.writer.query(ddl));
    // A store written by an older version: add the properties it lacks (they read as NULL;
    // GraphIngestor backfills the derived ones).
    for (const [table, props] of tableProperties()) {
      const r = await this.writer.query(`CALL table_info('${table}') RETURN name`);
      const have = new Set((await (Array.isArray(r) ? r[0] : r).getAll()).map((x) => String(x.name)));
      await closeResult(r);
      for (const [p, type] of Object.entries(props)) if (!have.has(p)) await closeResult(await this.writer.query(`ALTER TABLE ${table} ADD ${p} ${type}`));
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
    this.generation++;
    return slow;
  }

  private async readDb(): Promise<ReadDb> {
    // an opening started before the last write would give a snapshot without it: wait, look again
    while (this.opening) await this.opening.catch(() => undefined);
    if (this.ro && this.ro.generation === this.generation) return this.ro;
    const generation = this.generation;
    this.opening = (async () => {
      const db = new kuzu.Database(this.o.path, this.o.readBufferPoolBytes, true, true);
      await db.init();
      const old = this.ro;
      this.ro = { db, generation, users: 0, stale: false };
      if (old) {
        old.stale = true;
        if (old.users === 0) await old.db.close();
      }
      return this.ro;
    })().finally(() => (this.opening = undefined));
    return this.opening;
  }

  async read(cypher: string, params: GraphParams | undefined, limits: ReadLimits): Promise<ReadResult> {
    const started = performance.now();
    const rd = await this.readDb().catch((e: unknown) => {
      throw kuzuError(e);
    });
    rd.users++;
    const c = new kuzu.Connection(rd.db);
    let result: QueryResult | undefined;
    try {
      await c.init();
      c.setQueryTimeout(Math.max(1, Math.round(limits.timeoutMs)));
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
      await c.close().catch(() => undefined);
      rd.users--;
      if (rd.stale && rd.users === 0) await rd.db.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const ro = this.ro;
    this.ro = undefined;
    if (ro && ro.users === 0) await ro.db.close().catch(() => undefined);
    await this.writer?.close().catch(() => undefined);
    await this.rw?.close().catch(() => undefined);
    this.writer = this.rw = undefined;
  }
}

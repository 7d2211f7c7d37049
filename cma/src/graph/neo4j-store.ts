/**
 * The Neo4j store (neo4j-driver 6), used when NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD are set.
 * Uniqueness constraints on every node key (MERGE's index) and a few indexes are created at
 * init. Writes run in one managed write transaction (executeWrite, retried by the driver on
 * transient errors: every statement is an idempotent MERGE). Reads run in a READ-mode session,
 * so the server refuses writes, with the transaction timeout set to the read's timeoutMs; the
 * record stream is abandoned after maxRows + 1 records.
 */
import neo4j from "neo4j-driver";
import type { Driver, Integer, Node, Path, Relationship } from "neo4j-driver";
import type { Logger } from "@ringwatch/shared";
import { GraphQueryError } from "./graph-store.js";
import type { GraphParams, GraphRow, GraphStore, GraphValue, ReadLimits, ReadResult } from "./graph-store.js";
import { checkParams, checkReadQuery, isEmptyUnwind, resolveLimits } from "./query-checks.js";
import { neo4jDdl } from "./schema.js";

export interface Neo4jStoreOptions {
  uri: string;
  user: string;
  password: string;
  /** default: the server's default database */
  database?: string;
  log: Logger;
  /** a read whose stream has not ended this long after its timeout is abandoned on our side */
  hardTimeoutGraceMs?: number;
}

/** JS numbers that are whole go to Neo4j as integers (the driver would send every number as a float). */
export function toNeo4jParam(v: unknown): unknown {
  if (typeof v === "number") return Number.isSafeInteger(v) ? neo4j.int(v) : v;
  if (Array.isArray(v)) return v.map(toNeo4jParam);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toNeo4jParam(x)]));
  return v;
}

function props(p: Record<string, unknown>): Record<string, GraphValue> {
  const out: Record<string, GraphValue> = {};
  for (const [k, v] of Object.entries(p)) if (v !== null && v !== undefined) out[k] = fromNeo4j(v);
  return out;
}

/** A driver value as plain JSON, shaped like the Kuzu store's (kuzu-values.ts). */
export function fromNeo4j(v: unknown): GraphValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (neo4j.isInt(v)) {
    const i = v as Integer;
    return i.inSafeRange() ? i.toNumber() : i.toString();
  }
  if (Array.isArray(v)) return v.map(fromNeo4j);
  if (neo4j.isNode(v)) {
    const n = v as Node;
    return { _label: n.labels[0] ?? null, ...props(n.properties) };
  }
  if (neo4j.isRelationship(v)) {
    const r = v as Relationship;
    return { _type: r.type, ...props(r.properties) };
  }
  if (neo4j.isPath(v)) {
    const p = v as Path;
    return { nodes: [p.start, ...p.segments.map((s) => s.end)].map(fromNeo4j), rels: p.segments.map((s) => fromNeo4j(s.relationship)) };
  }
  if (neo4j.isDate(v) || neo4j.isDateTime(v) || neo4j.isLocalDateTime(v) || neo4j.isTime(v) || neo4j.isLocalTime(v) || neo4j.isDuration(v)) return String(v);
  if (typeof v === "object") {
    const out: Record<string, GraphValue> = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromNeo4j(x);
    return out;
  }
  return String(v);
}

/** The server's error codes, sorted into the codes callers see. */
export function neo4jError(e: unknown): GraphQueryError {
  if (e instanceof GraphQueryError) return e;
  const code = typeof (e as { code?: unknown })?.code === "string" ? (e as { code: string }).code : "";
  const msg = e instanceof Error ? e.message : String(e);
  if (/Statement\.AccessMode|Forbidden/.test(code) || /read access mode|not allowed in read|read-only/i.test(msg)) return new GraphQueryError("write-refused", "read-only queries only: the graph refused a write");
  if (/TransactionTimedOut|Transaction\.Terminated|LockClientStopped/.test(code) || /timed out|terminated/i.test(msg)) return new GraphQueryError("timeout", "the query ran out of time and was stopped");
  if (/^Neo\.ClientError\.(Statement|Procedure|Schema\.(ConstraintValidationFailed))/.test(code)) return new GraphQueryError("syntax", msg);
  return new GraphQueryError("store", msg || code || "Neo4j error");
}

export class Neo4jStore implements GraphStore {
  readonly kind = "neo4j";
  private readonly driver: Driver;

  constructor(private readonly o: Neo4jStoreOptions) {
    this.driver = neo4j.driver(o.uri, neo4j.auth.basic(o.user, o.password), { connectionTimeout: 10_000, maxTransactionRetryTime: 15_000 });
  }

  async init(): Promise<void> {
    try {
      await this.driver.verifyConnectivity({ database: this.o.database });
      for (const ddl of neo4jDdl()) await this.driver.executeQuery(ddl, {}, { database: this.o.database, routing: neo4j.routing.WRITE });
    } catch (e) {
      throw neo4jError(e);
    }
    this.o.log.info({ uri: this.o.uri }, "Neo4j graph store ready");
  }

  async write(statements: readonly { cypher: string; params?: GraphParams }[]): Promise<void> {
    const todo = statements.filter((s) => !isEmptyUnwind(s.cypher, s.params));
    for (const s of todo) {
      const err = checkParams(s.params, "write");
      if (err) throw err;
    }
    if (!todo.length) return;
    const session = this.driver.session({ defaultAccessMode: neo4j.session.WRITE, database: this.o.database });
    try {
      await session.executeWrite(async (tx) => {
        for (const s of todo) await tx.run(s.cypher, toNeo4jParam(s.params ?? {}) as Record<string, unknown>);
      });
    } catch (e) {
      throw neo4jError(e);
    } finally {
      await session.close();
    }
  }

  async read(cypher: string, params?: GraphParams, limits?: Partial<ReadLimits>): Promise<ReadResult> {
    const l = resolveLimits(limits);
    const err = checkReadQuery(cypher) ?? checkParams(params, "read");
    if (err) throw err;
    const started = performance.now();
    const session = this.driver.session({ defaultAccessMode: neo4j.session.READ, database: this.o.database });
    let timer: NodeJS.Timeout | undefined;
    const run = async (): Promise<ReadResult> => {
      const result = session.run(cypher, toNeo4jParam(params ?? {}) as Record<string, unknown>, { timeout: Math.max(1, Math.round(l.timeoutMs)) });
      const columns = await result.keys();
      const rows: GraphRow[] = [];
      let truncated = false;
      for await (const rec of result) {
        if (rows.length >= l.maxRows) {
          truncated = true;
          break; // ends the stream: the rest is discarded, not fetched
        }
        const row: GraphRow = {};
        for (const c of columns) row[c] = fromNeo4j(rec.get(c));
        rows.push(row);
      }
      return { columns: [...columns], rows, truncated, elapsedMs: performance.now() - started };
    };
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GraphQueryError("timeout", "the query ran out of time and was stopped")), l.timeoutMs + (this.o.hardTimeoutGraceMs ?? 5000));
    });
    const running = run();
    running.catch(() => undefined); // it may fail after the deadline has answered
    try {
      return await Promise.race([running, deadline]);
    } catch (e) {
      throw neo4jError(e);
    } finally {
      clearTimeout(timer);
      await session.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.driver.close();
  }
}

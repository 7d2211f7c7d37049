/**
 * The one interface both graph stores implement (Kuzu embedded, the default; Neo4j through
 * neo4j-driver when NEO4J_URI is set). Everything above it (ingestion plugins, named root-cause
 * queries, the HTTP API) speaks only this interface and the Cypher subset both stores run; the
 * conformance suite (cma/test/graph/) proves the two behave the same.
 */

/** A value as it leaves a store: plain JSON (integers as numbers, dates as ISO strings, nodes as property maps). */
export type GraphValue = null | boolean | number | string | GraphValue[] | { [key: string]: GraphValue };
export type GraphRow = Record<string, GraphValue>;
export type GraphParams = Record<string, unknown>;

export interface ReadLimits {
  /** the query is abandoned (and the caller gets GraphQueryError code "timeout") after this long */
  timeoutMs: number;
  /** at most this many rows are returned; `truncated` tells when there were more */
  maxRows: number;
}

export interface ReadResult {
  columns: string[];
  rows: GraphRow[];
  truncated: boolean;
  elapsedMs: number;
}

export type GraphQueryErrorCode = "syntax" | "write-refused" | "timeout" | "too-large" | "store";

/** Every failure a caller can see: a clear code and message, never a driver's raw exception. */
export class GraphQueryError extends Error {
  constructor(readonly code: GraphQueryErrorCode, message: string) {
    super(message);
    this.name = "GraphQueryError";
  }
}

export interface GraphStore {
  readonly kind: "kuzu" | "neo4j";
  /** create tables / constraints and indexes; idempotent, called once at start */
  init(): Promise<void>;
  /**
   * Run write statements in order (one transaction where the store allows). Rows for batching go
   * in params and are consumed with UNWIND; every write is an idempotent MERGE on a stable key.
   */
  write(statements: readonly { cypher: string; params?: GraphParams }[]): Promise<void>;
  /** A read-only query: a path that cannot write (Neo4j READ session; Kuzu READ ONLY transaction). */
  read(cypher: string, params?: GraphParams, limits?: Partial<ReadLimits>): Promise<ReadResult>;
  close(): Promise<void>;
}

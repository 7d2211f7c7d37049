/** Messages between KuzuStore (in the CMA) and the graph worker process that hosts Kuzu. */
import type { GraphParams, GraphQueryErrorCode, ReadLimits, ReadResult } from "./graph-store.js";
import type { EngineStats, KuzuEngineOptions, SlowStatement } from "./kuzu-engine.js";

export type WorkerRequest = { id: number } & (
  | { op: "init"; options: KuzuEngineOptions }
  | { op: "write"; statements: { cypher: string; params?: GraphParams }[]; slowMs: number }
  | { op: "read"; cypher: string; params?: GraphParams; limits: ReadLimits }
  | { op: "stats" }
  | { op: "close" }
);

export type WorkerReply =
  | { id: number; ok: true; result?: ReadResult; slow?: SlowStatement[]; stats?: EngineStats }
  | { id: number; ok: false; code: GraphQueryErrorCode; message: string };

/**
 * Kuzu values as plain JSON (GraphValue), shaped like the Neo4j store's: nodes are their
 * properties plus _label, relationships plus _type, paths {nodes, rels}; integers beyond 2^53
 * become strings rather than silently rounded numbers; dates become ISO strings.
 */
import type { GraphValue } from "./graph-store.js";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function properties(o: Record<string, unknown>, skip: ReadonlySet<string>): Record<string, GraphValue> {
  const out: Record<string, GraphValue> = {};
  // Kuzu gives every column of the table (null when unset); Neo4j gives only the set ones.
  for (const [k, v] of Object.entries(o)) if (!skip.has(k) && v !== null && v !== undefined) out[k] = toGraphValue(v);
  return out;
}

const NODE_INTERNAL: ReadonlySet<string> = new Set(["_id", "_label"]);
const REL_INTERNAL: ReadonlySet<string> = new Set(["_id", "_label", "_src", "_dst"]);

export function toGraphValue(v: unknown): GraphValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "boolean":
    case "string":
      return v;
    case "number":
      return Number.isFinite(v) ? v : String(v);
    case "bigint":
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    default:
  }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Array.isArray(v)) return v.map(toGraphValue);
  if (!isRecord(v)) return String(v);
  if ("_nodes" in v && "_rels" in v) return { nodes: toGraphValue(v._nodes), rels: toGraphValue(v._rels) };
  if ("_src" in v && "_dst" in v && "_label" in v) return { _type: toGraphValue(v._label), ...properties(v, REL_INTERNAL) };
  if ("_id" in v && "_label" in v) return { _label: toGraphValue(v._label), ...properties(v, NODE_INTERNAL) };
  const keys = Object.keys(v);
  if (keys.length === 2 && typeof v.offset === "number" && typeof v.table === "number") return `${v.table}:${v.offset}`; // internal id
  const out: Record<string, GraphValue> = {};
  for (const [k, x] of Object.entries(v)) out[k] = toGraphValue(x);
  return out;
}

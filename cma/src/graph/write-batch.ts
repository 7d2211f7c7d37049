/**
 * Batched, idempotent write statements in the Cypher both stores run. Nodes and relationships
 * are merged in separate statements: Kuzu 0.11 can bind a node MERGEd inside an UNWIND to the
 * wrong node when the same statement matches it again (FACTS.md). Rows are coerced to the
 * schema's property types and grouped by shape (which fields are null, integer or fraction), so
 * every UNWIND gets rows Kuzu can type; a field that is null in a group is written as NULL.
 *
 * Keys are projected first (`WITH r, r.key AS kv MATCH (n {key: kv})`): Kuzu 0.11 looks a key
 * up in the primary-key index only when it is a plain variable; written as `{key: r.key}` it
 * scans the table for every row (measured, 10,000 rows on a 100,000-node table: 3 s instead of
 * 0.1 s; two such MATCHes in one statement ran out of a 1 GiB buffer pool).
 */
import type { GraphParams } from "./graph-store.js";
import { nodeTables, relTables } from "./schema.js";
import type { NodeLabel, NodeTable, PropertyType, RelTable, RelType } from "./schema.js";

export interface Statement {
  cypher: string;
  params?: GraphParams;
  /**
   * A row field that names something only one row may claim (a guest runs on one host): when
   * batches are joined, only the last row per value is kept, so the newest report wins.
   */
  unique?: string;
  /**
   * Row fields that identify what a row writes (a node's key; a relationship's from and to):
   * only the last row per identity is kept. Kuzu 0.11 has bound a key-projected MERGE to the
   * wrong node when a key appeared twice in one UNWIND, so no statement carries duplicates.
   */
  dedupe?: readonly string[];
}

export type Scalar = string | number | boolean | null;
export type Row = Record<string, Scalar | undefined>;

function coerce(v: Scalar | undefined, t: PropertyType): Scalar {
  if (v === null || v === undefined) return null;
  switch (t) {
    case "STRING":
      return String(v);
    case "BOOLEAN":
      return typeof v === "boolean" ? v : v === "true" ? true : v === "false" ? false : Boolean(v);
    case "INT64": {
      const n = typeof v === "number" ? v : Number(v);
      return Number.isFinite(n) ? Math.trunc(n) : null;
    }
    case "DOUBLE": {
      const n = typeof v === "number" ? v : Number(v);
      return Number.isFinite(n) ? n : null;
    }
  }
}

const shape = (v: Scalar): string => (v === null ? "n" : typeof v === "number" ? (Number.isSafeInteger(v) ? "i" : "f") : "v");

/** Rows coerced to the property types, grouped by shape; each group lists its null fields. */
function groups(rows: readonly Row[], fields: readonly string[], types: Record<string, PropertyType>, keyFields: readonly string[]): { rows: Record<string, Scalar>[]; nulls: string[] }[] {
  const out = new Map<string, { rows: Record<string, Scalar>[]; nulls: string[] }>();
  for (const r of rows) {
    const c: Record<string, Scalar> = {};
    for (const f of fields) c[f] = coerce(r[f], types[f]);
    if (keyFields.some((k) => c[k] === null || c[k] === "")) continue; // nothing to merge on
    const sig = fields.map((f) => shape(c[f])).join("");
    let g = out.get(sig);
    if (!g) out.set(sig, (g = { rows: [], nulls: fields.filter((f) => c[f] === null) }));
    for (const f of g.nulls) delete c[f];
    g.rows.push(c);
  }
  return [...out.values()];
}

function sets(variable: string, fields: readonly string[], nulls: readonly string[]): string {
  if (fields.length === 0) return "";
  return ` SET ${fields.map((f) => `${variable}.${f} = ${nulls.includes(f) ? "NULL" : `r.${f}`}`).join(", ")}`;
}

function fieldsOf(rows: readonly Row[], exclude: readonly string[], known: Record<string, PropertyType>, what: string): string[] {
  const fields = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (!exclude.includes(k)) fields.add(k);
  for (const f of fields) if (!(f in known)) throw new Error(`${what} has no property ${f} (schema.ts)`);
  return [...fields].sort();
}

/**
 * MERGE (n:Label {key}) for every row, then SET the other fields given. Fields in `onCreate`
 * are set only when the node is created (first-seen times).
 */
export function mergeNodes(label: NodeLabel, rows: readonly Row[], onCreate: readonly string[] = []): Statement[] {
  if (rows.length === 0) return [];
  const t: NodeTable = nodeTables[label];
  const fields = fieldsOf(rows, [], t.properties, label);
  if (!fields.includes(t.key)) throw new Error(`${label} rows need their key ${t.key}`);
  const props = fields.filter((f) => f !== t.key);
  return groups(rows, fields, t.properties, [t.key]).map((g) => {
    const always = props.filter((p) => !onCreate.includes(p));
    const created = props.filter((p) => onCreate.includes(p));
    const onCreateSet = created.length ? ` ON CREATE${sets("n", created, g.nulls)}` : "";
    return { cypher: `UNWIND $rows AS r WITH r, r.${t.key} AS kv MERGE (n:${label} {${t.key}: kv})${onCreateSet}${sets("n", always, g.nulls)}`, params: { rows: lastPer(g.rows, [t.key]) }, dedupe: [t.key] };
  });
}

/**
 * MATCH both ends by key (rows: from, to, properties), MERGE the relationship between them and
 * SET its properties. A row whose ends do not exist writes nothing.
 */
export function mergeRels(type: RelType, from: NodeLabel, to: NodeLabel, rows: readonly Row[], unique?: "from" | "to"): Statement[] {
  if (rows.length === 0) return [];
  const rt: RelTable = relTables[type];
  if (!rt.pairs.some(([f, x]) => f === from && x === to)) throw new Error(`${type} does not join ${from} to ${to} (schema.ts)`);
  const f: NodeTable = nodeTables[from], t: NodeTable = nodeTables[to];
  const fk = f.key, tk = t.key;
  const types: Record<string, PropertyType> = { ...rt.properties, from: f.properties[fk], to: t.properties[tk] };
  const fields = fieldsOf(rows, [], types, type);
  const props = fields.filter((f) => f !== "from" && f !== "to");
  return groups(rows, fields, types, ["from", "to"]).map((g) => ({
    cypher: `UNWIND $rows AS r WITH r, r.from AS kv MATCH (a:${from} {${fk}: kv}) WITH r, a, r.to AS kv2 MATCH (b:${to} {${tk}: kv2}) MERGE (a)-[e:${type}]->(b)${sets("e", props, g.nulls)}`,
    params: { rows: lastPer(g.rows, ["from", "to"]) },
    dedupe: ["from", "to"],
    ...(unique ? { unique } : {}),
  }));
}

/** The rows with only the last one per identity (the values of `fields`), in their order. */
export function lastPer<T>(rows: readonly T[], fields: readonly string[]): T[] {
  const id = (r: T): string => JSON.stringify(fields.map((f) => (r as Record<string, unknown>)[f]));
  const last = new Map<string, number>();
  rows.forEach((r, i) => last.set(id(r), i));
  return last.size === rows.length ? [...rows] : rows.filter((r, i) => last.get(id(r)) === i);
}

/** Split rows into batches of at most `size` (one UNWIND each keeps a transaction's memory bounded). */
export function chunk<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

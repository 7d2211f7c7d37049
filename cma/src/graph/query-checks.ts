/**
 * Checks both stores apply before a statement reaches the engine, so they accept and refuse the
 * same things with the same messages. The read-only guarantee itself comes from the stores
 * (Kuzu: a READ ONLY transaction; Neo4j: a READ session); the guard here refuses what a read-only
 * engine would still do: touch files (Kuzu EXPORT, COPY TO, LOAD FROM, read_csv; Neo4j LOAD
 * CSV), change settings (Kuzu `CALL timeout=...`), attach databases or control transactions.
 *
 * Parameters are checked because Kuzu types a list parameter from its first element: [1, 2.5]
 * stores 2.5 as garbage, a field null in every row is typed STRING, and an empty list or a null
 * used with IN crashes the engine (measured with kuzu 0.11.3).
 */
import { GraphQueryError } from "./graph-store.js";
import type { GraphParams, ReadLimits } from "./graph-store.js";

/** Limits of a read when the caller gives none. */
export const DEFAULT_READ_LIMITS: ReadLimits = { timeoutMs: 10_000, maxRows: 10_000 };

export const QUERY_LIMITS = { queryChars: 64 * 1024, readParamsBytes: 1024 * 1024, writeParamsBytes: 64 * 1024 * 1024 };

/** The text with string literals, backtick names and comments blanked out (same length, same positions). */
export function codeOnly(cypher: string): string {
  let out = "";
  let i = 0;
  while (i < cypher.length) {
    const c = cypher[i];
    if (c === "'" || c === '"' || c === "`") {
      let j = i + 1;
      while (j < cypher.length && cypher[j] !== c) j += cypher[j] === "\\" && c !== "`" ? 2 : 1;
      out += " ".repeat(Math.min(j + 1, cypher.length) - i);
      i = j + 1;
    } else if (c === "/" && cypher[i + 1] === "/") {
      const j = cypher.indexOf("\n", i);
      const end = j < 0 ? cypher.length : j;
      out += " ".repeat(end - i);
      i = end;
    } else if (c === "/" && cypher[i + 1] === "*") {
      const j = cypher.indexOf("*/", i + 2);
      const end = j < 0 ? cypher.length : j + 2;
      out += " ".repeat(end - i);
      i = end;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

// A keyword, not a property (n.load), parameter ($use), label (:Copy), map key ({load: 1}) or alias (AS load).
const word = (w: string): RegExp => new RegExp(`(?<![.$:\\w])(?<!\\bAS\\s+)\\b${w}\\b(?!\\s*:)`, "i");
const OUTSIDE_GRAPH: readonly [RegExp, string][] = [
  [word("(?:EXPORT|IMPORT)\\s+DATABASE"), "EXPORT/IMPORT DATABASE writes files"],
  [word("COPY"), "COPY reads or writes files"],
  [word("LOAD"), "LOAD reads files or extensions"],
  [word("INSTALL"), "INSTALL adds extensions"],
  [word("(?:ATTACH|DETACH)(?!\\s+DELETE)"), "ATTACH/DETACH changes the databases in use"],
  [word("USE"), "USE switches databases"],
  [word("CHECKPOINT"), "CHECKPOINT writes the database"],
  [word("(?:BEGIN|COMMIT|ROLLBACK)"), "transactions are managed by the store"],
  [word("(?:read_csv\\w*|read_parquet|read_npy|read_json\\w*|json_scan)"), "file readers are not part of the graph"],
  [/\bCALL\s+\w+\s*=/i, "CALL name=value changes settings"],
];

export function checkReadQuery(cypher: unknown): GraphQueryError | undefined {
  if (typeof cypher !== "string" || !cypher.trim()) return new GraphQueryError("syntax", "the query is empty");
  if (cypher.length > QUERY_LIMITS.queryChars) return new GraphQueryError("too-large", `the query is ${cypher.length} characters; at most ${QUERY_LIMITS.queryChars}`);
  const code = codeOnly(cypher);
  if (/;\s*\S/.test(code)) return new GraphQueryError("syntax", "one statement per query (found a ';' followed by more text)");
  for (const [re, why] of OUTSIDE_GRAPH) {
    const m = re.exec(code);
    if (m) return new GraphQueryError("write-refused", `read-only queries only: ${why} ("${cypher.slice(m.index, m.index + m[0].length)}")`);
  }
  return undefined;
}

type Kind = "null" | "int" | "float" | "string" | "boolean" | "list" | "object" | "other";

function kindOf(v: unknown): Kind {
  if (v === null) return "null";
  if (typeof v === "number") return !Number.isFinite(v) ? "other" : Number.isSafeInteger(v) ? "int" : "float";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "boolean";
  if (Array.isArray(v)) return "list";
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) return "object";
  return "other";
}

const SCALAR: ReadonlySet<Kind> = new Set(["int", "float", "string", "boolean"]);

function checkScalarList(name: string, l: unknown[]): string | undefined {
  if (l.length === 0) return `$${name} is an empty list (the Kuzu store cannot type it): leave the condition out instead`;
  const k = kindOf(l[0]);
  if (!SCALAR.has(k)) return `$${name} must hold strings, numbers or booleans`;
  if (l.some((x) => kindOf(x) !== k)) return `$${name} mixes value kinds (${k} and others; integers and fractions count as different)`;
  return undefined;
}

function checkRows(name: string, rows: unknown[]): string | undefined {
  const first = rows[0] as Record<string, unknown>;
  const keys = Object.keys(first).sort();
  if (keys.length === 0) return `$${name}: rows must have fields`;
  const kinds = keys.map((k) => kindOf(first[k]));
  for (let i = 0; i < keys.length; i++) {
    if (!SCALAR.has(kinds[i]) && kinds[i] !== "null") return `$${name}: field ${keys[i]} must be a scalar`;
  }
  for (const r of rows) {
    if (kindOf(r) !== "object") return `$${name}: every row must be an object`;
    const rk = Object.keys(r as object).sort();
    if (rk.length !== keys.length || rk.some((k, i) => k !== keys[i])) return `$${name}: every row must have the same fields (${keys.join(", ")})`;
    for (let i = 0; i < keys.length; i++) {
      const k = kindOf((r as Record<string, unknown>)[keys[i]]);
      if (k !== kinds[i]) return `$${name}: field ${keys[i]} is ${kinds[i]} in the first row and ${k} in another (split the rows by kind)`;
    }
  }
  const allNull = keys.filter((_, i) => kinds[i] === "null");
  if (allNull.length) return `$${name}: field ${allNull.join(", ")} is null in every row (write NULL in the statement instead)`;
  return undefined;
}

/**
 * Read parameters: strings, finite numbers, booleans, or non-empty lists of one of those kinds.
 * Write parameters may also be lists of rows (flat objects, same fields and kinds in every row).
 */
export function checkParams(params: GraphParams | undefined, mode: "read" | "write"): GraphQueryError | undefined {
  if (params === undefined) return undefined;
  if (kindOf(params) !== "object") return new GraphQueryError("syntax", "parameters must be an object");
  let bytes: number;
  try {
    bytes = JSON.stringify(params).length;
  } catch {
    return new GraphQueryError("syntax", "parameters must be plain JSON values");
  }
  const max = mode === "read" ? QUERY_LIMITS.readParamsBytes : QUERY_LIMITS.writeParamsBytes;
  if (bytes > max) return new GraphQueryError("too-large", `parameters are ${bytes} bytes; at most ${max}`);
  for (const [name, v] of Object.entries(params)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return new GraphQueryError("syntax", `bad parameter name ${JSON.stringify(name).slice(0, 40)}`);
    const k = kindOf(v);
    let err: string | undefined;
    if (k === "null") err = `$${name} is null: leave it out or give a value`;
    else if (k === "list") {
      const l = v as unknown[];
      err = mode === "write" && l.length > 0 && kindOf(l[0]) === "object" ? checkRows(name, l) : checkScalarList(name, l);
    } else if (!SCALAR.has(k)) err = `$${name} must be a string, a finite number, a boolean or a list`;
    if (err) return new GraphQueryError("syntax", err);
  }
  return undefined;
}

/** A write statement that UNWINDs an empty list does nothing: both stores skip it (Kuzu cannot type the empty list). */
export function isEmptyUnwind(cypher: string, params: GraphParams | undefined): boolean {
  const m = /^\s*UNWIND\s+\$([A-Za-z_][A-Za-z0-9_]*)\s/i.exec(cypher);
  if (!m || !params) return false;
  const v = params[m[1]];
  return Array.isArray(v) && v.length === 0;
}

/** Names of the parameters a statement uses ($name outside strings and comments): Kuzu refuses unused ones. */
export function usedParams(cypher: string, params: GraphParams | undefined): GraphParams {
  if (!params) return {};
  const code = codeOnly(cypher);
  const used = new Set([...code.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
  return Object.fromEntries(Object.entries(params).filter(([k]) => used.has(k)));
}

/** The caller's limits, completed with the defaults and checked. */
export function resolveLimits(limits?: Partial<ReadLimits>): ReadLimits {
  const t = limits?.timeoutMs ?? DEFAULT_READ_LIMITS.timeoutMs;
  const n = limits?.maxRows ?? DEFAULT_READ_LIMITS.maxRows;
  if (!Number.isFinite(t) || t <= 0) throw new GraphQueryError("syntax", `timeoutMs must be a positive number of milliseconds, not ${String(t)}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new GraphQueryError("syntax", `maxRows must be a whole number ≥ 0, not ${String(n)}`);
  return { timeoutMs: t, maxRows: n };
}

/**
 * `ringwatch-cma query`: the graph queries from a shell, through the running CMA's HTTP API (so it
 * needs no access to the store and gets the same checks and limits as any other caller), with an
 * API token from --token-file or RINGWATCH_TOKEN.
 *
 *   query --list                        the named queries and their parameters
 *   query NAME [--param k=v ...]        run a named query (the CMA checks the parameters' types)
 *   query --cypher "MATCH ..." [--param k=v ...] [--timeout MS] [--max-rows N]   ad-hoc, read-only
 */
import { UsageError, loadProcessConfig } from "@ringwatch/shared";
import type { CommandArgs, CommandSpec } from "@ringwatch/shared";
import { cmaSchema } from "./config.js";
import { ApiFailure, apiBase, apiCall, apiToken } from "./api-client.js";
import type { ApiAnswer } from "./api-client.js";
import { textTable } from "./http/text-table.js";

export interface QueryOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const PROGRAM = "ringwatch-cma query";
/** Beyond the CMA's own query time limit, how long to wait for its answer (network, serialization). */
const ANSWER_MARGIN_MS = 5000;

function params(values: CommandArgs["values"]): [string, string][] {
  const raw = values.param;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.map((p) => {
    const s = String(p);
    const eq = s.indexOf("=");
    if (eq <= 0) throw new UsageError(`--param expects name=value, got ${JSON.stringify(s)}`);
    return [s.slice(0, eq), s.slice(eq + 1)];
  });
}

function positiveInt(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} expects a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** An ad-hoc query's parameter: JSON when it parses (5, true, "x", [1,2]), else the text itself. */
function adHocValue(v: string): unknown {
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

interface ResultBody {
  columns: string[];
  rows: Record<string, unknown>[];
  truncated: boolean;
  elapsedMs: number;
  limits?: { maxRows: number };
}

function isResult(b: unknown): b is ResultBody {
  const r = b as Partial<ResultBody>;
  return !!r && Array.isArray(r.columns) && Array.isArray(r.rows);
}

function renderResult(r: ResultBody): string {
  const table = textTable(r.columns, r.rows.map((row) => r.columns.map((c) => row[c])));
  const cut = r.truncated ? `, cut at ${r.limits?.maxRows ?? r.rows.length}: more rows matched` : "";
  return `${table}\n(${r.rows.length} row${r.rows.length === 1 ? "" : "s"}${cut}, ${Math.round(r.elapsedMs)} ms)\n`;
}

interface QueryListing {
  queries: { name: string; description: string; params: Record<string, { type: string; doc: string; default?: unknown }> }[];
}

function renderList(l: QueryListing): string {
  const rows = l.queries.map((q) => [
    q.name,
    Object.entries(q.params).map(([k, p]) => `${k}:${p.type}${p.default !== undefined ? `=${String(p.default)}` : ""}`).join(" "),
    q.description,
  ]);
  return `${textTable(["query", "parameters", "description"], rows)}\n`;
}

export async function runQueryCommand(args: CommandArgs, out: QueryOutput): Promise<number> {
  const v = args.values;
  const cfg = loadProcessConfig(cmaSchema, args);
  const base = apiBase(v, cfg.httpListen);
  const token = apiToken(v);
  const cypher = typeof v.cypher === "string" ? v.cypher : undefined;
  const name = args.positionals[0];
  const modes = [v.list === true, cypher !== undefined, name !== undefined].filter(Boolean).length;
  if (modes !== 1) throw new UsageError("query: give exactly one of NAME, --cypher QUERY or --list (try --help)");
  if (args.positionals.length > 1) throw new UsageError(`query: one query name only, got ${args.positionals.join(" ")}`);
  const ps = params(v);
  const timeoutMs = positiveInt(v.timeout, "--timeout");
  const maxRows = positiveInt(v["max-rows"], "--max-rows");
  if (cypher === undefined && (timeoutMs !== undefined || maxRows !== undefined)) throw new UsageError("--timeout and --max-rows go with --cypher (named queries run under the CMA's limits)");
  if (v.list === true && ps.length > 0) throw new UsageError("--list takes no --param");
  const waitMs = Math.max(cfg.httpQueryTimeoutMs, timeoutMs ?? 0) + ANSWER_MARGIN_MS;

  try {
    let answer: ApiAnswer;
    if (v.list === true) {
      answer = await apiCall(`${base}/api/queries`, {}, waitMs, token);
    } else if (cypher !== undefined) {
      const body = { query: cypher, params: Object.fromEntries(ps.map(([k, x]) => [k, adHocValue(x)])), ...(timeoutMs ? { timeoutMs } : {}), ...(maxRows ? { maxRows } : {}) };
      answer = await apiCall(`${base}/api/cypher`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }, waitMs, token);
    } else {
      const qs = new URLSearchParams(ps).toString();
      answer = await apiCall(`${base}/api/queries/${encodeURIComponent(name!)}${qs ? `?${qs}` : ""}`, {}, waitMs, token);
    }
    if (v.json === true) out.stdout(`${JSON.stringify(answer.body, null, 2)}\n`);
    else if (v.list === true) out.stdout(renderList(answer.body as QueryListing));
    else if (isResult(answer.body)) out.stdout(renderResult(answer.body));
    else throw new ApiFailure(`unexpected answer: ${JSON.stringify(answer.body).slice(0, 200)}`);
    return 0;
  } catch (e) {
    if (!(e instanceof ApiFailure)) throw e;
    out.stderr(`${PROGRAM}: ${e.message}\n`);
    return 1;
  }
}

export const queryCommand: CommandSpec = {
  summary: "run a graph query (named or ad-hoc Cypher, read-only) through the running CMA's HTTP API",
  usage: [
    "query --list                                   the named queries and their parameters",
    "query NAME [--param k=v ...]                   run a named query",
    'query --cypher "MATCH ..." [--param k=v ...]   ad-hoc Cypher, read-only (values parsed as JSON when they are JSON)',
    "  --url URL        the CMA's HTTP API (default: httpListen from the configuration)",
    "  --token-file F   an API token (viewer or above) in a file; default: the environment's RINGWATCH_TOKEN",
    "  --json           the answer as JSON instead of a table",
    "  --timeout MS, --max-rows N   lower limits for --cypher (the CMA caps them at its own)",
    "exit code: 0 answered, 1 the CMA refused or could not be reached, 2 bad arguments",
  ].join("\n"),
  options: {
    param: { type: "string", short: "p", multiple: true },
    cypher: { type: "string" },
    list: { type: "boolean" },
    url: { type: "string" },
    "token-file": { type: "string" },
    json: { type: "boolean" },
    timeout: { type: "string" },
    "max-rows": { type: "string" },
  },
  run: (args) => runQueryCommand(args, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }),
};

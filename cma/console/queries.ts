// The graph queries (any signed-in role: every one is read-only): the named root-cause queries as
// a select with a form made from each one's declared parameters, and a Cypher box. Both answer in
// one result table with its row count and whether the server's row limit cut it; a refusal (a
// write clause, a bad parameter, no graph store) is shown as the API words it. The page is not
// redrawn by the console's refresh: what is typed and the last result stay. The last result is on
// window.__ringwatchQuery so a browser test reads data.
import { api, postJson } from "./api.js";
import { el } from "./dom.js";

interface Param { type: "string" | "int"; doc: string; default?: string | number }
interface NamedQuery { name: string; description: string; params: Record<string, Param>; cypher: string }
type Value = unknown;
interface Answer { name?: string; columns: string[]; rows: Record<string, Value>[]; truncated: boolean; elapsedMs: number; limits: { maxRows: number; timeoutMs: number } }

export interface ShownResult { source: string; columns: string[]; rows: Record<string, Value>[]; truncated: boolean }
declare global { interface Window { __ringwatchQuery?: ShownResult | { source: string; error: string } } }

// a graph node (an object with _label) by its name or key; a path (a list of nodes) as "a › b › c"
const nodeName = (v: Value): string | undefined => {
  if (typeof v !== "object" || v === null || !("_label" in v)) return undefined;
  const n = v as Record<string, unknown>;
  return String(n.name ?? n.key ?? n.address ?? n.id ?? n.uuid ?? n._label);
};
const cellText = (v: Value): string => {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  if (Array.isArray(v) && v.length > 0 && v.every((x) => nodeName(x) !== undefined)) return v.map((x) => nodeName(x)).join(" › ");
  return nodeName(v) ?? JSON.stringify(v);
};

/** the typed parameters of a named query from its form: empty fields are left to their defaults */
export function formParams(q: NamedQuery, values: Record<string, string>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [name, p] of Object.entries(q.params)) {
    const text = values[name] ?? "";
    if (text === "") continue;
    if (p.type === "int") {
      if (!/^-?\d+$/.test(text.trim())) throw new Error(`${name} must be an integer, not ${JSON.stringify(text)}`);
      out[name] = Number(text.trim());
    } else out[name] = text;
  }
  return out;
}

export async function renderQueries(main: HTMLElement): Promise<void> {
  const info = el("p", { id: "query-info", className: "hint" });
  const error = el("p", { id: "query-error", className: "form-error" });
  const result = el("table", { id: "query-result" });
  const show = (source: string, a: Answer): void => {
    result.replaceChildren();
    result.createTHead().append(el("tr", {}, ...a.columns.map((c) => el("th", { textContent: c }))));
    const body = result.createTBody();
    for (const row of a.rows) body.append(el("tr", {}, ...a.columns.map((c) => el("td", { textContent: cellText(row[c]) }))));
    info.textContent = `${source}: ${a.rows.length} row${a.rows.length === 1 ? "" : "s"}${a.truncated ? ` (cut at the limit of ${a.limits.maxRows} rows: there are more)` : ""} in ${Math.round(a.elapsedMs)} ms`;
    window.__ringwatchQuery = { source, columns: a.columns, rows: a.rows, truncated: a.truncated };
  };
  const run = async (source: string, ask: () => Promise<Answer>): Promise<void> => {
    error.textContent = "";
    info.textContent = `${source}: running…`;
    try {
      show(source, await ask());
    } catch (e) {
      result.replaceChildren();
      info.textContent = "";
      error.textContent = `${source}: ${(e as Error).message}`;
      window.__ringwatchQuery = { source, error: (e as Error).message };
    }
  };

  const cypher = el("textarea", { id: "cypher-text", rows: 6, cols: 90, spellcheck: false, placeholder: "MATCH (h:Host) RETURN h.name AS host, h.state AS state ORDER BY host" });
  const cypherForm = el("form", { id: "cypher-form" },
    el("h3", { textContent: "Cypher (read-only)" }), cypher,
    el("div", { className: "row" }, el("button", { type: "submit", id: "cypher-run", textContent: "Run Cypher" }),
      el("span", { className: "hint", textContent: "reads only: the store refuses CREATE, MERGE, SET, DELETE…" })));
  cypherForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void run("Cypher", () => postJson<Answer>("/api/cypher", { query: cypher.value }));
  });

  let queries: NamedQuery[];
  try {
    queries = (await api<{ queries: NamedQuery[] }>("/api/queries")).queries;
  } catch (e) {
    // without a graph store nothing here can run: say so, keep the page
    main.replaceChildren(el("h2", { textContent: "Graph queries" }), el("p", { id: "queries-unavailable", className: "form-error", textContent: `graph queries unavailable: ${(e as Error).message}` }));
    return;
  }

  const select = el("select", { id: "named-query" }, ...queries.map((q) => el("option", { value: q.name, textContent: q.name })));
  const doc = el("p", { id: "named-doc", className: "hint" });
  const fields = el("div", { id: "named-params", className: "row" });
  const text = el("pre", { id: "named-cypher", className: "query-text" });
  const toBox = el("button", { type: "button", id: "named-to-cypher", textContent: "copy to the Cypher box" });
  const pick = (): void => {
    const q = queries.find((x) => x.name === select.value);
    doc.textContent = q?.description ?? "";
    text.textContent = q?.cypher ?? "";
    fields.replaceChildren(...Object.entries(q?.params ?? {}).map(([name, p]) => {
      const input = el("input", { name, id: `param-${name}`, type: p.type === "int" ? "number" : "text", placeholder: `${p.type}${p.default !== undefined ? `, default ${JSON.stringify(p.default)}` : ", required"}`, title: p.doc, size: 24 });
      if (p.type === "int") input.step = "1";
      return el("label", { title: p.doc }, `${name} `, input, el("span", { className: "hint", textContent: ` ${p.doc}` }));
    }));
    if (q && !Object.keys(q.params).length) fields.append(el("span", { className: "hint", textContent: "no parameters" }));
  };
  select.addEventListener("change", pick);
  toBox.addEventListener("click", () => { cypher.value = text.textContent ?? ""; });
  const namedForm = el("form", { id: "named-form" },
    el("h3", { textContent: "Named queries" }),
    el("div", { className: "row" }, el("label", {}, "query ", select), el("button", { type: "submit", id: "named-run", textContent: "Run" })),
    doc, fields, el("details", {}, el("summary", { textContent: "its Cypher" }), text, toBox));
  namedForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = queries.find((x) => x.name === select.value);
    if (!q) return;
    const values = Object.fromEntries([...fields.querySelectorAll("input")].map((i) => [i.name, i.value]));
    void run(q.name, () => postJson<Answer>(`/api/queries/${encodeURIComponent(q.name)}`, { params: formParams(q, values) }));
  });
  pick();

  main.replaceChildren(el("h2", { textContent: "Graph queries" }), namedForm, cypherForm,
    el("h3", { textContent: "Result" }), info, error, result);
}

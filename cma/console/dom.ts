// Building the page from data: every value is set as text, never parsed as HTML (host names,
// guest names and query results come from the network).
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

export const when = (ms: number | null | undefined): string => (ms ? new Date(ms).toLocaleString() : "");

/** A table with a header row and one row per entry (each cell a text or a node). */
export function table(headers: string[], rows: (string | Node)[][], id?: string): HTMLTableElement {
  const t = el("table", id ? { id } : {});
  t.createTHead().append(el("tr", {}, ...headers.map((h) => el("th", { textContent: h }))));
  const body = t.createTBody();
  for (const r of rows) body.append(el("tr", {}, ...r.map((c) => el("td", {}, c))));
  return t;
}

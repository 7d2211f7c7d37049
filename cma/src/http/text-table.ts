/** Rows as a plain-text table for a terminal: one line per row, columns padded, long cells cut. */

const MAX_CELL = 80;

/** A graph node as the name or key it is known by (the stores give nodes as objects with `_label`). */
export function nodeName(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null || !("_label" in v)) return undefined;
  const n = v as Record<string, unknown>;
  return String(n.name ?? n.key ?? n.address ?? n.id ?? n.uuid ?? n._label);
}

/** A value as one line of text: strings as they are, a node by its name and a path (list of nodes) as "a › b › c", everything else as JSON; control characters become spaces. */
export function cellText(v: unknown): string {
  const path = Array.isArray(v) && v.length > 0 && v.every((x) => nodeName(x) !== undefined) ? v.map((x) => nodeName(x)).join(" › ") : undefined;
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : path ?? nodeName(v) ?? JSON.stringify(v);
  // eslint-disable-next-line no-control-regex
  const line = s.replace(/[\u0000-\u001f\u007f]+/g, " ");
  return line.length > MAX_CELL ? `${line.slice(0, MAX_CELL - 1)}…` : line;
}

export function textTable(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((r) => columns.map((_, i) => cellText(r[i])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i])).join(" | ").trimEnd();
  return [line(columns), widths.map((w) => "-".repeat(w)).join("-+-"), ...cells.map(line)].join("\n");
}

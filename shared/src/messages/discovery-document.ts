// A discovery document: what every discovery script prints, what the nanoprobe forwards and what
// the CMA stores. Checked the same way on both sides: exactly one JSON object with these fields.

/** `D` narrows `data` where it is known, as in the scripts that build one (discovery-scripts). */
export interface DiscoveryDocument<D extends object = { [key: string]: unknown }> {
  discovertype: string;
  description: string;
  host: string;
  source: string;
  data: D;
}

export type ParseResult =
  | { ok: true; document: DiscoveryDocument }
  | { ok: false; kind: "invalid-json" | "invalid-document"; detail: string };

const STRING_FIELDS = ["discovertype", "description", "host", "source"] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function parseDocument(stdout: string): ParseResult {
  const text = stdout.trim();
  if (!text) return { ok: false, kind: "invalid-json", detail: "no output" };
  let value: unknown;
  try {
    // JSON.parse rejects trailing text, so two documents in one output are invalid JSON too.
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, kind: "invalid-json", detail: e instanceof Error ? e.message : String(e) };
  }
  if (!isPlainObject(value)) return { ok: false, kind: "invalid-document", detail: `expected an object, got ${Array.isArray(value) ? "an array" : typeof value}` };
  for (const f of STRING_FIELDS) {
    if (typeof value[f] !== "string") return { ok: false, kind: "invalid-document", detail: `"${f}" must be a string` };
  }
  if (!isPlainObject(value.data)) return { ok: false, kind: "invalid-document", detail: `"data" must be an object` };
  return { ok: true, document: value as unknown as DiscoveryDocument };
}

/**
 * The control socket's language, shared by the CMA (control-server.ts) and the CLI (host-command.ts):
 * one JSON request per connection, one JSON line back. Requests are checked field by field; nothing
 * unknown is accepted. The socket path: controlSocket, or <dataDir>/control.sock.
 */
import { join } from "node:path";

export type ControlRequest =
  | { op: "maintenance"; host: string; until: number; reason: string }
  | { op: "end-maintenance"; host: string }
  | { op: "remove"; host: string; purge: boolean };

export type ControlReply = { ok: true; result: Record<string, unknown> } | { ok: false; error: string; message: string };

/** Bytes of one request: a host name, a time and a reason fit many times over. */
export const MAX_REQUEST_BYTES = 4096;

const FIELDS: Record<ControlRequest["op"], { required: string[]; optional: string[] }> = {
  maintenance: { required: ["host", "until", "reason"], optional: [] },
  "end-maintenance": { required: ["host"], optional: [] },
  remove: { required: ["host"], optional: ["purge"] },
};

/** The request in a line of text, or a message saying what is wrong with it (types only: HostControl judges the values). */
export function parseControlRequest(text: string): ControlRequest | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return "not a JSON object";
  const d = doc as Record<string, unknown>;
  const op = d.op;
  if (typeof op !== "string" || !Object.hasOwn(FIELDS, op)) return `unknown op ${JSON.stringify(op)} (maintenance, end-maintenance, remove)`;
  const f = FIELDS[op as ControlRequest["op"]];
  const extra = Object.keys(d).filter((k) => k !== "op" && !f.required.includes(k) && !f.optional.includes(k));
  if (extra.length) return `unknown field(s) for ${op}: ${extra.join(", ")}`;
  const missing = f.required.filter((k) => d[k] === undefined);
  if (missing.length) return `${op} needs ${missing.join(", ")}`;
  if (typeof d.host !== "string") return "host must be a string";
  if (op === "maintenance") {
    if (typeof d.until !== "number") return "until must be a number (ms since the epoch)";
    if (typeof d.reason !== "string") return "reason must be a string";
    return { op, host: d.host, until: d.until, reason: d.reason };
  }
  if (op === "remove") {
    if (d.purge !== undefined && typeof d.purge !== "boolean") return "purge must be true or false";
    return { op, host: d.host, purge: d.purge === true };
  }
  return { op: "end-maintenance", host: d.host };
}

export function controlSocketPath(cfg: { controlSocket: string; dataDir: string }): string | undefined {
  if (cfg.controlSocket === "off") return undefined;
  if (cfg.controlSocket) return cfg.controlSocket;
  return cfg.dataDir ? join(cfg.dataDir, "control.sock") : undefined;
}

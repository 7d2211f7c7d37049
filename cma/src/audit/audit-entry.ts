/**
 * One audit entry as a line of text: what a caller records is checked and bounded (a record that
 * cannot be read back later is refused now), and what is read back is checked field by field (a
 * damaged line is skipped, never half-trusted). Each line is a whole JSON object with every field
 * named: readable with `jq` alone.
 */

export type AuditOutcome = "ok" | "denied" | "failed" | "invalid";
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ["ok", "denied", "failed", "invalid"];

export interface AuditRecord {
  /** user name, "token:<id>", "local" (control socket), "cli" (offline command) or "system" (the first start's admin) */
  actor: string;
  /** "session" | "token" | "control-socket" | "cli" | "startup" | "anonymous" */
  via: string;
  /** client address, or "local" */
  from: string;
  /** e.g. "signIn", "userAdd", "tokenCreate", "tokenRevoke", "hostMaintenance", "hostRemove" */
  action: string;
  /** what it acted on (user name, token id, host name) */
  target?: string;
  outcome: AuditOutcome;
  /** bounded: a detail over MAX_DETAIL_BYTES as JSON is replaced by a trimmed preview */
  detail?: Record<string, unknown>;
}

export interface AuditEntry extends AuditRecord {
  seq: number;
  /** ISO 8601, UTC */
  time: string;
}

/** Longest actor, via, from, action or target kept (a user name, an IPv6 address, a host name fit easily). */
export const MAX_FIELD_CHARS = 256;
/** Largest detail kept as is (JSON bytes): a maintenance reason, an error message fit; a caller's whole request body does not. */
export const MAX_DETAIL_BYTES = 4096;
/** Characters of an oversized detail kept as its preview. */
const PREVIEW_CHARS = 512;
/** Longest line a valid entry can make (a character escaped as \uXXXX is 6 bytes; the detail is bounded in bytes already). */
export const MAX_LINE_BYTES = 6 * (5 * MAX_FIELD_CHARS + PREVIEW_CHARS) + MAX_DETAIL_BYTES + 256;

/** A record the log refuses to write (a caller's mistake, not the disk's). */
export class AuditRecordError extends Error {
  constructor(message: string) {
    super(`audit record refused: ${message}`);
    this.name = "AuditRecordError";
  }
}

function field(r: Record<string, unknown>, k: string, required: boolean): string | undefined {
  const v = r[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || v === "") throw new AuditRecordError(`${k} must be a non-empty string`);
  // bounded, never refused: an audited action must not fail because a name was long
  return v.length > MAX_FIELD_CHARS ? `${v.slice(0, MAX_FIELD_CHARS - 1)}…` : v;
}

/**
 * The record as it will be written: fields checked, long ones cut, an oversized detail replaced by
 * {trimmed, bytes, preview}. Throws AuditRecordError for a missing field, an unknown outcome, a
 * detail that is not a plain object or not JSON (cycles, BigInt).
 */
export function boundRecord(r: AuditRecord): { record: AuditRecord; trimmed: boolean } {
  if (!r || typeof r !== "object") throw new AuditRecordError("not an object");
  const o = r as unknown as Record<string, unknown>;
  if (!AUDIT_OUTCOMES.includes(r.outcome)) throw new AuditRecordError(`outcome must be one of ${AUDIT_OUTCOMES.join(", ")}, got ${JSON.stringify(r.outcome)}`);
  const record: AuditRecord = { actor: field(o, "actor", true)!, via: field(o, "via", true)!, from: field(o, "from", true)!, action: field(o, "action", true)!, outcome: r.outcome };
  const target = field(o, "target", false);
  if (target !== undefined) record.target = target;
  let trimmed = false;
  if (r.detail !== undefined) {
    if (!r.detail || typeof r.detail !== "object" || Array.isArray(r.detail)) throw new AuditRecordError("detail must be a plain object");
    let json: string;
    try {
      json = JSON.stringify(r.detail);
    } catch (e) {
      throw new AuditRecordError(`detail is not JSON: ${(e as Error).message}`);
    }
    const bytes = Buffer.byteLength(json);
    if (bytes > MAX_DETAIL_BYTES) {
      trimmed = true;
      record.detail = { trimmed: true, bytes, preview: json.slice(0, PREVIEW_CHARS) };
    } else record.detail = JSON.parse(json) as Record<string, unknown>; // a copy: later changes by the caller are not the record
  }
  return { record, trimmed };
}

/** The line for an entry (with its newline). Field order fixed: seq and time first, for people reading the file. */
export function entryLine(e: AuditEntry): string {
  const { seq, time, actor, via, from, action, target, outcome, detail } = e;
  return `${JSON.stringify({ seq, time, actor, via, from, action, ...(target !== undefined ? { target } : {}), outcome, ...(detail !== undefined ? { detail } : {}) })}\n`;
}

const str = (v: unknown): v is string => typeof v === "string" && v !== "";

/** The entry a line holds, or undefined when the line is not a whole, well-formed entry. */
export function parseEntryLine(line: string): AuditEntry | undefined {
  let d: unknown;
  try {
    d = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!d || typeof d !== "object" || Array.isArray(d)) return undefined;
  const e = d as Record<string, unknown>;
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1) return undefined;
  if (!str(e.time) || !Number.isFinite(Date.parse(e.time))) return undefined;
  if (!str(e.actor) || !str(e.via) || !str(e.from) || !str(e.action)) return undefined;
  if (!AUDIT_OUTCOMES.includes(e.outcome as AuditOutcome)) return undefined;
  if (e.target !== undefined && !str(e.target)) return undefined;
  if (e.detail !== undefined && (!e.detail || typeof e.detail !== "object" || Array.isArray(e.detail))) return undefined;
  return d as AuditEntry;
}

/**
 * Reading untrusted documents: every field is checked for kind and size before it becomes a row.
 * A document whose shape is wrong is refused whole (IngestError); a single bad entry inside a
 * good document is skipped and reported through `bad`, so the rest still reaches the graph.
 */
import { isIP } from "node:net";

export class IngestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IngestError";
  }
}

export type BadEntry = (why: string) => void;

export const MAX_TEXT = 1024;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function objectField(o: Record<string, unknown>, name: string): Record<string, unknown> {
  const v = o[name];
  if (!isObject(v)) throw new IngestError(`"${name}" must be an object`);
  return v;
}

export function listField(o: Record<string, unknown>, name: string, max: number): unknown[] {
  const v = o[name];
  if (!Array.isArray(v)) throw new IngestError(`"${name}" must be a list`);
  if (v.length > max) throw new IngestError(`"${name}" has ${v.length} entries; at most ${max}`);
  return v;
}

/** A string of at most `max` characters, or null (absent, null or not a string). */
export function text(v: unknown, max = MAX_TEXT): string | null {
  return typeof v === "string" && v.length <= max ? v : null;
}

/** A whole number in [min, max], or null. */
export function int(v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number | null {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max ? v : null;
}

export function bool(v: unknown): boolean | null {
  return typeof v === "boolean" ? v : null;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function mac(v: unknown): string | null {
  const m = typeof v === "string" ? v.toLowerCase() : "";
  return MAC_RE.test(m) && m !== "00:00:00:00:00:00" ? m : null;
}

/** An IP address in canonical text (lower case), or null. */
export function ip(v: unknown): string | null {
  return typeof v === "string" && v.length <= 64 && isIP(v) ? v.toLowerCase() : null;
}

/** Loopback, link-local and wildcard addresses: the same text on every host, so never global keys. */
export function isHostLocal(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith("127.") || address.startsWith("169.254.") || address === "0.0.0.0";
  const a = address.toLowerCase();
  return a === "::" || a === "::1" || /^fe[89ab][0-9a-f]?:/.test(a) || a.startsWith("::ffff:127.");
}

export function isWildcard(address: string): boolean {
  return address === "0.0.0.0" || address === "::";
}

/** "ip:port", with IPv6 addresses in brackets. */
export function endpoint(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

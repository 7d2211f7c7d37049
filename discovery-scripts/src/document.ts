// The one JSON document every discovery script prints (its type is shared with the nanoprobe and
// the CMA), and the main() wrapper that prints it.
import { hostname } from "node:os";
import type { DiscoveryDocument } from "@ringwatch/shared";

/** JSON-compatible values: what `data` may hold (no BigInt, no undefined in arrays). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };
export type JsonObject = { [key: string]: JsonValue | undefined };

export interface ScriptMeta {
  discovertype: string;
  description: string;
  /** Script name, e.g. "tcp-services". */
  source: string;
}

export function makeDocument<D extends object>(meta: ScriptMeta, data: D): DiscoveryDocument<D> {
  return { discovertype: meta.discovertype, description: meta.description, host: hostname(), source: meta.source, data };
}

/**
 * Runs collect() and prints exactly one document on stdout (exit 0); on failure prints one
 * line on stderr and exits 1, so the runner reports an "exit" error with that line.
 */
export async function runScript<D extends object>(meta: ScriptMeta, collect: () => Promise<D>): Promise<void> {
  try {
    const doc = makeDocument(meta, await collect());
    process.stdout.write(JSON.stringify(doc) + "\n");
    process.exitCode = 0;
  } catch (e) {
    process.stderr.write(`${meta.source}: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}

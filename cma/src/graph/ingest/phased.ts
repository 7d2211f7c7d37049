/**
 * What one ingested item writes, in five phases that run in this order for a whole batch:
 * nodes (MERGE), unlink (drop relationships that now point elsewhere: a migrated domain's old
 * RUNS, an address that left a NIC), link (MERGE relationships), mark (present=false on what
 * a full report no longer lists) and derive (shortcut relationships recomputed from what the
 * batch wrote: derived.ts). Statements with the same text in one phase are joined into one
 * UNWIND, so a batch of many hosts' documents costs a few statements, not a few per host.
 */
import { lastPer } from "../write-batch.js";
import type { Statement } from "../write-batch.js";

export interface Phased {
  nodes: Statement[];
  unlink: Statement[];
  link: Statement[];
  mark: Statement[];
  derive: Statement[];
}

export const PHASES = ["nodes", "unlink", "link", "mark", "derive"] as const;
export type Phase = (typeof PHASES)[number];
/** What an item states, written in one transaction; its derived facts follow in another (GraphIngestor.writeBatch). */
export const STATED: readonly Phase[] = ["nodes", "unlink", "link", "mark"];

export function phased(p: Partial<Phased> = {}): Phased {
  return { nodes: p.nodes ?? [], unlink: p.unlink ?? [], link: p.link ?? [], mark: p.mark ?? [], derive: p.derive ?? [] };
}

/** One item's parts as one Phased, phase by phase in the parts' order. */
export function combinePhased(parts: readonly Phased[]): Phased {
  const out = phased();
  for (const p of parts) for (const phase of PHASES) out[phase].push(...p[phase]);
  return out;
}

const SEP = "\u00a6"; // ¦: in no key (host names, uuids, MACs, interface names, ip:port)

/**
 * The keys a full report lists, as one string for a row field: Kuzu cannot type a list that is
 * empty in some rows, so "is still listed" is `r.keys CONTAINS ('¦' + key + '¦')` (listed(...)).
 * Multi-hop matches from a row's host are written one hop per MATCH (`MATCH (h {name: kv})-->(n)
 * WITH r, n MATCH (n)-->...`): in one pattern Kuzu 0.11 planned them from the far end, scanning
 * whole tables inside a write (seconds per statement at 2,000 hosts, growing with the graph).
 */
export function keySet(values: Iterable<string>): string {
  let s = SEP;
  for (const v of values) s += `${v.split(SEP).join("")}${SEP}`;
  return s;
}

/** Cypher: the key expression `expr` is in the row's key set `field` (parenthesised: Kuzu and Neo4j bind + and CONTAINS differently). */
export function listed(field: string, expr: string): string {
  return `r.${field} CONTAINS ('${SEP}' + ${expr} + '${SEP}')`;
}

const shapeOf = (rows: unknown): string => {
  const r = Array.isArray(rows) ? (rows[0] as Record<string, unknown> | undefined) : undefined;
  return r ? Object.keys(r).sort().map((k) => `${k}:${typeof r[k]}${Number.isSafeInteger(r[k]) ? "i" : ""}`).join(",") : "";
};

/**
 * The statements of many items, phase by phase, UNWINDs with the same text joined and cut into
 * chunks of maxRows. Rows of a statement with `dedupe` or `unique` keep only the last row per
 * identity or value.
 */
export function combine(items: readonly Phased[], maxRows: number, phases: readonly Phase[] = PHASES): Statement[] {
  const out: Statement[] = [];
  for (const phase of phases) {
    const joined = new Map<string, { cypher: string; unique?: string; dedupe?: readonly string[]; rows: unknown[] }>();
    const order: (string | Statement)[] = [];
    for (const it of items) {
      for (const s of it[phase]) {
        const rows = s.params?.rows;
        if (Array.isArray(rows) && Object.keys(s.params!).length === 1 && /^\s*UNWIND \$rows /.test(s.cypher)) {
          const key = `${s.cypher}\u0000${shapeOf(rows)}\u0000${s.unique ?? ""}\u0000${s.dedupe?.join(",") ?? ""}`;
          const j = joined.get(key);
          if (j) j.rows.push(...rows);
          else {
            joined.set(key, { cypher: s.cypher, unique: s.unique, dedupe: s.dedupe, rows: [...rows] });
            order.push(key);
          }
        } else order.push(s);
      }
    }
    for (const o of order) {
      if (typeof o !== "string") {
        out.push({ cypher: o.cypher, params: o.params });
        continue;
      }
      const j = joined.get(o)!;
      let rows = j.dedupe ? lastPer(j.rows, j.dedupe) : j.rows;
      if (j.unique) rows = lastPer(rows, [j.unique]);
      for (let i = 0; i < rows.length; i += maxRows) out.push({ cypher: j.cypher, params: { rows: rows.slice(i, i + maxRows) } });
    }
  }
  return out;
}

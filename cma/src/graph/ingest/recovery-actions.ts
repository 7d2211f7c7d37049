/**
 * Recovery actions on guests (issue 14, item 6), from the audit log: an action asked by a person,
 * a token or Zabbix's scripts (audit "domainAction") and each record of an escalation ladder
 * ("ladderStart", "ladderNotify", "ladderAction", "ladderEscalate", "ladderEnd") becomes a
 * RecoveryAction node keyed by its audit seq, linked to the guest: (RecoveryAction)-[:ACTED_ON]->(Domain).
 * The audit log is the source because every path writes there, and only once the entry is durable.
 *
 * A guest keeps its KEEP_PER_GUEST newest actions; older ones are deleted (the audit log keeps
 * them all). A guest the graph has not heard of yet is created with its uuid only, as alerts do
 * (inventory fills it in): the CMA knew the guest when it acted on it. An entry naming no guest
 * uuid, and a request refused because the CMA knew no such guest ("unknown-domain"), write nothing.
 */
import type { AuditEntry } from "../../audit/audit-entry.js";
import { mergeNodes, mergeRels } from "../write-batch.js";
import { MAX_TEXT, UUID_RE, isObject } from "./input.js";
import { phased } from "./phased.js";
import type { Phased } from "./phased.js";

/** Audit actions that are recovery actions on a guest (target: its uuid). */
export const RECOVERY_ENTRIES: ReadonlySet<string> = new Set(["domainAction", "ladderStart", "ladderNotify", "ladderAction", "ladderEscalate", "ladderEnd"]);
/** Actions kept per guest in the graph: enough for its recent history, bounded however often it is acted on. */
export const KEEP_PER_GUEST = 50;

/** A text field of the detail, cut to MAX_TEXT; null when absent, empty or not text. */
function cut(v: unknown): string | null {
  if (typeof v !== "string" || v === "") return null;
  return v.length > MAX_TEXT ? `${v.slice(0, MAX_TEXT - 1)}…` : v;
}

/** What was done: the action asked for, or the ladder's step. */
function actionOf(kind: string, d: Record<string, unknown>): string | null {
  if (kind === "domainAction") return cut(d.action);
  if (kind === "ladderStart") return "start";
  if (kind === "ladderEnd") return "end";
  return cut(d.step);
}

/** Why: the reason given with the request, a guard's refusal, why a ladder began or ended. */
function reasonOf(kind: string, d: Record<string, unknown>): string | null {
  if (kind === "domainAction") return cut(d.reason);
  if (kind === "ladderStart") return cut(d.evidence);
  if (kind === "ladderEnd") return cut(d.why);
  return d.outcome === "refused" ? cut(d.detail) : null;
}

/** What came of it: the ladder step's account, or the error a request met. */
function resultOf(kind: string, d: Record<string, unknown>): string | null {
  if (kind !== "domainAction") return d.outcome === "refused" ? null : cut(d.detail);
  const code = cut(d.error), message = cut(d.message);
  return code && message ? cut(`${code}: ${message}`) : (code ?? message);
}

/**
 * The writes for one audit entry, or undefined when it is no recovery action on a guest the
 * graph can name (not one of RECOVERY_ENTRIES, no guest uuid, no valid seq, an unknown guest).
 */
export function recoveryActionWrites(e: AuditEntry): Phased | undefined {
  if (!e || typeof e !== "object" || !RECOVERY_ENTRIES.has(e.action)) return undefined;
  const guest = typeof e.target === "string" && UUID_RE.test(e.target) ? e.target.toLowerCase() : undefined;
  if (!guest || !Number.isSafeInteger(e.seq) || e.seq < 1) return undefined;
  const d = isObject(e.detail) ? e.detail : {};
  if (e.action === "domainAction" && d.error === "unknown-domain") return undefined; // no such guest: nothing to link to
  const at = typeof e.time === "string" ? Date.parse(e.time) : NaN;
  const row = {
    seq: e.seq, at: Number.isFinite(at) ? at : null, time: Number.isFinite(at) ? cut(e.time) : null, kind: e.action, action: actionOf(e.action, d),
    actor: cut(e.actor), via: cut(e.via), outcome: cut(e.outcome), dryRun: d.outcome === "dry-run",
    reason: reasonOf(e.action, d), result: resultOf(e.action, d), state: cut(d.state), host: cut(d.host), ladder: cut(d.ladder), guest,
  };
  return phased({
    nodes: [...mergeNodes("RecoveryAction", [row]), ...mergeNodes("Domain", [{ uuid: guest }])],
    link: mergeRels("ACTED_ON", "RecoveryAction", "Domain", [{ from: e.seq, to: guest }]),
    mark: [pruneOlder(guest)],
  });
}

/**
 * Deletes the guest's actions beyond its KEEP_PER_GUEST newest (highest seq): a count of newer
 * ones instead of a list slice, which Kuzu and Neo4j write differently. The row is not carried
 * past its key (`WITH r.uuid AS kv`): with `WITH r, ...` and a second MATCH from the guest,
 * Kuzu 0.11 fails with "Cannot evaluate expression with type VARIABLE".
 */
function pruneOlder(uuid: string): { cypher: string; params: { rows: { uuid: string }[] }; dedupe: readonly string[] } {
  return {
    cypher: `UNWIND $rows AS r WITH r.uuid AS kv MATCH (d:Domain {uuid: kv})<-[:ACTED_ON]-(a:RecoveryAction)
MATCH (d)<-[:ACTED_ON]-(b:RecoveryAction) WHERE b.seq > a.seq
WITH a, count(b) AS newer WHERE newer >= ${KEEP_PER_GUEST}
DETACH DELETE a`,
    params: { rows: [{ uuid }] },
    dedupe: ["uuid"],
  };
}

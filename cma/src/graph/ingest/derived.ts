/**
 * Facts derived at ingestion so the root-cause queries need one hop where the schema needs
 * three or four: Kuzu 0.11 joins whole tables per hop, and at 300,000 guests those hops alone
 * cost more than the 100 ms an operator waits (BENCHMARKS.md, graph).
 *
 *  - (Host|Domain)-[:OFFERS]->(Service): the machine holds, on one of its NICs, the address the
 *    service listens on (instead of HAS_NIC → HAS_IP → LISTENS_ON).
 *  - IPAddr.owned: some NIC holds the address (instead of an anti-join over every HAS_IP).
 *  - (Service)-[:SERVED_BY]->(Host|Domain): OFFERS reversed, written and deleted with it, so a
 *    dependency chain (client -DEPENDS_ON-> service -SERVED_BY-> machine -DEPENDS_ON-> ...) is a
 *    path of one direction that a bounded variable-length pattern can follow (blastRadius).
 *
 * They are kept true by the writes that change what they are derived from:
 *  - an address linked to a NIC (nics, libvirt-domains): `linked` sets owned, and merges OFFERS
 *    from every holder of the address to every service on it (`offered`; derive phase);
 *  - a service linked to an address (tcp-services): `offered` for that address;
 *  - an address unlinked from a NIC: `withdrawOffers` drops OFFERS from that NIC's owner to the
 *    services on it, and `stillOwned` recounts the holders left, both in the unlink phase before
 *    the HAS_IP goes (the derive phase puts OFFERS back when the owner still holds the address
 *    on another NIC).
 * A service never changes address (its key is ip:port), and NICs, services and machines that
 * disappear are marked, not deleted, so nothing else can make them false.
 *
 * The derive phase runs in a transaction of its own after the batch's (GraphIngestor): inside
 * the batch's, Kuzu 0.11 bound the OFFERS MERGEs to wrong nodes. So that a crash between the two
 * loses nothing, `addressNodes` marks every address a document names `stale` in the first, the
 * derive phase clears it (`offered` ends with that), and at start GraphIngestor derives again
 * (`rederive`) every address still stale or never derived (a graph written before these facts
 * existed: owned is null).
 */
import { mergeNodes } from "../write-batch.js";
import type { Row, Statement } from "../write-batch.js";

const OWNERS = ["Host", "Domain"] as const;

const addressRows = (addresses: Iterable<string>): { address: string }[] => [...new Set(addresses)].map((address) => ({ address }));

/** MERGE of IPAddr nodes, stale until the derive phase; a new one is not owned until a NIC is linked to it (`linked`). */
export function addressNodes(rows: readonly Row[]): Statement[] {
  return mergeNodes("IPAddr", rows.map((r) => ({ ...r, owned: false, stale: true })), ["firstSeen", "owned"]);
}

/** Derive phase: these addresses were just linked to a NIC: owned, and OFFERS for the services on them. */
export function linked(addresses: readonly string[]): Statement[] {
  const rows = addressRows(addresses);
  if (!rows.length) return [];
  return [
    { cypher: "UNWIND $rows AS r WITH r, r.address AS kv MATCH (a:IPAddr {address: kv}) SET a.owned = true", params: { rows }, dedupe: ["address"] },
    ...offered(addresses),
  ];
}

/** Derive phase: OFFERS for every service on these addresses from every machine holding them. */
export function offered(addresses: Iterable<string>): Statement[] {
  const rows = addressRows(addresses);
  if (!rows.length) return [];
  // one hop per MATCH, from the addresses (primary-key lookups) outwards: in one pattern Kuzu
  // plans from the far end and scans whole tables
  return [
    ...OWNERS.map((label) => ({
      cypher: `UNWIND $rows AS r WITH r, r.address AS kv MATCH (a:IPAddr {address: kv}) WITH r, a MATCH (a)<-[:LISTENS_ON]-(s:Service) WITH r, a, s MATCH (a)<-[:HAS_IP]-(n:NIC) WITH r, s, n MATCH (o:${label})-[:HAS_NIC]->(n) MERGE (o)-[:OFFERS]->(s) MERGE (s)-[:SERVED_BY]->(o)`,
      params: { rows },
      dedupe: ["address"],
    })),
    { cypher: "UNWIND $rows AS r WITH r, r.address AS kv MATCH (a:IPAddr {address: kv}) SET a.stale = false", params: { rows }, dedupe: ["address"] },
  ];
}

/**
 * Cypher to append to a statement that has bound the row `r`, `owner` (a Host or Domain) and
 * `address` (an IPAddr it is about to stop holding): drops the owner's OFFERS to the services on
 * it, and their SERVED_BY (a graph from before SERVED_BY may lack one: the OFFERS goes all the
 * same). (Kuzu 0.11 refuses `WITH DISTINCT` of node variables here; deleting a relationship twice,
 * when two NICs led to it, is harmless.)
 */
export function withdrawOffers(owner: string, address: string): string {
  return `WITH r, ${owner}, ${address} MATCH (${address})<-[:LISTENS_ON]-(s:Service) WITH r, ${owner}, s MATCH (${owner})-[x:OFFERS]->(s) DELETE x WITH r, ${owner}, s MATCH (s)-[y:SERVED_BY]->(${owner}) DELETE y`;
}

/** OFFERS without its SERVED_BY, per owner label: a graph written before SERVED_BY existed (counted at start, backfilled once). */
export const OFFERS_WITHOUT_SERVED_BY = OWNERS.map((label) => `MATCH (o:${label})-[:OFFERS]->(s:Service) WHERE NOT EXISTS { MATCH (s)-[:SERVED_BY]->(o) } RETURN count(*) AS n`);

/** The backfill: SERVED_BY for every OFFERS (idempotent). */
export function servedByBackfill(): Statement[] {
  return OWNERS.map((label) => ({ cypher: `MATCH (o:${label})-[:OFFERS]->(s:Service) MERGE (s)-[:SERVED_BY]->(o)` }));
}

/**
 * Cypher to append to a statement that has bound `address` (an IPAddr some HAS_IP of which are
 * about to go) and the row `r`: owned stays true only if a holder for which `keeps` (a Cypher
 * condition on the holding NIC `m`) is true remains.
 */
export function stillOwned(address: string, keeps: string): string {
  return `WITH r, ${address} MATCH (${address})<-[:HAS_IP]-(m:NIC) WITH ${address}, sum(CASE WHEN ${keeps} THEN 1 ELSE 0 END) AS kept SET ${address}.owned = kept > 0`;
}

/** Derive phase: both facts again for these addresses (stale after a crash, or never derived). */
export function rederive(addresses: Iterable<string>): Statement[] {
  const rows = addressRows(addresses);
  if (!rows.length) return [];
  return [
    { cypher: "UNWIND $rows AS r WITH r, r.address AS kv MATCH (a:IPAddr {address: kv}) SET a.owned = false", params: { rows }, dedupe: ["address"] },
    { cypher: "UNWIND $rows AS r WITH r, r.address AS kv MATCH (a:IPAddr {address: kv}) WITH r, a MATCH (a)<-[:HAS_IP]-(:NIC) SET a.owned = true", params: { rows }, dedupe: ["address"] },
    ...offered(addresses),
  ];
}

/** Which addresses `rederive` is for. */
export const UNSETTLED_ADDRESSES = "MATCH (a:IPAddr) WHERE a.owned IS NULL OR a.stale = true RETURN a.address AS address";

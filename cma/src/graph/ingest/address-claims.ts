/**
 * A report lists an address that another machine's NIC holds in the graph: a move or a conflict.
 *
 *  - The other holder **still holds it now** when its own latest statement of its addresses listed
 *    it (HAS_IP.seenAt >= the NIC's addressesAt: a host's nics report, a guest's addresses in
 *    libvirt-domains) and its machine is live: a guest present, running and on a host that is not
 *    down; a host alive or suspect. Then both keep it and the address is a **conflict**
 *    (IPAddr.conflict, conflictAt; the named query addressConflicts lists the holders): the graph
 *    cannot tell which one a client reached, and says so. A holding known only from a sighting
 *    (guest-flows: a SYN-ACK from the NIC's MAC) is never current against a newer claim: the newer
 *    sighting is the better evidence (a failed-over address), and guest-flows cannot say that a
 *    guest stopped answering.
 *  - Otherwise it is a **move** (one stopped holding it, the other started): the old HAS_IP goes,
 *    with the OFFERS it made (derived.ts). Another NIC of the same guest taking the address is a
 *    move too.
 * A claim that finds no other current holder clears the flag. A guest's report may omit an
 * address it still has (a quiet guest's neighbour entry expires), so omission alone moves
 * nothing; it only makes that holder no longer current for the next claim.
 */
import type { Statement } from "../write-batch.js";
import { withdrawOffers } from "./derived.js";

export interface AddressClaim {
  /** the claiming NIC's key */
  nic: string;
  /** the machine whose NIC it is: a guest's uuid or a host's name (NIC.owner) */
  owner: string;
  /** the IPAddr key */
  address: string;
  at: number;
}

const alive = (h: string): string => `(${h}.state = 'alive' OR ${h}.state = 'suspect')`;
const byAddress = "UNWIND $rows AS r WITH r, r.address AS kv MATCH (a:IPAddr {address: kv}) WITH r, a MATCH (a)<-[x:HAS_IP]-(m:NIC) WHERE m.key <> r.nic";
/** the holding is not current: its machine's latest statement of its addresses did not list it, or there is none */
const notListed = "(x.seenAt IS NULL OR m.addressesAt IS NULL OR x.seenAt < m.addressesAt)";

/** Holders (o, the NIC m, its HAS_IP x, the address a) that the claims take the address from. */
const moved = [
  `${byAddress} WITH r, a, m, x MATCH (o:Domain)-[:HAS_NIC]->(m) WITH r, a, m, x, o OPTIONAL MATCH (h:Host)-[:RUNS]->(o) ` +
    `WITH r, a, m, x, o, h WHERE o.uuid = r.owner OR ${notListed} OR o.present = false OR o.state IS NULL OR o.state <> 'running' OR (h IS NOT NULL AND NOT ${alive("h")})`,
  `${byAddress} AND m.owner <> r.owner WITH r, a, m, x MATCH (o:Host)-[:HAS_NIC]->(m) WHERE ${notListed} OR NOT ${alive("o")}`,
];

/** Unlink phase: moves, then the conflict flag from the holders left (before the claimants' HAS_IP are written). */
export function addressClaims(claims: readonly AddressClaim[]): Statement[] {
  if (!claims.length) return [];
  const rows = [...claims];
  const dedupe = ["nic", "address"];
  return [
    // (Kuzu 0.11 refuses `WITH DISTINCT` of node variables; withdrawing twice is harmless)
    ...moved.map((m) => ({ cypher: `${m} ${withdrawOffers("o", "a")}`, params: { rows }, dedupe })),
    ...moved.map((m) => ({ cypher: `${m} WITH DISTINCT x DELETE x`, params: { rows }, dedupe })),
    {
      cypher: "UNWIND $rows AS r WITH r, r.address AS kv MATCH (a:IPAddr {address: kv}) WITH r, a OPTIONAL MATCH (a)<-[:HAS_IP]-(m:NIC) WHERE m.key <> r.nic AND m.owner <> r.owner " +
        "WITH r, a, count(m) AS others SET a.conflictAt = CASE WHEN others = 0 THEN NULL WHEN a.conflict = true THEN a.conflictAt ELSE r.at END, a.conflict = others > 0",
      params: { rows },
      dedupe,
    },
  ];
}

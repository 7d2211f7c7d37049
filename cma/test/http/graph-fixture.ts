/** A real Kuzu store on a temp directory, filled through its write() with a small scenario. */
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import { KuzuStore } from "../../src/graph/kuzu-store.js";
import type { NamedQuery } from "../../src/graph/named-queries.js";
import { mergeNodes, mergeRels } from "../../src/graph/write-batch.js";
import { UUID1, UUID2 } from "./api-fixture.js";

/** A test query of our own with an int parameter (the registry's take only strings so far). */
export const hostsSince: NamedQuery = {
  name: "hostsSince", description: "hosts whose state changed at or after a time", cypher: "MATCH (h:Host) WHERE h.since >= $since AND ($state = '' OR h.state = $state) RETURN h.name AS host ORDER BY host",
  params: { since: { type: "int", doc: "ms since epoch" }, state: { type: "string", doc: "only this state", default: "" } },
};

export async function filledKuzuStore(dir: string): Promise<KuzuStore> {
  const store = new KuzuStore({ path: join(dir, "graph"), bufferPoolMb: 64, log: silentLogger() });
  await store.init();
  await store.write([
    ...mergeNodes("Host", [
      { name: "hv1", state: "dead", segment: "10.0.1.0/24", since: 3000 },
      { name: "hv2", state: "alive", segment: "10.0.1.0/24", since: 1000 },
      { name: "hv3", state: "alive", segment: "10.0.2.0/24", since: 2000 },
    ]),
    ...mergeNodes("Segment", [{ name: "10.0.1.0/24" }, { name: "10.0.2.0/24" }]),
    ...mergeNodes("Domain", [{ uuid: UUID1, name: "web1", state: "running", present: true }, { uuid: UUID2, name: "db1", state: "running", present: true }]),
  ]);
  await store.write([
    ...mergeRels("IN_SEGMENT", "Host", "Segment", [{ from: "hv1", to: "10.0.1.0/24" }, { from: "hv2", to: "10.0.1.0/24" }, { from: "hv3", to: "10.0.2.0/24" }]),
    ...mergeRels("RUNS", "Host", "Domain", [{ from: "hv1", to: UUID1 }, { from: "hv2", to: UUID2 }]),
  ]);
  return store;
}


/**
 * The graph end to end, in one process over real UDP: a real CMA with its embedded Kuzu graph in
 * its dataDir, three real nanoprobes (one reading libvirt's test driver and running the real
 * discovery scripts). A nanoprobe dies without a word: the CMA confirms the death, the graph
 * shows it, and the root-cause queries answer from what was ingested.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { Cma, KuzuStore, cmaConfig, namedQueries } from "@ringwatch/cma";
import type { GraphStore } from "@ringwatch/cma";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { testHostKeys } from "./support/host-keys.js";

async function poll(store: GraphStore, cypher: string, ok: (rows: Record<string, unknown>[]) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>[]> {
  let last: Record<string, unknown>[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    last = (await store.read(cypher)).rows;
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms; last answer ${JSON.stringify(last).slice(0, 400)}`);
}

describe("system: the topology graph from a live cluster", function () {
  this.timeout(120_000);
  const keyring = new Keyring("graph", makeClusterKey(randomBytes(32)));
  const keys = newKeyPair("ed25519");
  const dataDir = mkdtempSync(join(tmpdir(), "rw-graph-"));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it("ingests membership, inventory and real discovery; a death shows in the graph and in the root-cause queries", async () => {
    const fx = writeFixture(6);
    const cma = await Cma.start(cmaConfig({
      cluster: "graph", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", dataDir, heartbeatMs: 100, warntimeMs: 500, deadtimeMs: 1000,
      probeIntervalMs: 50, probeAttempts: 2, statusIntervalMs: 0, graphFlushMs: 100, graphBufferPoolMb: 64, httpListen: "off",
    }), { keyring, commandKey: keys.privateKey, log: silentLogger() });
    const nps: Nanoprobe[] = [];
    try {
      const graph = cma.graph!;
      assert.equal(graph.kind, "kuzu");
      for (const id of ["hv1", "hv2", "hv3"]) {
        nps.push(await Nanoprobe.start(nanoprobeConfig({
          identity: id, cluster: "graph", cma: `127.0.0.1:${cma.endpoint.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 100,
          statusIntervalMs: 0, sampleMs: 200, reportIntervalMs: 1000, scheduleStartWindowMs: 500, // first discovery runs within 0.5 s
          ...(id === "hv1" ? { libvirtUri: fx.uri } : { discoveryDir: "" }),
        }), { keyring, cmaPublicKey: keys.publicKey, log: silentLogger(), hostKeys: testHostKeys(id) }));
      }
      await poll(graph, "MATCH (h:Host) WHERE h.state = 'alive' RETURN h.name AS name", (r) => r.length === 3, 20_000, "three live hosts");
      await poll(graph, "MATCH (:Host {name: 'hv1'})-[:RUNS]->(d:Domain) RETURN d.name AS name", (r) => r.length === 6, 20_000, "hv1's six guests");
      // the real discovery scripts ran on hv1 and their documents reached the graph
      await poll(graph, "MATCH (h:Host {name: 'hv1'}) WHERE h.kernel IS NOT NULL AND h.cpus > 0 RETURN h.kernel AS k", (r) => r.length === 1, 60_000, "os and cpu-memory documents");
      await poll(graph, "MATCH (:Host {name: 'hv1'})-[:RUNS_SERVICE]->(s:Service) RETURN s.key AS key", (r) => r.length > 0, 60_000, "tcp-services document");
      // the rings: three hosts, each watched by the other two
      await poll(graph, "MATCH (a:Host)-[:WATCHES]->(b:Host) RETURN a.name AS a, b.name AS b", (r) => r.length === 6, 20_000, "ring edges");
      assert.deepEqual((await graph.read(namedQueries.ringHealth.cypher, { segment: "" })).rows, []);

      // hv1 dies without a word
      await nps[0].kill();
      await waitUntil(() => cma.rings.membership.get("hv1")?.state === "dead", 20_000, "hv1 confirmed dead", 100);
      await poll(graph, "MATCH (h:Host {name: 'hv1'}) RETURN h.state AS state", (r) => r[0]?.state === "dead", 10_000, "hv1 dead in the graph");
      await poll(graph, "MATCH (e:Event)-[:CONCERNS]->(h:Host {name: 'hv1'}) WHERE e.type = 'hostDead' RETURN e.id AS id", (r) => r.length === 1, 10_000, "the hostDead event");

      const impact = (await graph.read(namedQueries.deadHostImpact.cypher, { host: "hv1" })).rows;
      assert.deepEqual(impact.map((r) => r.domain).sort(), fx.domains.map((d) => d.name).sort());
      const verdict = (await graph.read(namedQueries.switchVersusHost.cypher)).rows;
      assert.deepEqual(verdict.map((r) => [r.kind, r.downHosts, r.upHosts, r.suspect]), [["segment", ["hv1"], 2, "host"]]);
      // the survivors were told to watch each other: no hole, but a ring of two is thin
      const health = await poll(graph, namedQueries.ringHealth.cypher.replace(/\$segment/g, "''"), (r) => r.every((x) => x.problem === "under-watched") && r.length === 2, 10_000, "repaired ring");
      assert.deepEqual(health.map((r) => [r.host, r.watchers]).sort(), [["hv2", 1], ["hv3", 1]]);
      assert.equal(cma.graphIngestor!.counters.writeFailures, 0);
      assert.equal(cma.graphIngestor!.counters.refusedDocuments, 0);
    } finally {
      for (const np of nps) await np.stop(false);
      await cma.stop();
      fx.cleanup();
    }
    // the graph outlives the CMA: on disk in its dataDir
    const again = new KuzuStore({ path: join(dataDir, "graph"), bufferPoolMb: 64, log: silentLogger() });
    await again.init();
    try {
      assert.deepEqual((await again.read("MATCH (h:Host {name: 'hv1'}) RETURN h.state AS state")).rows, [{ state: "dead" }]);
    } finally {
      await again.close();
    }
  });
});

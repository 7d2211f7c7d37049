/**
 * The guests' own services and dependencies (guest-flows documents, the captured one edited) in
 * the graph and in the root-cause queries. Three hypervisors, one guest each: web on hvA uses
 * api on hvB, which uses db on hvC. Part of the conformance suite.
 */
import assert from "node:assert/strict";
import type { GraphStore } from "../../src/graph/graph-store.js";
import { captured, freshStoreEachTest, namedQueryRunner } from "./graph-fixtures.js";

type Row = Record<string, unknown>;
type Flows = { uuid: string; name: string; listeners: Row[]; clients: Row[] };

const WEB = "77000000-0000-4000-8000-000000000001", API = "77000000-0000-4000-8000-000000000002", DB = "77000000-0000-4000-8000-000000000003";
const API_IP = "10.78.0.12", DB_IP = "10.78.0.13";

/** The captured document (guest0 a client of guest1:8080) cut to one guest and edited. */
function flowsDoc(guest: Flows): ReturnType<typeof captured> {
  const d = captured("guest-flows");
  const real = d.data.guests as Flows[];
  assert.equal(real.length, 3, "the captured document has the test's three guests");
  d.data.guests = [guest];
  return d;
}

const web = (clients: Row[] = [{ remoteIp: API_IP, remotePort: 8080, answered: true, firstSeen: "2026-12-07T06:34:20.018Z", source: "capture" }]): Flows =>
  ({ uuid: WEB, name: "web", listeners: [], clients });
const api = (clients: Row[] = [{ remoteIp: DB_IP, remotePort: 5432, answered: true, firstSeen: "2026-12-07T06:34:20.018Z", source: "conntrack" }]): Flows =>
  ({ uuid: API, name: "api", listeners: [{ ip: API_IP, port: 8080, mac: "52:54:00:77:00:02", firstSeen: "2026-12-07T06:34:20.018Z", source: "capture" }], clients });
const db = (listeners: Row[] = [{ ip: DB_IP, port: 5432, mac: "52:54:00:77:00:03", firstSeen: "2026-12-07T06:34:20.018Z", source: "conntrack" }]): Flows =>
  ({ uuid: DB, name: "db", listeners, clients: [] });

export function guestFlowsConformance(makeStore: () => Promise<GraphStore>): void {
  describe("guest-flows: the guests' own services and dependencies", function () {
    this.timeout(180_000);
    const under = freshStoreEachTest(makeStore);
    const { rows } = under;
    const run = namedQueryRunner(rows);

    const setUp = async (): Promise<void> => {
      const { feed } = under;
      feed.host("hvA", "192.0.2.11", "alive");
      feed.host("hvB", "192.0.2.12", "alive");
      feed.host("hvC", "192.0.2.13", "alive");
      for (const [host, uuid, name, n] of [["hvA", WEB, "web", 1], ["hvB", API, "api", 2], ["hvC", DB, "db", 3]] as const) {
        feed.domain(host, { uuid, name, state: "running", vcpus: 1, memoryKib: 65536, disks: [], nics: [{ target: `vnet${n}`, mac: `52:54:00:77:00:0${n}`, bridge: "br0", network: "" }] });
      }
      assert.ok(feed.doc("hvA", flowsDoc(web())));
      assert.ok(feed.doc("hvB", flowsDoc(api())));
      assert.ok(feed.doc("hvC", flowsDoc(db())));
      await feed.flush();
      assert.equal(feed.ingestor.counters.refusedDocuments + feed.ingestor.counters.writeFailures, 0);
    };

    it("a guest's listener is a service it runs on the address its NIC answered from; an answered connection is its dependency", async () => {
      await setUp();
      assert.deepEqual(await rows("MATCH (d:Domain)-[:RUNS_SERVICE]->(s:Service)-[:LISTENS_ON]->(a:IPAddr) RETURN d.name AS guest, s.key AS service, s.present AS present, a.address AS address ORDER BY guest"), [
        { guest: "api", service: `${API_IP}:8080`, present: true, address: API_IP },
        { guest: "db", service: `${DB_IP}:5432`, present: true, address: DB_IP },
      ]);
      assert.deepEqual(await rows("MATCH (d:Domain)-[:HAS_NIC]->(n:NIC)-[:HAS_IP]->(a:IPAddr) RETURN d.name AS guest, n.key AS nic, a.address AS address, a.owned AS owned ORDER BY guest"), [
        { guest: "api", nic: "52:54:00:77:00:02", address: API_IP, owned: true },
        { guest: "db", nic: "52:54:00:77:00:03", address: DB_IP, owned: true },
      ]);
      assert.deepEqual(await rows("MATCH (d:Domain)-[x:DEPENDS_ON]->(s:Service) RETURN d.name AS guest, s.key AS service, x.clientHost AS clientHost, x.present AS present ORDER BY guest"), [
        { guest: "api", service: `${DB_IP}:5432`, clientHost: "hvB", present: true },
        { guest: "web", service: `${API_IP}:8080`, clientHost: "hvA", present: true },
      ]);
      // derived: the guest offers what it runs (what the root-cause queries follow)
      assert.deepEqual(await rows("MATCH (d:Domain)-[:OFFERS]->(s:Service) RETURN d.name AS guest, s.key AS service ORDER BY guest"), [
        { guest: "api", service: `${API_IP}:8080` }, { guest: "db", service: `${DB_IP}:5432` },
      ]);
    });

    it("the db's hypervisor dies: its impact names the guest that depended on it; that guest's dependency is down, and the chain on top of it", async () => {
      await setUp();
      under.feed.host("hvC", "192.0.2.13", "dead");
      await under.feed.flush();
      const impact = await run("deadHostImpact", { host: "hvC" });
      assert.deepEqual(impact, [{ host: "hvC", hostState: "dead", domain: "db", uuid: DB, service: `${DB_IP}:5432`, process: null, dependentHosts: ["hvB"], dependentServices: [], dependentGuests: ["api"] }]);
      const down = await run("servicesWithDownDependencies");
      const why = "guest db on host hvC dead";
      const direct = { clientHost: "hvB", client: "api", process: null, dependency: `${DB_IP}:5432`, why, depth: 1, chain: ["api", `${DB_IP}:5432`] };
      const onTop = { clientHost: "hvA", client: "web", process: null, dependency: `${DB_IP}:5432`, why, depth: 2, chain: ["web", `${API_IP}:8080`, "api", `${DB_IP}:5432`] };
      assert.deepEqual(down.sort((a, b) => Number(a.depth) - Number(b.depth)), [direct, onTop], "web's chain reaches the dead db through api");
      assert.deepEqual(await run("servicesWithDownDependencies", { depth: 1 }), [direct]);
      assert.deepEqual(await run("servicesWithDownDependencies", { host: "hvA" }), [onTop], "clients on hvA: web, through its chain");
    });

    const names = (path: unknown): string[] => (path as unknown[]).map(String);
    const radius = async (kind: string, name: string, depth?: number): Promise<string[]> =>
      (await run(`blastRadius${kind[0].toUpperCase()}${kind.slice(1)}`, { name, ...(depth ? { depth } : {}) })).map((r) => `${String(r.depth)} ${String(r.dependentKind)} ${String(r.dependent)} <- ${names(r.path).join(" > ")}`).sort();

    it("blastRadius: the db's host down takes api at depth 1 and web at depth 2, with their paths; depth 1 shows only api; from the guest, its service or a switch the same", async () => {
      await setUp();
      under.feed.host("hvC", "192.0.2.13", "dead");
      // a process on hvA (no listener) uses api's service too: a host-level client at depth 2
      const tcp = captured("tcp-services");
      tcp.data.listeners = [];
      tcp.data.clients = [{ process: "backup", pid: 77, remoteIp: API_IP, remotePort: 8080, count: 1 }];
      assert.ok(under.feed.doc("hvA", tcp));
      // hvC behind the switch tor-9 (LLDP)
      const lldp = captured("lldp");
      lldp.data.neighbours = [{ interface: "eth0", chassisName: "tor-9", chassisId: "aa:00:00:00:00:09", portId: "p3", portDescription: "p3", mgmtIp: null }];
      assert.ok(under.feed.doc("hvC", lldp));
      await under.feed.flush();
      const chain = [
        `1 guest api <- api > ${DB_IP}:5432 > db`,
        `2 guest web <- web > ${API_IP}:8080 > api > ${DB_IP}:5432 > db`,
        `2 host hvA <- hvA > ${API_IP}:8080 > api > ${DB_IP}:5432 > db`,
      ];
      assert.deepEqual(await radius("host", "hvC"), chain);
      assert.deepEqual(await radius("host", "hvC", 1), [chain[0]]);
      assert.deepEqual(await radius("guest", "db"), chain);
      assert.deepEqual(await radius("guest", DB.toUpperCase(), 2), chain);
      assert.deepEqual(await radius("service", `${DB_IP}:5432`), chain.map((c) => c.replace(" > db", "")), "from the service: the paths end at it");
      assert.deepEqual(await radius("service", `${API_IP}:8080`), [`1 guest web <- web > ${API_IP}:8080`, `1 host hvA <- hvA > ${API_IP}:8080`]);
      assert.deepEqual(await radius("switch", "tor-9"), chain);
      assert.deepEqual(await radius("switch", "aa:00:00:00:00:09", 1), [chain[0]]);
      assert.deepEqual(await radius("host", "hvA"), [], "nothing depends on what hvA runs");
      assert.deepEqual(await radius("host", "nonsense"), []);
    });

    it("blastRadius: a dependency marked gone is not followed; an address moved takes its dependents with it", async () => {
      await setUp();
      // api no longer uses db (a later document): db's radius is empty, api's is web
      assert.ok(under.feed.doc("hvB", flowsDoc(api([])), 1_763_700_100_000));
      await under.feed.flush();
      assert.deepEqual(await radius("guest", "db"), []);
      assert.deepEqual(await radius("guest", "api"), [`1 guest web <- web > ${API_IP}:8080 > api`]);
      // api's address answered by a new guest: the old api no longer serves web
      const standby = "77000000-0000-4000-8000-000000000005";
      under.feed.domain("hvA", { uuid: standby, name: "api-2", state: "running", vcpus: 1, memoryKib: 65536, disks: [], nics: [{ target: "vnet5", mac: "52:54:00:77:00:05", bridge: "br0", network: "" }] });
      assert.ok(under.feed.doc("hvA", flowsDoc({ uuid: standby, name: "api-2", listeners: [{ ip: API_IP, port: 8080, mac: "52:54:00:77:00:05" }], clients: [] }), 1_763_700_200_000));
      await under.feed.flush();
      assert.deepEqual(await radius("guest", "api"), []);
      assert.deepEqual(await radius("guest", "api-2"), [`1 guest web <- web > ${API_IP}:8080 > api-2`]);
    });

    it("what a later document no longer lists is marked, not deleted; unanswered SYNs and bad entries stay out, the rest goes in", async () => {
      await setUp();
      const bad = api([
        { remoteIp: "10.78.0.99", remotePort: 9, answered: false, firstSeen: "x", source: "capture" },
        { remoteIp: "not an ip", remotePort: 80, answered: true },
        { remoteIp: "169.254.169.254", remotePort: 80, answered: true },
      ]);
      bad.listeners.push({ ip: "127.0.0.1", port: 80, mac: null }, { ip: API_IP, port: 70_000 });
      const doc = flowsDoc(bad);
      (doc.data.guests as unknown[]).push({ uuid: "../../../etc/passwd", name: "evil", listeners: [], clients: [] });
      assert.ok(under.feed.doc("hvB", doc, 1_763_700_100_000));
      assert.ok(under.feed.doc("hvC", flowsDoc(db([])), 1_763_700_100_000));
      await under.feed.flush();
      assert.equal(under.feed.ingestor.counters.refusedDocuments, 0);
      assert.deepEqual(await rows("MATCH (d:Domain)-[x:DEPENDS_ON]->(s:Service) RETURN d.name AS guest, s.key AS service, x.present AS present ORDER BY guest"), [
        { guest: "api", service: `${DB_IP}:5432`, present: false },
        { guest: "web", service: `${API_IP}:8080`, present: true },
      ]);
      assert.deepEqual(await rows("MATCH (d:Domain)-[:RUNS_SERVICE]->(s:Service) RETURN d.name AS guest, s.key AS service, s.present AS present ORDER BY guest"), [
        { guest: "api", service: `${API_IP}:8080`, present: true },
        { guest: "db", service: `${DB_IP}:5432`, present: false },
      ]);
      assert.deepEqual(await rows("MATCH (s:Service) WHERE s.ip = '10.78.0.99' OR s.ip = '169.254.169.254' OR s.port = 70000 RETURN s.key AS key"), []);
      assert.deepEqual(await rows("MATCH (d:Domain) WHERE d.name = 'evil' RETURN d.uuid AS uuid"), []);
    });

    it("an address another guest answers from now moves to that guest, its service with it", async () => {
      await setUp();
      // db's address (and port) answered by a new guest on hvA: a failover
      const standby = "77000000-0000-4000-8000-000000000004";
      under.feed.domain("hvA", { uuid: standby, name: "db-standby", state: "running", vcpus: 1, memoryKib: 65536, disks: [], nics: [{ target: "vnet4", mac: "52:54:00:77:00:04", bridge: "br0", network: "" }] });
      assert.ok(under.feed.doc("hvA", flowsDoc({ uuid: standby, name: "db-standby", listeners: [{ ip: DB_IP, port: 5432, mac: "52:54:00:77:00:04" }], clients: [] }), 1_763_700_100_000));
      await under.feed.flush();
      assert.deepEqual(await rows(`MATCH (d:Domain)-[:RUNS_SERVICE]->(s:Service {key: '${DB_IP}:5432'}) RETURN d.name AS guest`), [{ guest: "db-standby" }]);
      assert.deepEqual(await rows(`MATCH (n:NIC)-[:HAS_IP]->(a:IPAddr {address: '${DB_IP}'}) RETURN n.key AS nic`), [{ nic: "52:54:00:77:00:04" }]);
      assert.deepEqual(await rows(`MATCH (d:Domain)-[:OFFERS]->(s:Service {key: '${DB_IP}:5432'}) RETURN d.name AS guest`), [{ guest: "db-standby" }]);
      under.feed.host("hvC", "192.0.2.13", "dead");
      await under.feed.flush();
      assert.deepEqual((await run("deadHostImpact", { host: "hvC" })).map((r) => [r.domain, r.service]), [["db", null]], "the old db no longer offers the service");
    });
  });
}

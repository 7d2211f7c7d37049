/**
 * Addresses scoped to their network (issue 16, item 3), and when two sightings of an address are
 * a move or a conflict. Two hypervisors whose libvirt NAT networks are both 192.168.122.0/24,
 * each with a db guest on 192.168.122.10 and a web guest using it. Part of the conformance suite.
 */
import assert from "node:assert/strict";
import type { GraphStore } from "../../src/graph/graph-store.js";
import { captured, freshStoreEachTest, namedQueryRunner } from "./graph-fixtures.js";
import type { Feed } from "./graph-fixtures.js";

type Row = Record<string, unknown>;

const NAT = { name: "default", bridge: "virbr0", forward: "nat", hostLocal: true, addresses: [{ address: "192.168.122.1", prefixLength: 24 }] };
const T0 = 1_763_700_000_000;

function guest(uuid: string, name: string, mac: string, addresses: string[], o: { state?: string; network?: string } = {}): Row {
  const state = o.state ?? "running";
  return {
    uuid, name, state, active: state === "running", persistent: true, vcpus: 1, maxVcpus: 1, memoryKiB: 65536, maxMemKiB: 65536, disks: [],
    nics: [{ target: `vnet-${name}`, mac, type: o.network === "" ? "bridge" : "network", network: o.network ?? "default", bridge: o.network === "" ? "br0" : "virbr0", addresses: addresses.map((address) => ({ address, prefixLength: 24 })) }],
  };
}

function libvirtDoc(domains: Row[], networks: Row[] = [NAT]): ReturnType<typeof captured> {
  const d = captured("libvirt-domains");
  d.data.domains = domains;
  d.data.networks = networks;
  return d;
}

function flowsDoc(guests: Row[]): ReturnType<typeof captured> {
  const d = captured("guest-flows");
  d.data.guests = guests;
  return d;
}

function tcpDoc(clients: Row[]): ReturnType<typeof captured> {
  const d = captured("tcp-services");
  d.data.listeners = [];
  d.data.clients = clients;
  return d;
}

function nicsDoc(addresses: Record<string, string[]>): ReturnType<typeof captured> {
  const d = captured("nics");
  d.data.interfaces = Object.entries(addresses).map(([name, list], i) => ({
    name, ifindex: i + 2, mac: `02:fc:00:00:0${i}:01`, mtu: 1500, state: "up", kind: name.startsWith("virbr") ? "bridge" : "physical", master: null, speedMbps: null,
    addresses: list.map((address) => ({ family: "IPv4", address, prefixLength: 24 })),
  }));
  return d;
}

const uuid = (host: string, n: number): string => `${host === "hvA" ? "a" : "b"}0000000-0000-4000-8000-00000000000${n}`;

/** One hypervisor's reports: its NAT network, db (192.168.122.10:5432) and web (a client of it) guests, nginx on the host a client too. */
function report(feed: Feed, host: "hvA" | "hvB", at: number): void {
  const suffix = host.slice(2).toLowerCase();
  const dbMac = `52:54:00:aa:0${host === "hvA" ? 1 : 2}:10`, webMac = `52:54:00:aa:0${host === "hvA" ? 1 : 2}:11`;
  assert.ok(feed.doc(host, libvirtDoc([guest(uuid(host, 1), `db-${suffix}`, dbMac, ["192.168.122.10"]), guest(uuid(host, 2), `web-${suffix}`, webMac, ["192.168.122.11"])]), at));
  assert.ok(feed.doc(host, nicsDoc({ eth0: [host === "hvA" ? "192.0.2.21" : "192.0.2.22"], virbr0: ["192.168.122.1"] }), at));
  assert.ok(feed.doc(host, flowsDoc([
    { uuid: uuid(host, 1), name: `db-${suffix}`, listeners: [{ ip: "192.168.122.10", port: 5432, mac: dbMac, firstSeen: "2026-12-07T06:34:20.018Z", source: "capture" }], clients: [] },
    { uuid: uuid(host, 2), name: `web-${suffix}`, listeners: [], clients: [{ remoteIp: "192.168.122.10", remotePort: 5432, answered: true, firstSeen: "2026-12-07T06:34:20.018Z", source: "capture" }] },
  ]), at));
  assert.ok(feed.doc(host, tcpDoc([{ process: "nginx", pid: 700, remoteIp: "192.168.122.10", remotePort: 5432, count: 2 }]), at));
}

export function addressScopeConformance(makeStore: () => Promise<GraphStore>): void {
  describe("addresses scoped to their network; moves and conflicts", function () {
    this.timeout(180_000);
    const under = freshStoreEachTest(makeStore);
    const { rows } = under;
    const run = namedQueryRunner(rows);
    const noFailures = (feed: Feed): void => assert.equal(feed.ingestor.counters.refusedDocuments + feed.ingestor.counters.writeFailures + feed.ingestor.counters.droppedItems, 0);

    for (const order of [["hvA", "hvB"], ["hvB", "hvA"]] as const) {
      it(`two hypervisors' NAT guests on 192.168.122.10: hvB dies, nothing on hvA is blamed (reports ${order.join(" then ")})`, async () => {
        const { feed } = under;
        feed.host("hvA", "192.0.2.21", "alive");
        feed.host("hvB", "192.0.2.22", "alive");
        for (const [i, host] of order.entries()) {
          report(feed, host, T0 + i * 1000);
          await feed.flush();
        }
        noFailures(feed);
        // one node per host for the same private address, the bridges' 192.168.122.1 too
        assert.deepEqual(await rows("MATCH (a:IPAddr) WHERE a.ip STARTS WITH '192.168.122.' RETURN a.address AS address, a.ip AS ip, a.scope AS scope ORDER BY address"), [
          { address: "hvA/default|192.168.122.1", ip: "192.168.122.1", scope: "hvA/default" },
          { address: "hvA/default|192.168.122.10", ip: "192.168.122.10", scope: "hvA/default" },
          { address: "hvA/default|192.168.122.11", ip: "192.168.122.11", scope: "hvA/default" },
          { address: "hvB/default|192.168.122.1", ip: "192.168.122.1", scope: "hvB/default" },
          { address: "hvB/default|192.168.122.10", ip: "192.168.122.10", scope: "hvB/default" },
          { address: "hvB/default|192.168.122.11", ip: "192.168.122.11", scope: "hvB/default" },
        ]);
        assert.deepEqual(await run("addressConflicts"), []);
        assert.deepEqual(await rows("MATCH (h:Host)-[:HAS_NETWORK]->(n:Network) RETURN h.name AS host, n.key AS key, n.forward AS forward, n.hostLocal AS hostLocal, n.subnets AS subnets ORDER BY host"), [
          { host: "hvA", key: "hvA/default", forward: "nat", hostLocal: true, subnets: "192.168.122.1/24" },
          { host: "hvB", key: "hvB/default", forward: "nat", hostLocal: true, subnets: "192.168.122.1/24" },
        ]);

        feed.host("hvB", "192.0.2.22", "dead");
        await feed.flush();
        const impact = await run("deadHostImpact", { host: "hvB" });
        const db = impact.find((r) => r.domain === "db-b");
        assert.ok(db, JSON.stringify(impact));
        assert.equal(db.service, "hvB/default|192.168.122.10:5432");
        assert.deepEqual(db.dependentHosts, ["hvB"]);
        assert.deepEqual(db.dependentGuests, ["web-b"]);
        assert.ok(!JSON.stringify(impact).includes("hvA") && !JSON.stringify(impact).includes("web-a"), JSON.stringify(impact));
        const radius = await run("blastRadiusHost", { name: "hvB" });
        assert.deepEqual(radius.map((r) => r.dependent).sort(), ["hvB", "web-b"]);
        const down = await run("servicesWithDownDependencies");
        assert.deepEqual(down.map((r) => `${String(r.clientHost)} ${String(r.client)} ${String(r.dependency)}`).sort(), [
          "hvB hvB hvB/default|192.168.122.10:5432", "hvB web-b hvB/default|192.168.122.10:5432",
        ]);
        assert.deepEqual(await run("deadHostImpact", { host: "hvA" }), []);
      });
    }

    it("a routed address two hosts hold at once is a conflict until one stops holding it", async () => {
      const { feed } = under;
      feed.host("hvA", "192.0.2.21", "alive");
      feed.host("hvB", "192.0.2.22", "alive");
      assert.ok(feed.doc("hvA", nicsDoc({ eth0: ["192.0.2.21", "10.0.0.5"] }), T0));
      await feed.flush();
      assert.ok(feed.doc("hvB", nicsDoc({ eth0: ["192.0.2.22", "10.0.0.5"] }), T0 + 1000));
      await feed.flush();
      noFailures(feed);
      const conflicts = await run("addressConflicts");
      assert.deepEqual(conflicts.map((r) => [r.address, r.holder, r.holderKind, r.since]), [["10.0.0.5", "hvA", "host", T0 + 1000], ["10.0.0.5", "hvB", "host", T0 + 1000]]);
      assert.deepEqual(await rows("MATCH (a:IPAddr {address: '10.0.0.5'}) RETURN a.conflict AS conflict"), [{ conflict: true }]);
      // hvB lets it go; hvA's next report finds no other holder
      assert.ok(feed.doc("hvB", nicsDoc({ eth0: ["192.0.2.22"] }), T0 + 2000));
      await feed.flush();
      assert.ok(feed.doc("hvA", nicsDoc({ eth0: ["192.0.2.21", "10.0.0.5"] }), T0 + 3000));
      await feed.flush();
      assert.deepEqual(await run("addressConflicts"), []);
      assert.deepEqual(await rows("MATCH (a:IPAddr {address: '10.0.0.5'}) RETURN a.conflict AS conflict, a.conflictAt AS at"), [{ conflict: false, at: null }]);
      // a dead host's address taken by another host: a move (a failed-over VIP), not a conflict
      assert.ok(feed.doc("hvB", nicsDoc({ eth0: ["192.0.2.22"] }), T0 + 4000));
      feed.host("hvA", "192.0.2.21", "dead");
      await feed.flush();
      assert.ok(feed.doc("hvB", nicsDoc({ eth0: ["192.0.2.22", "10.0.0.5"] }), T0 + 5000));
      await feed.flush();
      assert.deepEqual(await run("addressConflicts"), []);
      assert.deepEqual(await rows("MATCH (n:NIC)-[:HAS_IP]->(a:IPAddr {address: '10.0.0.5'}) RETURN n.key AS nic"), [{ nic: "hvB/eth0" }]);
    });

    it("a guest address: two running guests holding it is a conflict; one that stopped listing it, or stopped, lets it move", async () => {
      const { feed } = under;
      feed.host("hvA", "192.0.2.21", "alive");
      feed.host("hvB", "192.0.2.22", "alive");
      const x = (addresses: string[], state = "running"): Row => guest(uuid("hvA", 5), "x", "52:54:00:bb:00:05", addresses, { state, network: "" });
      const y = (addresses: string[]): Row => guest(uuid("hvB", 6), "y", "52:54:00:bb:00:06", addresses, { network: "" });
      const holders = async (address: string): Promise<string[]> =>
        (await rows(`MATCH (d:Domain)-[:HAS_NIC]->(n:NIC)-[:HAS_IP]->(a:IPAddr {address: '${address}'}) RETURN d.name AS name ORDER BY name`)).map((r) => String(r.name));
      const step = async (host: string, domains: Row[], at: number): Promise<void> => {
        assert.ok(feed.doc(host, libvirtDoc(domains, []), at));
        await feed.flush();
      };
      await step("hvA", [x(["10.1.0.7"])], T0);
      await step("hvB", [y(["10.1.0.7"])], T0 + 1000);
      noFailures(feed);
      assert.deepEqual(await holders("10.1.0.7"), ["x", "y"]);
      assert.deepEqual((await run("addressConflicts")).map((r) => [r.address, r.holder, r.holderKind]), [["10.1.0.7", "x", "guest"], ["10.1.0.7", "y", "guest"]]);
      // x's report no longer lists it (its lease changed): y's next report takes it, no conflict
      await step("hvA", [x(["10.1.0.8"])], T0 + 2000);
      await step("hvB", [y(["10.1.0.7"])], T0 + 3000);
      assert.deepEqual(await holders("10.1.0.7"), ["y"]);
      assert.deepEqual(await run("addressConflicts"), []);
      // x stops; its address goes to y: a move
      await step("hvA", [x([], "shutoff")], T0 + 4000);
      await step("hvB", [y(["10.1.0.7", "10.1.0.8"])], T0 + 5000);
      assert.deepEqual(await holders("10.1.0.8"), ["y"]);
      assert.deepEqual(await run("addressConflicts"), []);
      // x runs again with 10.1.0.9, then its host dies: y taking the address is a move
      await step("hvA", [x(["10.1.0.9"])], T0 + 6000);
      feed.host("hvA", "192.0.2.21", "dead");
      await step("hvB", [y(["10.1.0.7", "10.1.0.8", "10.1.0.9"])], T0 + 7000);
      assert.deepEqual(await holders("10.1.0.9"), ["y"]);
      assert.deepEqual(await run("addressConflicts"), []);
    });

    it("a host's reports keyed before its networks were known are keyed again when they arrive; a restarted CMA keeps the scopes", async () => {
      const { feed } = under;
      feed.host("hvA", "192.0.2.21", "alive");
      assert.ok(feed.doc("hvA", tcpDoc([{ process: "nginx", pid: 700, remoteIp: "192.168.122.10", remotePort: 5432, count: 1 }]), T0));
      await feed.flush();
      const deps = async (): Promise<Row[]> => rows("MATCH (h:Host {name: 'hvA'})-[x:DEPENDS_ON]->(s:Service) RETURN s.key AS service, x.present AS present ORDER BY service");
      assert.deepEqual(await deps(), [{ service: "192.168.122.10:5432", present: true }]);
      assert.ok(feed.doc("hvA", libvirtDoc([guest(uuid("hvA", 1), "db-a", "52:54:00:aa:01:10", ["192.168.122.10"])]), T0 + 1000));
      await feed.flush();
      await feed.flush(); // the re-keyed documents
      noFailures(feed);
      assert.deepEqual(await deps(), [{ service: "192.168.122.10:5432", present: false }, { service: "hvA/default|192.168.122.10:5432", present: true }]);

      const again = await under.restartFeed();
      again.host("hvA", "192.0.2.21", "alive");
      assert.ok(again.doc("hvA", tcpDoc([{ process: "nginx", pid: 700, remoteIp: "192.168.122.10", remotePort: 5432, count: 1 }, { process: "nginx", pid: 700, remoteIp: "192.168.122.12", remotePort: 80, count: 1 }]), T0 + 2000));
      await again.flush();
      noFailures(again);
      assert.deepEqual((await deps()).filter((r) => r.present), [{ service: "hvA/default|192.168.122.10:5432", present: true }, { service: "hvA/default|192.168.122.12:80", present: true }]);
    });
  });
}

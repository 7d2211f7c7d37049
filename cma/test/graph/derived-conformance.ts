/**
 * The derived facts (ingest/derived.ts: OFFERS and IPAddr.owned) stay equal to what they are
 * derived from while addresses, services and guests come, go and move, in any order. Part of
 * the conformance suite: the same writes must keep them true on every store.
 */
import assert from "node:assert/strict";
import type { GraphStore } from "../../src/graph/graph-store.js";
import { UNSETTLED_ADDRESSES } from "../../src/graph/ingest/derived.js";
import { captured, freshStoreEachTest } from "./graph-fixtures.js";
import type { Doc } from "./graph-fixtures.js";

function nics(addresses: string[]): Doc {
  const d = captured("nics");
  d.data.interfaces = [{ name: "eth0", ifindex: 2, mac: "02:00:00:00:00:01", mtu: 1500, state: "up", kind: "physical", master: null, speedMbps: null,
    addresses: addresses.map((address) => ({ family: "IPv4", address, prefixLength: 24 })) }];
  return d;
}

function guests(list: { uuid: string; name: string; mac: string; addresses?: string[] }[]): Doc {
  const d = captured("libvirt-domains");
  d.data.domains = list.map((g) => ({ uuid: g.uuid, name: g.name, state: "running", vcpus: 1, memoryKiB: 262144, disks: [],
    nics: [{ target: "vnet0", mac: g.mac, type: "bridge", bridge: "br0", ...(g.addresses ? { addresses: g.addresses } : {}) }] }));
  return d;
}

function clientOf(targets: string[]): Doc {
  const d = captured("tcp-services");
  d.data.listeners = [{ ip: "0.0.0.0", port: 22, pid: 700, process: "sshd", cmdline: ["sshd"] }, { ip: "0.0.0.0", port: 8080, pid: 4000, process: "app", cmdline: ["app"] }];
  d.data.clients = targets.map((t) => ({ process: "app", pid: 4000, remoteIp: t.split(":")[0], remotePort: Number(t.split(":")[1]), count: 1 }));
  return d;
}

const G1 = "00000000-0000-4000-8000-0000000000a1", G2 = "00000000-0000-4000-8000-0000000000a2";

export function derivedConformance(makeStore: () => Promise<GraphStore>): void {
  describe("derived facts (OFFERS, IPAddr.owned)", function () {
    this.timeout(180_000);
    const under = freshStoreEachTest(makeStore);
    const { rows } = under;
    const offers = async (): Promise<string[]> =>
      (await rows("MATCH (o)-[:OFFERS]->(s:Service) RETURN coalesce(o.uuid, o.name) AS o, s.key AS s")).map((r) => `${String(r.o)} ${String(r.s)}`).sort();
    const owned = async (): Promise<string[]> => (await rows("MATCH (a:IPAddr) WHERE a.owned = true RETURN a.address AS a")).map((r) => String(r.a)).sort();
    /** what the facts are derived from, the long way round */
    const truth = async (): Promise<{ offers: string[]; owned: string[] }> => {
      const viaHost = await rows("MATCH (o:Host)-[:HAS_NIC]->(:NIC)-[:HAS_IP]->(:IPAddr)<-[:LISTENS_ON]-(s:Service) RETURN DISTINCT o.name AS o, s.key AS s");
      const viaGuest = await rows("MATCH (o:Domain)-[:HAS_NIC]->(:NIC)-[:HAS_IP]->(:IPAddr)<-[:LISTENS_ON]-(s:Service) RETURN DISTINCT o.uuid AS o, s.key AS s");
      const held = await rows("MATCH (a:IPAddr)<-[:HAS_IP]-(:NIC) RETURN DISTINCT a.address AS a");
      return {
        offers: [...viaHost, ...viaGuest].map((r) => `${String(r.o)} ${String(r.s)}`).sort(),
        owned: held.map((r) => String(r.a)).sort(),
      };
    };
    const step = async (what: string, expectOffers: string[], expectOwned: string[]): Promise<void> => {
      await under.feed.flush();
      assert.deepEqual(await offers(), [...expectOffers].sort(), `${what}: OFFERS`);
      assert.deepEqual(await owned(), [...expectOwned].sort(), `${what}: owned addresses`);
      assert.deepEqual({ offers: await offers(), owned: await owned() }, await truth(), `${what}: derived facts equal what they derive from`);
      assert.deepEqual(await rows(UNSETTLED_ADDRESSES), [], `${what}: every address settled (owned set, not stale)`);
    };

    it("stay true as addresses and services appear, move and go, in either order", async () => {
      under.feed.host("hvA", "10.9.0.1", "alive");
      under.feed.host("hvB", "10.9.0.2", "alive");
      under.feed.host("hvC", "10.9.0.3", "alive");
      // a host address first, then a client of a service on it
      under.feed.doc("hvA", nics(["10.9.0.1", "10.9.1.1"]));
      await step("host addresses", [], ["10.9.0.1", "10.9.1.1"]);
      under.feed.doc("hvB", clientOf(["10.9.1.1:5432", "10.9.5.5:6379"]));
      await step("service on a host address", ["hvA 10.9.1.1:5432"], ["10.9.0.1", "10.9.1.1"]);
      // the service first (nobody holds 10.9.5.5: a forgotten server), then a guest that has its address
      under.feed.doc("hvC", guests([{ uuid: G1, name: "g1", mac: "52:54:00:00:00:a1", addresses: ["10.9.5.5"] }]));
      await step("guest address after the service", ["hvA 10.9.1.1:5432", `${G1} 10.9.5.5:6379`], ["10.9.0.1", "10.9.1.1", "10.9.5.5"]);
      // the address leaves hvA and moves to hvC's own interface
      under.feed.doc("hvA", nics(["10.9.0.1"]));
      await step("host address gone", [`${G1} 10.9.5.5:6379`], ["10.9.0.1", "10.9.5.5"]);
      under.feed.doc("hvC", nics(["10.9.0.3", "10.9.1.1"]));
      await step("host address moved", ["hvC 10.9.1.1:5432", `${G1} 10.9.5.5:6379`], ["10.9.0.1", "10.9.0.3", "10.9.1.1", "10.9.5.5"]);
      // a report without an address does not take it away (neighbour entries expire) ...
      under.feed.doc("hvC", guests([{ uuid: G1, name: "g1", mac: "52:54:00:00:00:a1", addresses: [] }]), 1_763_700_100_000);
      await step("guest address not reported", ["hvC 10.9.1.1:5432", `${G1} 10.9.5.5:6379`], ["10.9.0.1", "10.9.0.3", "10.9.1.1", "10.9.5.5"]);
      // ... but another guest given the address takes it
      under.feed.doc("hvB", guests([{ uuid: G2, name: "g2", mac: "52:54:00:00:00:a2", addresses: ["10.9.5.5"] }]));
      await step("address given to another guest", ["hvC 10.9.1.1:5432", `${G2} 10.9.5.5:6379`], ["10.9.0.1", "10.9.0.3", "10.9.1.1", "10.9.5.5"]);
      // an address held by two hosts stays owned while one of them still has it
      under.feed.doc("hvB", nics(["10.9.0.2", "10.9.1.1"]));
      await step("address on two hosts", ["hvB 10.9.1.1:5432", "hvC 10.9.1.1:5432", `${G2} 10.9.5.5:6379`], ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.1.1", "10.9.5.5"]);
      under.feed.doc("hvC", nics(["10.9.0.3"]));
      await step("one of the two lets go", ["hvB 10.9.1.1:5432", `${G2} 10.9.5.5:6379`], ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.1.1", "10.9.5.5"]);
      under.feed.doc("hvB", nics(["10.9.0.2"]));
      await step("the last one lets go", [`${G2} 10.9.5.5:6379`], ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.5.5"]);
    });

    it("are right when a fleet arrives in big batches", async () => {
      await under.restartFeed(5000); // statements of more rows than Kuzu's 2,048-row vectors
      const HOSTS = 240, GUESTS = 30;
      const guestIp = (h: number, g: number): string => `100.64.${h}.${g + 10}`;
      for (let h = 0; h < HOSTS; h++) {
        if (h === 160) await under.feed.flush(); // the second batch meets committed nodes too
        const name = `hv${h}`;
        under.feed.host(name, `10.10.${h}.1`, "alive");
        const n = nics([]);
        n.data.interfaces = [
          { name: "eth0", ifindex: 2, mac: "02:00:00:00:00:01", mtu: 1500, state: "up", kind: "physical", master: "br0", speedMbps: 10000, addresses: [] },
          { name: "br0", ifindex: 3, mac: "02:00:00:00:00:01", mtu: 1500, state: "up", kind: "bridge", master: null, speedMbps: null, addresses: [{ family: "IPv4", address: `10.10.${h}.1`, prefixLength: 16 }] },
        ];
        under.feed.doc(name, n);
        under.feed.doc(name, guests(Array.from({ length: GUESTS }, (_, g) => ({
          uuid: `00000000-0000-4000-8000-${String(h).padStart(6, "0")}${String(g).padStart(6, "0")}`, name: `${name}-vm${g}`,
          mac: `52:54:00:00:${(h & 255).toString(16).padStart(2, "0")}:${g.toString(16).padStart(2, "0")}`, addresses: [guestIp(h, g)],
        }))));
        under.feed.doc(name, clientOf([1, 2, 3].map((k) => `${guestIp((h + k * 37) % HOSTS, (h + k) % GUESTS)}:5432`).concat([`10.10.${(h + 1) % HOSTS}.1:22`])));
      }
      await under.feed.flush();
      const facts = { offers: await offers(), owned: await owned() };
      assert.ok(facts.offers.length > HOSTS, `OFFERS were derived (${facts.offers.length})`);
      assert.deepEqual(facts, await truth());
    });

    it("are derived again at start for a graph written before they existed, or left stale by a crash between a batch and its derive", async () => {
      under.feed.host("hvA", "10.9.0.1", "alive");
      under.feed.doc("hvA", nics(["10.9.0.1", "10.9.1.1"]));
      under.feed.doc("hvA", guests([{ uuid: G1, name: "g1", mac: "52:54:00:00:00:a1", addresses: ["10.9.5.5"] }]));
      under.feed.doc("hvB", clientOf(["10.9.1.1:5432", "10.9.5.5:6379", "10.9.7.7:80"]));
      await under.feed.flush();
      const before = { offers: await offers(), owned: await owned() };
      assert.equal(before.offers.length, 2);
      assert.deepEqual(await rows(UNSETTLED_ADDRESSES), [], "every address settled after its derive transaction");
      // as an older version left it: no OFFERS, no owned
      await under.store.write([{ cypher: "MATCH ()-[x:OFFERS]->() DELETE x" }, { cypher: "MATCH (a:IPAddr) SET a.owned = NULL, a.stale = NULL" }]);
      const restarted = async (): Promise<void> => {
        const feed = await under.restartFeed(); // a restarted CMA: its ingestor looks for unsettled addresses
        for (let i = 0; i < 100 && (await rows(UNSETTLED_ADDRESSES)).length > 0; i++) {
          await feed.ingestor.flush();
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await restarted();
      assert.deepEqual({ offers: await offers(), owned: await owned() }, before);
      assert.deepEqual(await rows("MATCH (a:IPAddr) WHERE a.owned = false RETURN a.address AS a"), [{ a: "10.9.7.7" }]);
      // a crash after a batch that linked 10.9.5.5 to a guest, before its derive transaction
      await under.store.write([
        { cypher: "MATCH ()-[x:OFFERS]->(s:Service {key: '10.9.5.5:6379'}) DELETE x" },
        { cypher: "MATCH (a:IPAddr {address: '10.9.5.5'}) SET a.owned = false, a.stale = true" },
      ]);
      await restarted();
      assert.deepEqual({ offers: await offers(), owned: await owned() }, before);
      assert.deepEqual(await rows(UNSETTLED_ADDRESSES), []);
    });
  });
}

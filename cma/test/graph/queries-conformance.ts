/**
 * The named root-cause queries on constructed scenarios, fed like production data (captured
 * discovery documents, edited; membership through the Membership class). Part of the
 * conformance suite: the same query text must give the same answers on every store.
 */
import assert from "node:assert/strict";
import type { GraphStore } from "../../src/graph/graph-store.js";
import { namedQueries } from "../../src/graph/named-queries.js";
import { Feed, captured } from "./graph-fixtures.js";

type Row = Record<string, unknown>;

const sorted = (r: Row): Row => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.isArray(v) ? [...v].sort() : v]));

function lldpTo(switchName: string, chassisId: string, port: string): ReturnType<typeof captured> {
  const d = captured("lldp");
  d.data.neighbours = [{ interface: "eth0", chassisName: switchName, chassisId, portId: port, portDescription: port, mgmtIp: null }];
  return d;
}

function nicsWith(address: string): ReturnType<typeof captured> {
  const d = captured("nics");
  const ifaces = d.data.interfaces as { name: string; addresses: { family: string; address: string; prefixLength: number }[] }[];
  const eth = ifaces.find((i) => i.addresses.some((a) => a.family === "IPv4" && !a.address.startsWith("127.")))!;
  eth.name = "eth0";
  eth.addresses = [{ family: "IPv4", address, prefixLength: 24 }];
  d.data.interfaces = ifaces.filter((i) => i === eth || i.name === "lo");
  return d;
}

export function queriesConformance(makeStore: () => Promise<GraphStore>): void {
  describe("root-cause queries on constructed scenarios", function () {
    this.timeout(180_000);
    let store: GraphStore;
    let feed: Feed;
    const run = async (name: string, params: Record<string, unknown> = {}): Promise<Row[]> => {
      const q = namedQueries[name];
      const p = { ...Object.fromEntries(Object.entries(q.params).map(([k, v]) => [k, v.default])), ...params };
      return (await store.read(q.cypher, p, { maxRows: 10_000 })).rows;
    };

    before(async () => {
      store = await makeStore();
      feed = new Feed(store);
      // segment 1: three hosts behind switch tor-1, none answering
      feed.host("s1a", "10.0.1.11", "dead");
      feed.host("s1b", "10.0.1.12", "dead");
      feed.host("s1c", "10.0.1.13", "unreachable");
      // segment 2 behind tor-2: s2a died, its neighbours live on; s2b was still told to watch s2a (a hole)
      feed.host("s2a", "10.0.2.11", "dead");
      feed.host("s2b", "10.0.2.12", "alive");
      feed.host("s2c", "10.0.2.13", "alive");
      feed.host("s2d", "10.0.2.14", "alive");
      feed.host("s2b", "10.0.2.12", "alive", ["s2a", "s2c"]);
      feed.host("s2c", "10.0.2.13", "alive", ["s2b", "s2d"]);
      feed.host("s2d", "10.0.2.14", "alive", ["s2c", "s2b"]);
      for (const [h, sw, id] of [["s1a", "tor-1", "aa:00:00:00:00:01"], ["s1b", "tor-1", "aa:00:00:00:00:01"], ["s1c", "tor-1", "aa:00:00:00:00:01"],
        ["s2a", "tor-2", "aa:00:00:00:00:02"], ["s2b", "tor-2", "aa:00:00:00:00:02"], ["s2c", "tor-2", "aa:00:00:00:00:02"], ["s2d", "tor-2", "aa:00:00:00:00:02"]]) {
        assert.ok(feed.doc(h, lldpTo(sw, id, `port-${h}`)));
      }
      for (const [h, a] of [["s2a", "10.0.2.11"], ["s2b", "10.0.2.12"], ["s2c", "10.0.2.13"]]) assert.ok(feed.doc(h, nicsWith(a)));
      // s2a ran the 30 test-driver guests; two of them have addresses: a database and an ssh server
      const lv = captured("libvirt-domains");
      const guests = lv.data.domains as { name: string; nics: { addresses?: string[] }[] }[];
      guests.find((g) => g.name === "rw-test01")!.nics[0].addresses = ["10.0.2.101"];
      guests.find((g) => g.name === "rw-test02")!.nics[0].addresses = ["10.0.2.102"];
      assert.ok(feed.doc("s2a", lv));
      // s2b's app (listening on 8080) uses that database and an outside API; its backup job uses ssh
      const app = captured("tcp-services");
      app.data.listeners = [{ ip: "0.0.0.0", port: 8080, pid: 4242, process: "app", cmdline: ["/usr/bin/app"] }];
      app.data.clients = [
        { process: "app", pid: 4242, remoteIp: "10.0.2.101", remotePort: 5432, count: 3 },
        { process: "app", pid: 4242, remoteIp: "203.0.113.50", remotePort: 443, count: 1 },
        { process: "backup", pid: 5000, remoteIp: "10.0.2.102", remotePort: 22, count: 1 },
      ];
      assert.ok(feed.doc("s2b", app));
      const psql = captured("tcp-services");
      psql.data.listeners = [];
      psql.data.clients = [{ process: "psql", pid: 777, remoteIp: "10.0.2.101", remotePort: 5432, count: 1 }];
      assert.ok(feed.doc("s2c", psql));
      // a host nobody monitors sends heartbeats
      feed.membership.record({ type: "unexpectedHeartbeat", reporter: "s2b", from: "mystery", address: "198.51.100.9:1984", at: 1_763_700_000_100 });
      await feed.flush();
      assert.equal(feed.ingestor.counters.refusedDocuments + feed.ingestor.counters.writeFailures, 0);
    });
    after(async () => {
      await feed?.stop();
      await store?.close();
    });

    it("switchVersusHost: three hosts down behind one switch with none alive → switch; one host down with its segment alive → host", async () => {
      const rows = (await run("switchVersusHost")).map(sorted).sort((a, b) => `${a.kind}${a.name}`.localeCompare(`${b.kind}${b.name}`));
      assert.deepEqual(rows, [
        { kind: "segment", name: "10.0.1.0/24", downHosts: ["s1a", "s1b", "s1c"], upHosts: 0, hosts: 3, suspect: "switch" },
        { kind: "segment", name: "10.0.2.0/24", downHosts: ["s2a"], upHosts: 3, hosts: 4, suspect: "host" },
        { kind: "switch", name: "tor-1", downHosts: ["s1a", "s1b", "s1c"], upHosts: 0, hosts: 3, suspect: "switch" },
        { kind: "switch", name: "tor-2", downHosts: ["s2a"], upHosts: 3, hosts: 4, suspect: "host" },
      ]);
    });

    it("deadHostImpact: the dead host's domains, the services on them and who depended on those", async () => {
      const rows = await run("deadHostImpact", { host: "s2a" });
      assert.equal(rows.length, 30, "one row per guest (guests with no known service too)");
      assert.ok(rows.every((r) => r.host === "s2a" && r.hostState === "dead"));
      const withServices = rows.filter((r) => r.service !== null).map(sorted).sort((a, b) => String(a.domain).localeCompare(String(b.domain)));
      assert.deepEqual(withServices, [
        { host: "s2a", hostState: "dead", domain: "rw-test01", uuid: "5e1f0000-0000-4000-8000-000000000001", service: "10.0.2.101:5432", process: null, dependentHosts: ["s2b", "s2c"], dependentServices: ["s2b|0.0.0.0:8080"], dependentGuests: [] },
        { host: "s2a", hostState: "dead", domain: "rw-test02", uuid: "5e1f0000-0000-4000-8000-000000000002", service: "10.0.2.102:22", process: null, dependentHosts: ["s2b"], dependentServices: [], dependentGuests: [] },
      ]);
      // with no host named: every host that is down (only s2a ran guests)
      assert.equal((await run("deadHostImpact")).length, 30);
      assert.deepEqual(await run("deadHostImpact", { host: "s2b" }), [], "a live host has no impact");
    });

    it("servicesWithDownDependencies: the clients of the dead host's guests", async () => {
      const rows = (await run("servicesWithDownDependencies")).sort((a, b) => `${String(a.clientHost)}${String(a.client)}`.localeCompare(`${String(b.clientHost)}${String(b.client)}`));
      assert.deepEqual(rows, [
        { clientHost: "s2b", client: "s2b", process: "backup", dependency: "10.0.2.102:22", why: "guest rw-test02 on host s2a dead", depth: 1, chain: ["s2b", "10.0.2.102:22"] },
        { clientHost: "s2b", client: "s2b|0.0.0.0:8080", process: "app", dependency: "10.0.2.101:5432", why: "guest rw-test01 on host s2a dead", depth: 1, chain: ["s2b|0.0.0.0:8080", "10.0.2.101:5432"] },
        { clientHost: "s2c", client: "s2c", process: "psql", dependency: "10.0.2.101:5432", why: "guest rw-test01 on host s2a dead", depth: 1, chain: ["s2c", "10.0.2.101:5432"] },
      ]);
      assert.equal((await run("servicesWithDownDependencies", { host: "s2c" })).length, 1);
    });

    it("forgottenServers: addresses talked to or heard from that belong to nothing monitored", async () => {
      assert.deepEqual((await run("forgottenServers")).map(sorted), [
        { address: "198.51.100.9", services: [], seenBy: [], unexpectedHeartbeats: 1 },
        { address: "203.0.113.50", services: ["203.0.113.50:443"], seenBy: ["s2b"], unexpectedHeartbeats: 0 },
      ]);
    });

    it("ringHealth: a live host still assigned a dead neighbour (hole) and one watched by a single neighbour", async () => {
      assert.deepEqual((await run("ringHealth")).map(sorted), [
        { host: "s2b", segment: "10.0.2.0/24", ringOrder: 0, watchers: 2, watchingDown: ["s2a"], problem: "hole" },
        { host: "s2d", segment: "10.0.2.0/24", ringOrder: 2, watchers: 1, watchingDown: [], problem: "under-watched" },
      ]);
      assert.deepEqual(await run("ringHealth", { segment: "10.0.1.0/24" }), []);
    });

    it("maintenance and removal: switchVersusHost counts a host in maintenance as neither down nor up, and a removed one not at all; the removed host's history stays", async () => {
      // segment 3 (last: it changes what the other queries see): s3a died, s3b is in maintenance (down), s3c lives, s3d was removed
      feed.host("s3a", "10.0.3.11", "dead");
      feed.host("s3b", "10.0.3.12", "maintenance");
      feed.membership.get("s3b")!.maintenance = { reason: "firmware", until: 1_763_800_000_000, startedAt: 1_763_700_000_000, down: true };
      feed.host("s3c", "10.0.3.13", "alive");
      feed.host("s3d", "10.0.3.14", "alive");
      await feed.flush();
      feed.membership.remove("s3d", false, 1_763_700_500_000);
      await feed.flush();
      const seg3 = (await run("switchVersusHost")).filter((r) => r.name === "10.0.3.0/24").map(sorted);
      assert.deepEqual(seg3, [{ kind: "segment", name: "10.0.3.0/24", downHosts: ["s3a"], upHosts: 1, hosts: 2 + 1, suspect: "host" }]);
      const hosts = (await store.read("MATCH (h:Host) WHERE h.name = 's3b' OR h.name = 's3d' RETURN h.name AS name, h.state AS state, h.address AS address, h.maintenanceReason AS reason, h.maintenanceUntil AS until, h.removedAt AS removedAt ORDER BY name", {}, { maxRows: 10 })).rows;
      assert.deepEqual(hosts, [
        { name: "s3b", state: "maintenance", address: "10.0.3.12", reason: "firmware", until: 1_763_800_000_000, removedAt: null },
        { name: "s3d", state: "removed", address: "10.0.3.14", reason: null, until: null, removedAt: 1_763_700_500_000 },
      ]);
      const watches = (await store.read("MATCH (a:Host)-[:WATCHES]-(b:Host) WHERE a.name = 's3d' RETURN count(*) AS n", {}, { maxRows: 10 })).rows;
      assert.deepEqual(watches, [{ n: 0 }], "a removed host watches nobody and nobody watches it");
    });
  });
}

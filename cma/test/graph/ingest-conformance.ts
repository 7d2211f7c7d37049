/**
 * Ingestion against a store: documents captured from the real discovery scripts, inventory,
 * alerts and membership go through the real CMA stores and the GraphIngestor. Part of the
 * conformance suite: every store must give the same answers.
 */
import assert from "node:assert/strict";
import type { GraphStore } from "../../src/graph/graph-store.js";
import { captured, freshStoreEachTest, snapshot } from "./graph-fixtures.js";

export function ingestConformance(makeStore: () => Promise<GraphStore>): void {
  describe("ingestion", function () {
    this.timeout(180_000);
    const under = freshStoreEachTest(makeStore);
    const { rows } = under;

    const feedAll = (host: string): void => {
      for (const name of ["os", "cpu-memory", "nics", "tcp-services", "libvirt-domains", "lldp"] as const) assert.ok(under.feed.doc(host, captured(name)), name);
    };

    it("ingests every captured discovery document into the schema", async () => {
      under.feed.host("hv1", "192.0.2.2", "alive");
      feedAll("hv1");
      await under.feed.flush();
      assert.equal(under.feed.ingestor.counters.refusedDocuments, 0);
      const [h] = await rows("MATCH (h:Host {name: 'hv1'}) RETURN h.state AS state, h.kernel AS kernel, h.cpus AS cpus, h.memoryKiB AS mem, h.lldpAvailable AS lldp, h.os AS os");
      assert.equal(h.state, "alive");
      assert.ok(typeof h.kernel === "string" && (h.kernel as string).length > 0);
      assert.ok((h.cpus as number) >= 1 && (h.mem as number) > 0);
      assert.equal(h.lldp, true);
      // 30 domains of the libvirt test driver, with their disks and NICs
      const libvirt = captured("libvirt-domains").data.domains as { uuid: string; disks: unknown[]; nics: unknown[] }[];
      const [d] = await rows("MATCH (:Host {name: 'hv1'})-[:RUNS]->(d:Domain) RETURN count(d) AS n");
      assert.equal(d.n, 30);
      const [k] = await rows("MATCH (:Host {name: 'hv1'})-[:RUNS]->(:Domain)-[:HAS_DISK]->(k:Disk) RETURN count(k) AS n");
      assert.equal(k.n, libvirt.reduce((s, x) => s + x.disks.length, 0));
      const [n] = await rows("MATCH (:Host {name: 'hv1'})-[:RUNS]->(:Domain)-[:HAS_NIC]->(n:NIC) RETURN count(n) AS n");
      assert.equal(n.n, libvirt.reduce((s, x) => s + x.nics.length, 0));
      // guests on a bridge are tied to the host's bridge interface
      const bridged = await rows("MATCH (g:NIC)-[:BRIDGED_TO]->(b:NIC)<-[:HAS_NIC]-(h:Host) RETURN DISTINCT h.name AS host, b.name AS bridge ORDER BY bridge");
      assert.deepEqual(bridged, [{ host: "hv1", bridge: "br0" }, { host: "hv1", bridge: "br1" }]);
      // the host's own address, loopback left out
      const addrs = (await rows("MATCH (:Host {name: 'hv1'})-[:HAS_NIC]->(:NIC)-[:HAS_IP]->(a:IPAddr) RETURN a.address AS address ORDER BY address")).map((r) => r.address);
      assert.ok(addrs.includes("192.0.2.2"));
      assert.ok(!addrs.includes("127.0.0.1") && !addrs.some((a) => String(a).startsWith("fe80")));
      // LLDP: both captured switches, on the interfaces they were seen on
      const sw = await rows("MATCH (:Host {name: 'hv1'})-[:HAS_NIC]->(n:NIC)-[l:LINKED_TO]->(s:Switch) RETURN n.name AS nic, s.name AS sw, l.portDescription AS port ORDER BY nic");
      assert.deepEqual(sw, [{ nic: "vlb", sw: "switch-a", port: "uplink to hv01" }, { nic: "vlb2", sw: "tor-b.example.net", port: "vlc" }]);
      // tcp-services: the loopback listener captured with a client connected to it
      const svc = await rows("MATCH (:Host {name: 'hv1'})-[:RUNS_SERVICE]->(s:Service) WHERE s.port = 15987 RETURN s.key AS key, s.process AS process, s.present AS present");
      assert.deepEqual(svc, [{ key: "hv1|127.0.0.1:15987", process: "node", present: true }]);
      const deps = await rows("MATCH (c)-[d:DEPENDS_ON]->(t:Service {key: 'hv1|127.0.0.1:15432'}) RETURN d.clientHost AS client, d.process AS process, d.count AS n");
      assert.deepEqual(deps, [{ client: "hv1", process: "zabbix_server", n: 16 }]);
    });

    it("ingesting the same documents and events twice changes nothing", async () => {
      under.feed.host("hv1", "192.0.2.2", "alive", ["hv2"]);
      under.feed.host("hv2", "192.0.2.3", "alive", ["hv1"]);
      feedAll("hv1");
      under.feed.membership.record({ type: "hostJoined", host: "hv1", segment: "192.0.2.0/24", address: "192.0.2.2", at: 1_763_700_000_001 });
      under.feed.alerts.apply("hv1", { kind: "vcpuAbuse", subject: "5e1f0000-0000-4000-8000-000000000001", subjectName: "rw-test01", active: true, evidenceJson: "{\"vcpu\":0.99}", atMs: 1_763_700_000_002 });
      await under.feed.flush();
      const once = await snapshot(under.store);
      assert.ok(once.length > 100, `graph has ${once.length} entries`);
      feedAll("hv1");
      under.feed.membership.record({ type: "hostJoined", host: "hv1", segment: "192.0.2.0/24", address: "192.0.2.2", at: 1_763_700_000_001 });
      under.feed.alerts.apply("hv1", { kind: "vcpuAbuse", subject: "5e1f0000-0000-4000-8000-000000000001", subjectName: "rw-test01", active: true, evidenceJson: "{\"vcpu\":0.99}", atMs: 1_763_700_000_002 });
      await under.feed.flush();
      assert.deepEqual(await snapshot(under.store), once);
    });

    it("marks domains, devices, services and hosts that disappear instead of deleting them, and revives them on return", async () => {
      under.feed.host("hv1", "192.0.2.2", "alive");
      feedAll("hv1");
      await under.feed.flush();
      const lv = captured("libvirt-domains");
      const domains = lv.data.domains as { uuid: string; name: string; disks: unknown[] }[];
      const [gone] = domains.splice(0, 1); // rw-test01 is undefined on the hypervisor
      domains[0].disks = []; // rw-test02 lost its disks
      under.feed.doc("hv1", lv, 1_763_700_100_000);
      const tcp = captured("tcp-services");
      tcp.data.listeners = (tcp.data.listeners as { port: number }[]).filter((l) => l.port !== 15987);
      tcp.data.clients = (tcp.data.clients as { remotePort: number }[]).filter((c) => c.remotePort !== 15987);
      under.feed.doc("hv1", tcp, 1_763_700_100_000);
      under.feed.host("hv1", "192.0.2.2", "left");
      await under.feed.flush();
      assert.deepEqual(await rows("MATCH (h:Host)-[:RUNS]->(d:Domain {uuid: $u}) RETURN h.name AS host, d.present AS present, d.goneAt AS goneAt", { u: gone.uuid }),
        [{ host: "hv1", present: false, goneAt: 1_763_700_100_000 }]);
      assert.deepEqual(await rows("MATCH (:Host)-[:RUNS]->(d:Domain) WHERE d.present = true RETURN count(d) AS n"), [{ n: 29 }]);
      assert.deepEqual(await rows("MATCH (d:Domain {uuid: $u})-[:HAS_DISK]->(k:Disk) RETURN k.target AS t, k.present AS present ORDER BY t", { u: domains[0].uuid }),
        [{ t: "vda", present: false }, { t: "vdb", present: false }]);
      assert.deepEqual(await rows("MATCH (s:Service {key: 'hv1|127.0.0.1:15987'}) RETURN s.present AS present"), [{ present: false }]);
      assert.deepEqual(await rows("MATCH (h:Host {name: 'hv1'}) RETURN h.state AS state"), [{ state: "left" }]);
      // it comes back
      under.feed.doc("hv1", captured("libvirt-domains"), 1_763_700_200_000);
      await under.feed.flush();
      assert.deepEqual(await rows("MATCH (d:Domain {uuid: $u}) RETURN d.present AS present, d.goneAt AS goneAt", { u: gone.uuid }), [{ present: true, goneAt: null }]);
    });

    it("moves a migrated domain to its new host (one RUNS), from inventory events", async () => {
      under.feed.host("hv1", "192.0.2.2", "alive");
      under.feed.host("hv2", "192.0.2.3", "alive");
      const d = { uuid: "5e1f0000-0000-4000-8000-0000000000aa", name: "mover", state: "running", vcpus: 2, memoryKib: 1024, disks: [{ target: "vda", source: "/img/mover.qcow2" }], nics: [{ target: "tap0", mac: "52:54:00:aa:00:01", bridge: "br0", network: "" }] };
      under.feed.domain("hv1", d);
      await under.feed.flush();
      under.feed.inventory.apply("hv1", { full: false, domains: [], removed: [d.uuid], atMs: 0 });
      under.feed.domain("hv2", d);
      await under.feed.flush();
      assert.deepEqual(await rows("MATCH (h:Host)-[:RUNS]->(d:Domain {uuid: $u}) RETURN h.name AS host, d.present AS present", { u: d.uuid }), [{ host: "hv2", present: true }]);
      assert.deepEqual(await rows("MATCH (d:Domain {uuid: $u})-[:HAS_NIC]->(n:NIC)-[:BRIDGED_TO]->(b:NIC) RETURN n.key AS nic, b.key AS bridge", { u: d.uuid }).then((r) => r.map((x) => x.bridge).sort()),
        ["hv2/br0"]);
    });

    it("links alerts and membership events to what they concern", async () => {
      under.feed.host("hv1", "192.0.2.2", "alive");
      under.feed.doc("hv1", captured("libvirt-domains"));
      under.feed.alerts.apply("hv1", { kind: "memoryLeak", subject: "5e1f0000-0000-4000-8000-000000000002", subjectName: "rw-test02", active: true, evidenceJson: "{}", atMs: 1_763_700_000_500 });
      under.feed.membership.record({ type: "hostDead", host: "hv1", segment: "192.0.2.0/24", reportedBy: ["hv2"], confirmedBy: "probe", at: 1_763_700_000_600 });
      under.feed.membership.record({ type: "unexpectedHeartbeat", reporter: "hv1", from: "stranger", address: "198.51.100.9:1984", at: 1_763_700_000_700 });
      await under.feed.flush();
      assert.deepEqual(await rows("MATCH (a:Alert)-[:CONCERNS]->(d:Domain) RETURN a.kind AS kind, a.active AS active, d.name AS domain"), [{ kind: "memoryLeak", active: true, domain: "rw-test02" }]);
      under.feed.alerts.apply("hv1", { kind: "memoryLeak", subject: "5e1f0000-0000-4000-8000-000000000002", subjectName: "rw-test02", active: false, evidenceJson: "{}", atMs: 1_763_700_000_900 });
      await under.feed.flush();
      assert.deepEqual(await rows("MATCH (a:Alert)-[:CONCERNS]->(h:Host) RETURN a.active AS active, a.raisedAt AS raised, a.clearedAt AS cleared, h.name AS host"),
        [{ active: false, raised: 1_763_700_000_500, cleared: 1_763_700_000_900, host: "hv1" }]);
      assert.deepEqual(await rows("MATCH (e:Event)-[:CONCERNS]->(x:Host) WHERE e.type = 'hostDead' RETURN e.at AS at, x.name AS name"), [{ at: 1_763_700_000_600, name: "hv1" }]);
      assert.deepEqual(await rows("MATCH (e:Event)-[:CONCERNS]->(s:Segment) RETURN e.type AS type, s.name AS segment"), [{ type: "hostDead", segment: "192.0.2.0/24" }]);
      assert.deepEqual(await rows("MATCH (e:Event)-[:CONCERNS]->(a:IPAddr) RETURN e.type AS type, a.address AS address"), [{ type: "unexpectedHeartbeat", address: "198.51.100.9" }]);
    });

    it("refuses malformed documents and skips bad entries, counting both, without losing the good ones", async () => {
      under.feed.host("hv1", "192.0.2.2", "alive");
      const broken = captured("nics");
      broken.data = { interfaces: "not a list" };
      under.feed.doc("hv1", broken);
      const lv = captured("libvirt-domains");
      const ds = lv.data.domains as Record<string, unknown>[];
      ds.push({ uuid: "../../etc/passwd", name: "evil" }, { name: "no uuid" }, 42 as unknown as Record<string, unknown>);
      (ds[0].disks as Record<string, unknown>[]).push({ target: "vd'; DROP", source: "/x" });
      under.feed.doc("hv1", lv);
      const tcp = captured("tcp-services");
      (tcp.data.listeners as unknown[]).push({ ip: "999.1.1.1", port: 80 }, { ip: "10.0.0.1", port: 70000 });
      (tcp.data.clients as unknown[]).push({ remoteIp: "not-an-ip", remotePort: 1, pid: null, process: null, count: 1 });
      under.feed.doc("hv1", tcp);
      const lldp = captured("lldp");
      lldp.data.neighbours = "garbage";
      under.feed.doc("hv1", lldp);
      await under.feed.flush();
      assert.equal(under.feed.ingestor.counters.refusedDocuments, 2);
      assert.equal(under.feed.ingestor.counters.badEntries, 7);
      assert.equal(under.feed.ingestor.counters.writeFailures, 0);
      assert.deepEqual(await rows("MATCH (:Host {name: 'hv1'})-[:RUNS]->(d:Domain) RETURN count(d) AS n"), [{ n: 30 }]);
      assert.deepEqual(await rows("MATCH (s:Service) WHERE s.port = 70000 OR s.ip = '999.1.1.1' RETURN count(s) AS n"), [{ n: 0 }]);
      assert.deepEqual(await rows("MATCH (n:NIC) WHERE n.owner = 'hv1' RETURN count(n) AS n"), [{ n: 2 }]); // only the bridges named by guests
    });
  });
}

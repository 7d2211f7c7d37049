import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addGuestAddresses, type DomainRecord, type LibvirtDomainsData } from "../src/collectors/libvirt-domains.js";
import { AddressProblems } from "../src/guest-addresses/problems.js";
import { TestNamespace } from "./netns.js";
import { FIXTURES, runBin, type ScriptRun, documentData } from "./support.js";

// The test driver's one domain ("test", running) has one NIC with this MAC.
const TEST_MAC = "aa:bb:cc:dd:ee:ff";
const TWO_GUESTS_URI = `test://${join(FIXTURES, "libvirt", "running-and-shutoff.xml")}`;

const dataOf = (r: ScriptRun): LibvirtDomainsData => documentData<LibvirtDomainsData>(r, "libvirt-domains");

const nowSec = (): number => Math.floor(Date.now() / 1000);

describe("discovery-scripts/libvirt-domains", function () {
  this.timeout(20_000);
  let leaseDir: string;
  beforeEach(() => { leaseDir = mkdtempSync(join(tmpdir(), "rw-leasedir-")); });
  afterEach(() => rmSync(leaseDir, { recursive: true, force: true }));

  it("lists the test driver's domain with devices; no lease and no neighbour for its MAC: addresses []", async () => {
    const data = dataOf(await runBin("libvirt-domains", { LIBVIRT_URI: "test:///default", LIBVIRT_LEASE_DIR: leaseDir }));
    assert.equal(data.uri, "test:///default");
    assert.equal(data.domains.length, 1);
    const d = data.domains[0];
    assert.equal(d.name, "test");
    assert.match(d.uuid, /^[0-9a-f-]{36}$/);
    assert.equal(d.state, "running");
    assert.equal(d.vcpus, 2);
    assert.equal(d.memoryKiB, 2097152);
    assert.deepEqual(d.disks.map((x) => [x.target, x.source]), [["vda", "/guest/diskimage1"]]);
    assert.deepEqual(d.nics.map((n) => [n.target, n.mac, n.network]), [["testnet0", TEST_MAC, "default"]]);
    assert.deepEqual(d.nics[0].addresses, []);
    assert.deepEqual(data.networks, [{ name: "default", bridge: "virbr0", forward: "nat", hostLocal: true, addresses: [{ address: "192.168.122.1", prefixLength: 24 }] }]);
    assert.deepEqual(data.addressErrors, []);
  });

  it("exits non-zero with a clear message when libvirt is not reachable", async () => {
    const r = await runBin("libvirt-domains", { LIBVIRT_URI: "qemu+unix:///system?socket=/nonexistent/libvirt-sock" });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^libvirt-domains: cannot connect to libvirt at qemu\+unix:\/\/\/system\?socket=\/nonexistent\/libvirt-sock: /);
  });

  it("gives a NIC the current lease for its MAC; a malformed lease file is named in addressErrors", async () => {
    const now = nowSec();
    writeFileSync(join(leaseDir, "rwtest0.status"), JSON.stringify([
      { "ip-address": "192.0.2.50", "mac-address": TEST_MAC.toUpperCase(), hostname: "test", "expiry-time": now + 3600 },
      { "ip-address": "192.0.2.51", "mac-address": TEST_MAC, hostname: "test", "expiry-time": now - 60 },
      { "ip-address": "192.0.2.52", "mac-address": "52:54:00:00:00:99", hostname: "other", "expiry-time": now + 3600 },
    ], null, 2));
    writeFileSync(join(leaseDir, "rwtest1.status"), '{"ip-address": "192.0.2.53", "mac-address": "aa:bb:cc:dd:ee:ff"');
    const data = dataOf(await runBin("libvirt-domains", { LIBVIRT_URI: "test:///default", LIBVIRT_LEASE_DIR: leaseDir }));
    assert.deepEqual(data.domains[0].nics[0].addresses, [{ address: "192.0.2.50", prefixLength: null, source: "lease" }]);
    assert.deepEqual(data.addressErrors, ["rwtest1.status: not a JSON array"]);
  });

  describe("addGuestAddresses", () => {
    const record = (name: string, active: boolean, macs: (string | undefined)[]): DomainRecord => ({
      uuid: `5e1f0000-0000-4000-8000-0000000000${name.length.toString(16).padStart(2, "0")}`, name, state: active ? "running" : "shutoff",
      active, persistent: true, vcpus: 1, maxVcpus: 1, memoryKiB: 1, maxMemKiB: 1, disks: [],
      nics: macs.map((mac, i) => ({ type: "bridge", bridge: "br0", target: `tap${i}`, ...(mac ? { mac } : {}) })),
    });
    // Sources that report a problem whenever they are read.
    const failing = (): { leaseDir: string; ipCommand: string } => {
      writeFileSync(join(leaseDir, "not-a-dir"), "");
      return { leaseDir: join(leaseDir, "not-a-dir"), ipCommand: "/nonexistent/ip" };
    };

    it("gives no addresses key to a NIC without a MAC and [] to a guest that is not running", async () => {
      const domains = [record("up", true, [undefined, TEST_MAC]), record("down", false, [TEST_MAC])];
      const problems = new AddressProblems();
      await addGuestAddresses(domains, { leaseDir, ipCommand: "ip" }, problems);
      assert.equal("addresses" in domains[0].nics[0], false);
      assert.ok(Array.isArray(domains[0].nics[1].addresses));
      assert.deepEqual(domains[1].nics[0].addresses, []);
    });

    it("reads no source when no running guest has a MAC", async () => {
      const domains = [record("up", true, [undefined]), record("down", false, [TEST_MAC])];
      const problems = new AddressProblems();
      await addGuestAddresses(domains, failing(), problems);
      assert.deepEqual(problems.list(), []);
      assert.deepEqual(domains[1].nics[0].addresses, []);
      // the same sources are read (and complain) as soon as one running guest has a MAC
      await addGuestAddresses([record("up", true, [TEST_MAC])], failing(), problems);
      assert.equal(problems.list()[0], `lease directory ${join(leaseDir, "not-a-dir")}: ENOTDIR`);
      assert.match(problems.list()[1], /^\/nonexistent\/ip not found; read IPv4 neighbours from \/proc\/net\/arp/);
    });
  });

  // The neighbour table for real: a namespace of our own with a veth pair, static neighbour
  // entries on one end, and the script run inside it (ip netns exec), as root.
  describe("neighbour table (network namespace)", function () {
    this.timeout(60_000);
    let ns: TestNamespace | undefined;

    before(async () => {
      ns = await TestNamespace.create();
      await ns.ip("link", "add", "rwa", "type", "veth", "peer", "name", "rwb");
      await ns.ip("link", "set", "rwa", "up");
      await ns.ip("link", "set", "rwb", "up");
      await ns.ip("addr", "add", "192.0.2.1/24", "dev", "rwa");
      await ns.ip("addr", "add", "2001:db8::1/64", "dev", "rwa", "nodad");
      await ns.ip("neigh", "add", "192.0.2.5", "lladdr", TEST_MAC, "dev", "rwa", "nud", "permanent");
      await ns.ip("neigh", "add", "2001:db8::5", "lladdr", TEST_MAC, "dev", "rwa", "nud", "permanent");
      await ns.ip("neigh", "add", "192.0.2.6", "lladdr", "02:00:00:00:00:06", "dev", "rwa", "nud", "permanent");
      await ns.ip("neigh", "add", "192.0.2.8", "lladdr", "52:54:00:00:00:02", "dev", "rwa", "nud", "permanent");
    });
    after(async () => {
      await ns?.destroy();
    });

    const inNs = (env: NodeJS.ProcessEnv): Promise<LibvirtDomainsData> =>
      ns!.runBin("libvirt-domains", { LIBVIRT_URI: "test:///default", LIBVIRT_LEASE_DIR: leaseDir, ...env }).then(dataOf);

    it("the namespace holds the entries the tests rely on", async () => {
      const table = JSON.parse(await ns!.ip("-j", "neigh", "show", "nud", "all")) as { dst: string; lladdr?: string }[];
      // besides ours, the kernel adds NOARP entries for the IPv6 multicast groups it joins (ff02::16)
      assert.deepEqual(table.filter((e) => !e.dst.startsWith("ff")).map((e) => `${e.dst} ${e.lladdr}`).sort(),
        ["192.0.2.5 aa:bb:cc:dd:ee:ff", "192.0.2.6 02:00:00:00:00:06", "192.0.2.8 52:54:00:00:00:02", "2001:db8::5 aa:bb:cc:dd:ee:ff"]);
    });

    it("gives the NIC its IPv4 and IPv6 neighbours with the prefix of the host's subnet; other MACs' entries stay out", async () => {
      const data = await inNs({});
      const addresses = data.domains[0].nics[0].addresses ?? [];
      assert.deepEqual(addresses, [
        { address: "192.0.2.5", prefixLength: 24, source: "neighbour" },
        { address: "2001:db8::5", prefixLength: 64, source: "neighbour" },
      ]);
      assert.ok(!addresses.some((a) => a.address === "192.0.2.6" || a.address === "192.0.2.8"));
      assert.deepEqual(data.addressErrors, []);
    });

    it("without ip, reads IPv4 neighbours from /proc/net/arp and says IPv6 is missing", async () => {
      const data = await inNs({ IP_COMMAND: "/nonexistent/ip" });
      assert.deepEqual(data.domains[0].nics[0].addresses, [{ address: "192.0.2.5", prefixLength: 24, source: "neighbour" }]);
      assert.deepEqual(data.addressErrors, ["/nonexistent/ip not found; read IPv4 neighbours from /proc/net/arp (no IPv6)"]);
    });

    it("prefers the lease where both sources know an address; a lease on the host's bridge gets its prefix", async () => {
      writeFileSync(join(leaseDir, "rwa.status"), JSON.stringify([
        { "ip-address": "192.0.2.5", "mac-address": TEST_MAC, "expiry-time": nowSec() + 3600 },
        { "ip-address": "192.0.2.77", "mac-address": TEST_MAC, "expiry-time": nowSec() + 3600 },
      ]));
      const data = await inNs({});
      assert.deepEqual(data.domains[0].nics[0].addresses, [
        { address: "192.0.2.5", prefixLength: 24, source: "lease" },
        { address: "192.0.2.77", prefixLength: 24, source: "lease" },
        { address: "2001:db8::5", prefixLength: 64, source: "neighbour" },
      ]);
      assert.deepEqual(data.addressErrors, []);
    });

    it("gives a shut-off guest no addresses even when its MAC is in the neighbour table", async () => {
      const data = await inNs({ LIBVIRT_URI: TWO_GUESTS_URI });
      assert.deepEqual(data.domains.map((d) => [d.name, d.state, d.nics[0].mac, d.nics[0].addresses]), [
        ["guest-running", "running", TEST_MAC, [
          { address: "192.0.2.5", prefixLength: 24, source: "neighbour" },
          { address: "2001:db8::5", prefixLength: 64, source: "neighbour" },
        ]],
        ["guest-shutoff", "shutoff", "52:54:00:00:00:02", []],
      ]);
    });
  });
});

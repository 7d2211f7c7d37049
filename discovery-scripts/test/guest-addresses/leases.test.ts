import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_LEASE_FILE_BYTES, parseLeaseStatus, readLeaseSightings } from "../../src/guest-addresses/leases.js";
import { AddressProblems } from "../../src/guest-addresses/problems.js";
import type { AddressSighting } from "../../src/guest-addresses/sighting.js";

const NOW = 1_800_000_000;
const brief = (s: AddressSighting[]): string[] => s.map((x) => `${x.mac} ${x.ip.text} ${x.dev ?? "-"} ${x.source}`);

// The shape libvirt's lease helper writes (IPv4 lease, DHCPv6 lease with iaid/client-id).
const GOOD = JSON.stringify([
  { "ip-address": "192.168.122.45", "mac-address": "52:54:00:12:34:56", hostname: "web1", "client-id": "01:52:54:00:12:34:56", "expiry-time": NOW + 3600 },
  { "ip-address": "2001:db8:ca2:2::1f4", "mac-address": "52:54:00:12:34:56", iaid: "1193046", "server-duid": "00:01:00:01:2c:3b:5e:6f:52:54:00:aa:bb:cc", "expiry-time": NOW + 3600 },
], null, 2);

describe("discovery-scripts/guest-addresses/leases", () => {
  describe("parseLeaseStatus", () => {
    it("reads IPv4 and IPv6 leases, the bridge from the file name", () => {
      const problems = new AddressProblems();
      assert.deepEqual(brief(parseLeaseStatus(GOOD, "virbr0.status", NOW, problems)), [
        "52:54:00:12:34:56 192.168.122.45 virbr0 lease",
        "52:54:00:12:34:56 2001:db8:ca2:2::1f4 virbr0 lease",
      ]);
      assert.deepEqual(problems.list(), []);
    });

    it("normalises MAC and address text, leaves out expired leases and DUID-only leases silently", () => {
      const problems = new AddressProblems();
      const text = JSON.stringify([
        { "ip-address": "2001:DB8:0:0::5", "mac-address": "AA:BB:CC:DD:EE:FF", "expiry-time": NOW + 1 },
        { "ip-address": "192.0.2.6", "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": NOW - 1 },      // expired
        { "ip-address": "192.0.2.7", "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": NOW },          // expires now: still valid
        { "ip-address": "192.0.2.8", "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": 0 },            // infinite
        { "ip-address": "192.0.2.9", "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": String(NOW + 60) },
        { "ip-address": "2001:db8::77", iaid: "5", "client-id": "00:04:aa", "expiry-time": NOW + 60 },   // no MAC
      ]);
      assert.deepEqual(brief(parseLeaseStatus(text, "br-lab.status", NOW, problems)), [
        "aa:bb:cc:dd:ee:ff 2001:db8::5 br-lab lease",
        "aa:bb:cc:dd:ee:ff 192.0.2.7 br-lab lease",
        "aa:bb:cc:dd:ee:ff 192.0.2.8 br-lab lease",
        "aa:bb:cc:dd:ee:ff 192.0.2.9 br-lab lease",
      ]);
      assert.deepEqual(problems.list(), []);
    });

    it("skips and reports each bad entry, keeping the good ones", () => {
      const problems = new AddressProblems();
      const good = '{"ip-address": "192.0.2.5", "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": 1900000000}';
      const text = `[
        {"ip-address": "192.0.2.300", "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": 1900000000},
        {"ip-address": 3221225989, "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": 1900000000},
        {"mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": 1900000000},
        {"ip-address": "192.0.2.10", "mac-address": "aa:bb:cc:dd:ee", "expiry-time": 1900000000},
        {"ip-address": "192.0.2.11", "mac-address": null, "expiry-time": 1900000000},
        {"ip-address": "192.0.2.12", "mac-address": "aa:bb:cc:dd:ee:ff"},
        {"ip-address": "192.0.2.13", "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": -5},
        {"ip-address": "192.0.2.14", "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": 1.5},
        ["not", "an", "object"],
        {"ip-address": "192.0.2.15", oops},
        ${good}
      ]`;
      assert.deepEqual(brief(parseLeaseStatus(text, "virbr1.status", NOW, problems)), ["aa:bb:cc:dd:ee:ff 192.0.2.5 virbr1 lease"]);
      assert.deepEqual(problems.list(), [
        'virbr1.status: lease 0: bad ip-address "192.0.2.300"',
        "virbr1.status: lease 1: bad ip-address 3221225989",
        "virbr1.status: lease 2: bad ip-address nothing",
        'virbr1.status: lease 3: bad mac-address "aa:bb:cc:dd:ee"',
        "virbr1.status: lease 4: bad mac-address null",
        "virbr1.status: lease 5: bad expiry-time nothing",
        "virbr1.status: lease 6: bad expiry-time -5",
        "virbr1.status: lease 7: bad expiry-time 1.5",
        "virbr1.status: lease 8: not an object",
        "virbr1.status: lease 9: not valid JSON",
      ]);
    });

    it("reports a file that is not a JSON array, and cut values briefly", () => {
      const problems = new AddressProblems();
      assert.deepEqual(parseLeaseStatus('{"ip-address": "192.0.2.5"}', "virbr2.status", NOW, problems), []);
      assert.deepEqual(parseLeaseStatus("this is not json", "virbr3.status", NOW, problems), []);
      assert.deepEqual(parseLeaseStatus("", "virbr4.status", NOW, problems), []);  // a network with no lease yet
      parseLeaseStatus(JSON.stringify([{ "ip-address": "x".repeat(1000), "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": 0 }]), "virbr5.status", NOW, problems);
      assert.deepEqual(problems.list(), [
        "virbr2.status: not a JSON array",
        "virbr3.status: not a JSON array",
        `virbr5.status: lease 0: bad ip-address "${"x".repeat(44)}...`,
      ]);
    });
  });

  describe("readLeaseSightings", () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "rw-leases-")); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("reads every *.status file in name order and nothing else", async () => {
      writeFileSync(join(dir, "virbr1.status"), JSON.stringify([{ "ip-address": "192.0.2.21", "mac-address": "aa:bb:cc:dd:ee:01", "expiry-time": NOW + 5 }]));
      writeFileSync(join(dir, "virbr0.status"), GOOD);
      writeFileSync(join(dir, "virbr0.macs"), '[{"domain": "x", "macs": ["aa:bb:cc:dd:ee:02"]}]');
      writeFileSync(join(dir, "default.conf"), "strict-order\n");
      writeFileSync(join(dir, ".status"), "garbage");
      const problems = new AddressProblems();
      assert.deepEqual(brief(await readLeaseSightings(dir, NOW, problems)), [
        "52:54:00:12:34:56 192.168.122.45 virbr0 lease",
        "52:54:00:12:34:56 2001:db8:ca2:2::1f4 virbr0 lease",
        "aa:bb:cc:dd:ee:01 192.0.2.21 virbr1 lease",
      ]);
      assert.deepEqual(problems.list(), []);
    });

    it("takes a missing directory as no leases, and reports one that cannot be listed", async () => {
      const problems = new AddressProblems();
      assert.deepEqual(await readLeaseSightings(join(dir, "absent"), NOW, problems), []);
      assert.deepEqual(problems.list(), []);
      writeFileSync(join(dir, "file"), "");
      assert.deepEqual(await readLeaseSightings(join(dir, "file"), NOW, problems), []);
      assert.deepEqual(problems.list(), [`lease directory ${join(dir, "file")}: ENOTDIR`]);
    });

    it("reports a status file that cannot be read and goes on with the next", async () => {
      mkdirSync(join(dir, "a.status"));
      writeFileSync(join(dir, "b.status"), GOOD);
      const problems = new AddressProblems();
      assert.equal((await readLeaseSightings(dir, NOW, problems)).length, 2);
      assert.deepEqual(problems.list(), ["a.status: cannot read: EISDIR"]);
    });

    it("reads at most MAX_LEASE_FILE_BYTES of a file and uses the leases read in full", async () => {
      const lease = (i: number): string => JSON.stringify({ "ip-address": `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, "mac-address": "aa:bb:cc:dd:ee:ff", "expiry-time": NOW + 60 });
      const perLease = lease(0).length + 1;
      const count = Math.ceil(MAX_LEASE_FILE_BYTES / perLease) + 1000;
      writeFileSync(join(dir, "big.status"), `[${Array.from({ length: count }, (_, i) => lease(i)).join(",")}]`);
      const problems = new AddressProblems();
      const got = await readLeaseSightings(dir, NOW, problems);
      assert.ok(got.length > 0 && got.length < count, `${got.length} of ${count}`);
      assert.equal(got[got.length - 1].ip.text, `10.${((got.length - 1) >> 16) & 255}.${((got.length - 1) >> 8) & 255}.${(got.length - 1) & 255}`);
      assert.deepEqual(problems.list(), [`big.status: larger than ${MAX_LEASE_FILE_BYTES} bytes; used the ${got.length} leases read in full`]);
    });
  });
});

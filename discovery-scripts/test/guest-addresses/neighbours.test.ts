import assert from "node:assert/strict";
import { MAX_NEIGHBOUR_BYTES, PROC_NET_ARP, parseIpNeighJson, parseProcNetArp, readNeighbourSightings } from "../../src/guest-addresses/neighbours.js";
import { AddressProblems } from "../../src/guest-addresses/problems.js";
import type { AddressSighting } from "../../src/guest-addresses/sighting.js";

const brief = (s: AddressSighting[]): string[] => s.map((x) => `${x.mac} ${x.ip.text} ${x.dev ?? "-"} ${x.source}`);

// `ip -j neigh show nud all` (iproute2 6.1) on this machine and in a test namespace: NOARP
// multicast and loopback entries, a FAILED entry without lladdr, static PERMANENT entries.
const IP_J = '[{"dst":"0.0.0.0","dev":"lo","lladdr":"00:00:00:00:00:00","state":["NOARP"]},' +
  '{"dst":"224.0.0.22","dev":"eth0","lladdr":"01:00:5e:00:00:16","state":["NOARP"]},' +
  '{"dst":"192.0.2.1","dev":"eth0","lladdr":"02:fc:00:00:00:05","state":["STALE"]},' +
  '{"dst":"ff02::1:ff00:1","dev":"eth0","lladdr":"33:33:ff:00:00:01","state":["NOARP"]},' +
  '{"dst":"fd00::1","dev":"eth0","state":["FAILED"]},' +
  '{"dst":"::1","dev":"lo","lladdr":"00:00:00:00:00:00","state":["NOARP"]},' +
  '{"dst":"192.0.2.5","dev":"rwa","lladdr":"aa:bb:cc:dd:ee:ff","state":["PERMANENT"]},' +
  '{"dst":"2001:db8::5","dev":"rwa","lladdr":"aa:bb:cc:dd:ee:ff","state":["PERMANENT"]}]\n';

// /proc/net/arp with a complete (0x2), a permanent (0x6) and an incomplete (0x0) entry.
const ARP = `IP address       HW type     Flags       HW address            Mask     Device
192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0
192.0.2.5        0x1         0x6         AA:BB:CC:DD:EE:FF     *        rwa
192.0.2.9        0x1         0x0         00:00:00:00:00:00     *        eth0
`;

describe("discovery-scripts/guest-addresses/neighbours", () => {
  describe("parseIpNeighJson", () => {
    it("takes entries with an Ethernet MAC in a usable state", () => {
      const problems = new AddressProblems();
      const r = parseIpNeighJson(IP_J, problems);
      assert.equal(r.isArray, true);
      assert.deepEqual(brief(r.sightings), [
        "00:00:00:00:00:00 0.0.0.0 lo neighbour",  // host-scoped: dropped later, by address
        "01:00:5e:00:00:16 224.0.0.22 eth0 neighbour",
        "02:fc:00:00:00:05 192.0.2.1 eth0 neighbour",
        "33:33:ff:00:00:01 ff02::1:ff00:1 eth0 neighbour",
        "00:00:00:00:00:00 ::1 lo neighbour",
        "aa:bb:cc:dd:ee:ff 192.0.2.5 rwa neighbour",
        "aa:bb:cc:dd:ee:ff 2001:db8::5 rwa neighbour",
      ]);
      assert.deepEqual(problems.list(), []);
    });

    it("uses REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP and nothing else", () => {
      const entry = (i: number, state: unknown, lladdr: unknown = "aa:bb:cc:dd:ee:ff"): object => ({ dst: `192.0.2.${i}`, dev: "br0", lladdr, state });
      const text = JSON.stringify([
        entry(1, ["REACHABLE"]), entry(2, ["STALE"]), entry(3, ["DELAY"]), entry(4, ["PROBE"]), entry(5, ["PERMANENT"]), entry(6, ["NOARP"]),
        entry(7, ["FAILED"]), entry(8, ["INCOMPLETE"]), entry(9, ["NONE"]), entry(10, []), entry(11, undefined), entry(12, "REACHABLE"),
        entry(13, ["STALE", "FAILED"]),                  // a contradiction is not trusted
        { dst: "192.0.2.14", dev: "br0", state: ["STALE"] },  // no lladdr
        entry(15, ["STALE"], "80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de"),  // InfiniBand
        entry(16, ["PERMANENT"], "10.0.0.1"),            // GRE tunnel
        entry(17, ["REACHABLE"], "AA:BB:CC:DD:EE:FF"),
      ]);
      const problems = new AddressProblems();
      assert.deepEqual(parseIpNeighJson(text, problems).sightings.map((s) => s.ip.text),
        ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.17"]);
      assert.deepEqual(problems.list(), []);
    });

    it("skips and reports entries that are not objects or have no address", () => {
      const problems = new AddressProblems();
      const text = '[{"dst":"192.0.2.300","dev":"br0","lladdr":"aa:bb:cc:dd:ee:ff","state":["STALE"]},' +
        '{"dev":"br0","lladdr":"aa:bb:cc:dd:ee:ff","state":["STALE"]},"text",{oops},' +
        '{"dst":"192.0.2.7","dev":7,"lladdr":"aa:bb:cc:dd:ee:ff","state":["STALE"]}]';
      assert.deepEqual(brief(parseIpNeighJson(text, problems).sightings), ["aa:bb:cc:dd:ee:ff 192.0.2.7 - neighbour"]);
      assert.deepEqual(problems.list(), [
        'ip neigh: entry 0: bad dst "192.0.2.300"',
        "ip neigh: entry 1: bad dst nothing",
        "ip neigh: entry 2: not an object",
        "ip neigh: entry 3: not valid JSON",
      ]);
    });

    it("says when the output is not a JSON array at all", () => {
      const problems = new AddressProblems();
      assert.deepEqual(parseIpNeighJson("192.0.2.1 dev eth0 lladdr 02:fc:00:00:00:05 STALE\n", problems), { sightings: [], isArray: false });
      assert.deepEqual(parseIpNeighJson('{"dst":"192.0.2.1"}', problems), { sightings: [], isArray: false });
      assert.deepEqual(problems.list(), [
        'ip neigh: output is not a JSON array (starts "192.0.2.1 dev eth0 lladdr 02:fc:00:00:00")',
        'ip neigh: output is not a JSON array (starts "{\\"dst\\":\\"192.0.2.1\\"}")',
      ]);
      assert.deepEqual(parseIpNeighJson("", problems), { sightings: [], isArray: true });  // empty table, older ip
    });

    it("uses the first max entries and the entries of cut output, and says so", () => {
      const problems = new AddressProblems();
      assert.equal(parseIpNeighJson(IP_J, problems, false, 3).sightings.length, 3);
      const cut = IP_J.slice(0, IP_J.indexOf("2001:db8::5"));
      assert.equal(parseIpNeighJson(cut, problems, true).sightings.length, 6);
      assert.equal(parseIpNeighJson(cut, problems, false).sightings.length, 6);
      assert.deepEqual(problems.list(), [
        "ip neigh: more than 3 entries; used the first 3",
        `ip neigh: output larger than ${MAX_NEIGHBOUR_BYTES} bytes; used the 7 entries read in full`,
        "ip neigh: ends inside the array after 7 complete elements",
      ]);
    });
  });

  describe("parseProcNetArp", () => {
    it("takes complete entries (IPv4 only)", () => {
      const problems = new AddressProblems();
      assert.deepEqual(brief(parseProcNetArp(ARP, problems)), ["02:fc:00:00:00:05 192.0.2.1 eth0 neighbour", "aa:bb:cc:dd:ee:ff 192.0.2.5 rwa neighbour"]);
      assert.deepEqual(problems.list(), []);
    });

    it("skips and reports malformed lines, keeping the good ones", () => {
      const problems = new AddressProblems();
      const text = `${ARP}192.0.2.300      0x1         0x2         aa:bb:cc:dd:ee:01     *        eth0
2001:db8::1      0x1         0x2         aa:bb:cc:dd:ee:02     *        eth0
192.0.2.31       0x1         2           aa:bb:cc:dd:ee:03     *        eth0
192.0.2.32       0x1         0x2         aa:bb:cc:dd:ee:04     *
192.0.2.33       0x1         0x2         not-a-mac             *        eth0
192.0.2.34       0x1         0x2         aa:bb:cc:dd:ee:06     *        eth1
`;
      assert.deepEqual(brief(parseProcNetArp(text, problems)), [
        "02:fc:00:00:00:05 192.0.2.1 eth0 neighbour", "aa:bb:cc:dd:ee:ff 192.0.2.5 rwa neighbour", "aa:bb:cc:dd:ee:06 192.0.2.34 eth1 neighbour",
      ]);
      assert.deepEqual(problems.list(), [
        `${PROC_NET_ARP}: line 5: bad IP address "192.0.2.300"`,
        `${PROC_NET_ARP}: line 6: bad IP address "2001:db8::1"`,
        `${PROC_NET_ARP}: line 7: bad flags "2"`,
        `${PROC_NET_ARP}: line 8: expected 6 fields, got 5`,
      ]);
    });

    it("refuses text with an unknown header, caps entries, drops a cut last line", () => {
      const problems = new AddressProblems();
      assert.deepEqual(parseProcNetArp("garbage\n192.0.2.1 0x1 0x2 02:fc:00:00:00:05 * eth0\n", problems), []);
      assert.deepEqual(parseProcNetArp("", problems), []);
      assert.equal(parseProcNetArp(ARP, problems, false, 1).length, 1);
      assert.deepEqual(brief(parseProcNetArp(ARP.slice(0, ARP.indexOf("AA:BB")), problems, true)), ["02:fc:00:00:00:05 192.0.2.1 eth0 neighbour"]);
      assert.deepEqual(problems.list(), [
        `${PROC_NET_ARP}: unexpected header "garbage"`,
        `${PROC_NET_ARP}: unexpected header ""`,
        `${PROC_NET_ARP}: more than 1 entries; used the first 1`,
        `${PROC_NET_ARP}: larger than ${MAX_NEIGHBOUR_BYTES} bytes; used the entries in the first ${MAX_NEIGHBOUR_BYTES}`,
      ]);
    });
  });

  describe("readNeighbourSightings", function () {
    this.timeout(20_000);

    it("reads the real table with ip, without problems", async () => {
      const problems = new AddressProblems();
      const got = await readNeighbourSightings("ip", problems);
      assert.ok(got.every((s) => s.source === "neighbour"));
      assert.deepEqual(problems.list(), []);
    });

    // Real executables that are not a working `ip -j`: missing, failing, printing plain text.
    for (const [command, why] of [
      ["/nonexistent/ip", "not found"],
      ["/bin/false", "failed: exit code 1"],
      ["/bin/echo", "printed no JSON array"],
    ] as const) {
      it(`falls back to ${PROC_NET_ARP} when ${command} ${why}`, async () => {
        const problems = new AddressProblems();
        const got = await readNeighbourSightings(command, problems);
        assert.ok(got.every((s) => s.source === "neighbour" && s.ip.family === 4));
        const list = problems.list();
        assert.equal(list[list.length - 1], `${command} ${why}; read IPv4 neighbours from ${PROC_NET_ARP} (no IPv6)`);
      });
    }
  });
});

import assert from "node:assert/strict";
import { compareIps, isHostScoped, parseIp, sameSubnet, type ParsedIp } from "../../src/guest-addresses/ip-address.js";

const ip = (s: string): ParsedIp => {
  const p = parseIp(s);
  assert.ok(p, `${s} should parse`);
  return p;
};

describe("discovery-scripts/guest-addresses/ip-address", () => {
  it("keeps IPv4 text and gives its bytes", () => {
    const p = ip("192.0.2.5");
    assert.equal(p.family, 4);
    assert.equal(p.text, "192.0.2.5");
    assert.deepEqual([...p.bytes], [192, 0, 2, 5]);
  });

  it("writes IPv6 in RFC 5952 form", () => {
    assert.equal(ip("2001:DB8:0:0:0:0:0:5").text, "2001:db8::5");
    assert.equal(ip("2001:0db8:0000:0001:0000:0000:0000:0001").text, "2001:db8:0:1::1");
    assert.equal(ip("2001:db8:0:0:1:0:0:1").text, "2001:db8::1:0:0:1");  // tie: the first run
    assert.equal(ip("2001:db8:0:1:1:1:1:1").text, "2001:db8:0:1:1:1:1:1");  // one zero word stays
    assert.equal(ip("::").text, "::");
    assert.equal(ip("::1").text, "::1");
    assert.equal(ip("1::").text, "1::");
    assert.equal(ip("::ffff:192.0.2.1").text, "::ffff:c000:201");
    assert.equal(ip("64:ff9b::192.0.2.1").text, "64:ff9b::c000:201");
  });

  it("agrees with the WHATWG URL serialiser on random addresses", () => {
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let n = 0; n < 2000; n++) {
      // words that are often zero, so zero runs of every length and position occur
      const words = Array.from({ length: 8 }, () => (rnd() % 3 === 0 ? rnd() & 0xffff : 0));
      const full = words.map((w) => w.toString(16).padStart(4, "0")).join(":");
      const expected = new URL(`http://[${full}]/`).hostname.slice(1, -1);
      assert.equal(ip(full).text, expected, full);
      assert.equal(ip(expected).text, expected, expected);
    }
  });

  it("rejects anything that is not a plain address", () => {
    for (const bad of ["", "010.0.0.1", "1.2.3", "1.2.3.256", "1.2.3.4 ", "fe80::1%eth0", "2001:db8::5::1", "1:2:3:4:5:6:7:8:9",
      "gg::1", "1:2:3:4:5:6:7", "::ffff:1.2.3", "x".repeat(100), "192.0.2.1/24"]) {
      assert.equal(parseIp(bad), null, bad);
    }
    for (const bad of [42, null, undefined, {}, ["192.0.2.1"]]) assert.equal(parseIp(bad), null);
  });

  it("knows host-scoped addresses", () => {
    for (const s of ["127.0.0.1", "127.255.0.9", "169.254.1.1", "0.0.0.0", "224.0.0.22", "239.1.2.3", "255.255.255.255",
      "fe80::1", "febf:ffff::1", "ff02::1", "::1", "::", "::ffff:127.0.0.1", "::ffff:169.254.3.3"]) {
      assert.equal(isHostScoped(ip(s)), true, s);
    }
    for (const s of ["10.0.0.1", "192.0.2.5", "169.253.1.1", "2001:db8::5", "fd00::1", "fec0::1", "::2", "::ffff:192.0.2.1"]) {
      assert.equal(isHostScoped(ip(s)), false, s);
    }
  });

  it("sorts IPv4 before IPv6, then by value (not by text)", () => {
    const sorted = ["2001:db8::10", "10.0.0.10", "2001:db8::9", "10.0.0.9", "9.0.0.1"].map(ip).sort(compareIps).map((p) => p.text);
    assert.deepEqual(sorted, ["9.0.0.1", "10.0.0.9", "10.0.0.10", "2001:db8::9", "2001:db8::10"]);
    assert.equal(compareIps(ip("2001:db8::5"), ip("2001:DB8:0::5")), 0);
  });

  it("tests subnet membership at any prefix length", () => {
    assert.equal(sameSubnet(ip("192.0.2.5"), ip("192.0.2.1"), 24), true);
    assert.equal(sameSubnet(ip("192.0.3.5"), ip("192.0.2.1"), 24), false);
    assert.equal(sameSubnet(ip("192.0.3.5"), ip("192.0.2.1"), 23), true);
    assert.equal(sameSubnet(ip("10.1.2.3"), ip("10.200.0.1"), 8), true);
    assert.equal(sameSubnet(ip("10.1.2.3"), ip("10.1.2.3"), 32), true);
    assert.equal(sameSubnet(ip("10.1.2.3"), ip("10.1.2.4"), 32), false);
    assert.equal(sameSubnet(ip("1.2.3.4"), ip("200.0.0.1"), 0), true);
    assert.equal(sameSubnet(ip("2001:db8::5"), ip("2001:db8::1"), 64), true);
    assert.equal(sameSubnet(ip("2001:db8:0:1::5"), ip("2001:db8::1"), 64), false);
    assert.equal(sameSubnet(ip("2001:db8::5"), ip("2001:db8::1"), 125), true);
    assert.equal(sameSubnet(ip("2001:db8::9"), ip("2001:db8::1"), 125), false);
    assert.equal(sameSubnet(ip("192.0.2.5"), ip("::ffff:192.0.2.5"), 24), false);  // families differ
    assert.equal(sameSubnet(ip("192.0.2.5"), ip("192.0.2.1"), 33), false);
    assert.equal(sameSubnet(ip("192.0.2.5"), ip("192.0.2.1"), -1), false);
  });
});

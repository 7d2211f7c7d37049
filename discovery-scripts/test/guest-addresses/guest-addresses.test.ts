import assert from "node:assert/strict";
import type { NetworkInterfaceInfo } from "node:os";
import { GuestAddressBook, MAX_ADDRESSES_PER_NIC, addressSourceConfig, prefixOnHost, type HostInterfaces } from "../../src/guest-addresses/guest-addresses.js";
import { parseIp, type ParsedIp } from "../../src/guest-addresses/ip-address.js";
import { AddressProblems } from "../../src/guest-addresses/problems.js";
import type { AddressSighting, AddressSource } from "../../src/guest-addresses/sighting.js";

const ip = (s: string): ParsedIp => parseIp(s) ?? assert.fail(s);
const seen = (mac: string, address: string, source: AddressSource, dev: string | null = "br0"): AddressSighting => ({ mac, ip: ip(address), dev, source });

function ifaddr(cidr: string): NetworkInterfaceInfo {
  const [address] = cidr.split("/");
  return address.includes(":")
    ? { address, cidr, family: "IPv6", netmask: "", mac: "02:00:00:00:00:01", internal: false, scopeid: 0 }
    : { address, cidr, family: "IPv4", netmask: "", mac: "02:00:00:00:00:01", internal: false };
}
const HOST: HostInterfaces = {
  br0: [ifaddr("192.0.2.1/24"), ifaddr("10.0.0.1/8"), ifaddr("10.1.0.1/16"), ifaddr("2001:db8::1/64"), ifaddr("fe80::1/64")],
  virbr0: [ifaddr("192.168.122.1/24")],
};

describe("discovery-scripts/guest-addresses/guest-addresses", () => {
  it("prefixOnHost: the longest subnet of the host on that interface holding the address", () => {
    assert.equal(prefixOnHost(ip("192.0.2.5"), "br0", HOST), 24);
    assert.equal(prefixOnHost(ip("10.1.2.3"), "br0", HOST), 16);
    assert.equal(prefixOnHost(ip("10.2.2.3"), "br0", HOST), 8);
    assert.equal(prefixOnHost(ip("2001:db8::5"), "br0", HOST), 64);
    assert.equal(prefixOnHost(ip("2001:db9::5"), "br0", HOST), null);
    assert.equal(prefixOnHost(ip("192.0.2.5"), "virbr0", HOST), null);  // not the host's subnet there
    assert.equal(prefixOnHost(ip("192.0.2.5"), "nosuch", HOST), null);
    assert.equal(prefixOnHost(ip("192.0.2.5"), null, HOST), null);
    assert.equal(prefixOnHost(ip("192.0.2.5"), "odd", { odd: [{ ...ifaddr("192.0.2.1/24"), cidr: null }] }), null);
  });

  it("gives a NIC's addresses once each, lease first, host-scoped ones left out, sorted", () => {
    const book = new GuestAddressBook([
      seen("aa:bb:cc:dd:ee:ff", "2001:db8::5", "lease", "br0"),
      seen("aa:bb:cc:dd:ee:ff", "192.0.2.5", "lease", "virbr9"),
      seen("aa:bb:cc:dd:ee:ff", "192.0.2.5", "neighbour", "br0"),   // same address: the lease wins
      seen("aa:bb:cc:dd:ee:ff", "192.0.2.40", "neighbour", "br0"),
      seen("aa:bb:cc:dd:ee:ff", "10.9.9.9", "neighbour", "br0"),
      seen("aa:bb:cc:dd:ee:ff", "fe80::a8bb:ccff:fedd:eeff", "neighbour", "br0"),
      seen("aa:bb:cc:dd:ee:ff", "127.0.0.1", "neighbour", "lo"),
      seen("aa:bb:cc:dd:ee:ff", "169.254.0.9", "neighbour", "br0"),
      seen("02:00:00:00:00:99", "192.0.2.99", "neighbour", "br0"),
    ], HOST);
    const problems = new AddressProblems();
    const expected = [
      { address: "10.9.9.9", prefixLength: 8, source: "neighbour" },
      { address: "192.0.2.5", prefixLength: null, source: "lease" },
      { address: "192.0.2.40", prefixLength: 24, source: "neighbour" },
      { address: "2001:db8::5", prefixLength: 64, source: "lease" },
    ];
    assert.deepEqual(book.addressesOf("aa:bb:cc:dd:ee:ff", problems), expected);
    assert.deepEqual(book.addressesOf("AA:BB:CC:DD:EE:FF", problems), expected);
    assert.deepEqual(book.addressesOf("52:54:00:00:00:01", problems), []);
    assert.deepEqual(book.addressesOf("not a mac", problems), []);
    assert.deepEqual(problems.list(), []);
  });

  it("keeps at most MAX_ADDRESSES_PER_NIC addresses per NIC and says so", () => {
    const many = Array.from({ length: MAX_ADDRESSES_PER_NIC + 6 }, (_, i) => seen("aa:bb:cc:dd:ee:ff", `192.0.2.${200 - i}`, "neighbour"));
    const problems = new AddressProblems();
    const got = new GuestAddressBook(many, HOST).addressesOf("aa:bb:cc:dd:ee:ff", problems);
    assert.equal(got.length, MAX_ADDRESSES_PER_NIC);
    assert.equal(got[0].address, `192.0.2.${200 - MAX_ADDRESSES_PER_NIC - 5}`);  // the lowest kept: sorted before the cap
    assert.deepEqual(problems.list(), [`NIC aa:bb:cc:dd:ee:ff: ${MAX_ADDRESSES_PER_NIC + 6} addresses; kept the first ${MAX_ADDRESSES_PER_NIC}`]);
  });

  it("reads its sources from LIBVIRT_LEASE_DIR and IP_COMMAND", () => {
    assert.deepEqual(addressSourceConfig({}), { leaseDir: "/var/lib/libvirt/dnsmasq", ipCommand: "ip" });
    assert.deepEqual(addressSourceConfig({ LIBVIRT_LEASE_DIR: "/tmp/l", IP_COMMAND: "/usr/sbin/ip" }), { leaseDir: "/tmp/l", ipCommand: "/usr/sbin/ip" });
    assert.deepEqual(addressSourceConfig({ LIBVIRT_LEASE_DIR: "", IP_COMMAND: "" }), { leaseDir: "/var/lib/libvirt/dnsmasq", ipCommand: "ip" });
  });
});

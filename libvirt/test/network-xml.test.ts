import assert from "node:assert/strict";
import { LibvirtConnection } from "../src/connection.js";
import { netmaskPrefix, parseNetworkXml } from "../src/network-xml.js";

describe("libvirt/network-xml", () => {
  it("a NAT network (mode given or <forward/> alone) and an isolated one are host-local; routed, open and bridged ones are not", () => {
    const net = (forward: string, ip = `<ip address="192.168.122.1" netmask="255.255.255.0"/>`) =>
      parseNetworkXml(`<network><name>n</name><bridge name="virbr0" stp="on"/>${forward}${ip}</network>`);
    assert.deepEqual(net(`<forward mode="nat"><nat><port start="1024" end="65535"/></nat></forward>`),
      { name: "n", bridge: "virbr0", forward: "nat", hostLocal: true, addresses: [{ address: "192.168.122.1", prefixLength: 24 }] });
    assert.equal(net("<forward/>").forward, "nat");
    assert.equal(net("<forward/>").hostLocal, true);
    assert.deepEqual([net("").forward, net("").hostLocal], ["none", true]);
    for (const mode of ["route", "open", "bridge"]) assert.deepEqual([net(`<forward mode="${mode}"/>`).forward, net(`<forward mode="${mode}"/>`).hostLocal], [mode, false]);
  });

  it("reads every <ip> with a prefix or a netmask, IPv6 too; a bad mask or address is left out", () => {
    const n = parseNetworkXml(`<network><name>dual</name><forward mode="nat"/>
      <ip address="10.9.0.1" prefix="16"/><ip family="ipv6" address="FD00:1::1" prefix="64"/>
      <ip address="10.8.0.1" netmask="255.0.255.0"/><ip address="not-an-ip" prefix="24"/><ip address="10.7.0.1" prefix="40"/></network>`);
    assert.deepEqual(n.addresses, [{ address: "10.9.0.1", prefixLength: 16 }, { address: "fd00:1::1", prefixLength: 64 }]);
    assert.equal(n.bridge, null);
    assert.deepEqual(["255.255.255.0", "255.255.0.0", "255.255.255.255", "0.0.0.0", "255.0.255.0", "x"].map(netmaskPrefix), [24, 16, 32, 0, null, null]);
    assert.throws(() => parseNetworkXml("<domain><name>x</name></domain>"), /root is <domain>/);
    assert.throws(() => parseNetworkXml("<network><bridge name='b'/></network>"), /no <name>/);
  });

  it("networks() lists the test driver's active default network: NAT on virbr0, 192.168.122.1/24", async () => {
    const conn = await LibvirtConnection.open("test:///default", { readOnly: true });
    try {
      assert.deepEqual(await conn.networks(), [{ name: "default", bridge: "virbr0", forward: "nat", hostLocal: true, addresses: [{ address: "192.168.122.1", prefixLength: 24 }] }]);
    } finally {
      await conn.close();
    }
  });
});

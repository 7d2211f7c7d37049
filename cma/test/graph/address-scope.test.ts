import assert from "node:assert/strict";
import { AddressScopes, documentNetworks } from "../../src/graph/ingest/address-scope.js";

describe("cma/graph/address-scope", () => {
  it("an address in a host's NAT or isolated network is that host's; a routed network's and any other address are global", () => {
    const scopes = new AddressScopes();
    // nothing of hv1 keyed yet: its first networks change no key
    assert.equal(scopes.set("hv1", [{ name: "default", hostLocal: true, subnets: [{ address: "192.168.122.1", prefixLength: 24 }] }]), false);
    scopes.addressRow("hv1", "10.0.0.1", 0); // an address of hv1 keyed
    assert.equal(scopes.set("hv1", [
      { name: "default", hostLocal: true, subnets: [{ address: "192.168.122.1", prefixLength: 24 }] },
      { name: "lab6", hostLocal: true, subnets: [{ address: "fd00:9::1", prefixLength: 64 }] },
      { name: "routed", hostLocal: false, subnets: [{ address: "10.20.0.1", prefixLength: 16 }] },
    ]), true);
    assert.equal(scopes.addressRow("hv1", "192.168.122.10", 0).address, "hv1/default|192.168.122.10");
    assert.equal(scopes.addressRow("hv1", "fd00:9::20", 0).address, "hv1/lab6|fd00:9::20");
    assert.equal(scopes.endpoint("hv1", "fd00:9::20", 443, 0).key, "hv1/lab6|[fd00:9::20]:443");
    assert.equal(scopes.addressRow("hv1", "10.20.3.4", 0).address, "10.20.3.4");
    assert.equal(scopes.addressRow("hv1", "192.168.123.10", 0).address, "192.168.123.10");
    assert.equal(scopes.addressRow("hv2", "192.168.122.10", 0).address, "192.168.122.10", "another host's networks are its own");
    // a NIC plugged into the network scopes its address even outside the stated subnet (a static address)
    assert.equal(scopes.addressRow("hv1", "172.16.0.9", 0, "default").address, "hv1/default|172.16.0.9");
    assert.equal(scopes.addressRow("hv1", "172.16.0.9", 0, "routed").address, "172.16.0.9");
    // the same networks again: no change; one gone: a change
    assert.equal(scopes.set("hv1", [
      { name: "routed", hostLocal: false, subnets: [] },
      { name: "lab6", hostLocal: true, subnets: [{ address: "fd00:9::1", prefixLength: 64 }] },
      { name: "default", hostLocal: true, subnets: [{ address: "192.168.122.1", prefixLength: 24 }] },
    ]), false);
    assert.equal(scopes.set("hv1", [{ name: "default", hostLocal: true, subnets: [{ address: "192.168.122.1", prefixLength: 24 }] }]), true);
    assert.equal(scopes.addressRow("hv1", "fd00:9::20", 0).address, "fd00:9::20");
    assert.equal(scopes.set("hv1", []), true);
    assert.equal(scopes.addressRow("hv1", "192.168.122.10", 0).address, "192.168.122.10");
    // changed and changed back before anything was keyed again: the keys are as they were
    assert.equal(scopes.set("hv1", [{ name: "default", hostLocal: true, subnets: [{ address: "192.168.122.1", prefixLength: 24 }] }]), true);
    assert.equal(scopes.set("hv1", []), false);
  });

  it("reads a document's networks: bad entries are reported and left out; no networks field means not stated", () => {
    const bad: string[] = [];
    const nets = documentNetworks({
      networks: [
        { name: "default", forward: "nat", bridge: "virbr0", hostLocal: true, addresses: [{ address: "192.168.122.1", prefixLength: 24 }, { address: "192.168.122.1", prefixLength: 33 }, { address: "nope", prefixLength: 8 }] },
        { name: "bad name/with slash", hostLocal: true },
        { name: "nolocal" },
        "text",
        { name: "r", forward: "route", hostLocal: false, addresses: "x" },
      ],
    }, (why) => bad.push(why));
    assert.deepEqual(nets, [
      { name: "default", forward: "nat", bridge: "virbr0", hostLocal: true, subnets: [{ address: "192.168.122.1", prefixLength: 24 }] },
      { name: "r", forward: "route", bridge: null, hostLocal: false, subnets: [] },
    ]);
    assert.deepEqual(bad, [
      "bad address on network default", "bad address on network default",
      "network without a valid name and hostLocal", "network without a valid name and hostLocal", "network without a valid name and hostLocal",
    ]);
    assert.equal(documentNetworks({ domains: [] }, () => assert.fail()), null);
  });
});

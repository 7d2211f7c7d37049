import assert from "node:assert/strict";
import { parseDomainXml } from "../src/domain-xml.js";
import { LibvirtConnection } from "../src/connection.js";
import { parseXml } from "../src/xml.js";
import { useTestDriver } from "./fixtures/test-driver-connection.js";

describe("libvirt/domain-xml", () => {
  it("reads ringwatch's tags from the domain's metadata, whatever prefix its namespace has; invalid words skipped, duplicates once", () => {
    const xml = (meta: string) => `<domain type="kvm"><name>t</name><uuid>11111111-2222-3333-4444-555555555555</uuid><metadata>${meta}</metadata><devices/></domain>`;
    assert.deepEqual(parseDomainXml(xml(`<other:tags xmlns:other="urn:someone:else">not ours</other:tags><rw:tags xmlns:rw="urn:ringwatch:tags">web prod, web bad/tag ${"x".repeat(65)}</rw:tags>`)).tags, ["web", "prod"]);
    assert.deepEqual(parseDomainXml(xml(`<ringwatch:tags xmlns:ringwatch="urn:ringwatch:tags">${Array.from({ length: 40 }, (_, i) => `t${i}`).join(" ")}</ringwatch:tags>`)).tags.length, 32);
    assert.deepEqual(parseDomainXml(xml("")).tags, []);
    assert.deepEqual(parseDomainXml(`<domain><name>t</name><devices/></domain>`).tags, []);
  });

  it("parses disks (target, source) and NICs (target, MAC, bridge or network)", () => {
    const d = parseDomainXml(`<?xml version="1.0"?>
      <domain type="kvm"><!-- a comment with <tags> -->
        <name>web &amp; db</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
        <vcpu current="1">4</vcpu>
        <devices>
          <disk type="block" device="disk"><source dev="/dev/vg/web"/><target dev="vda" bus="virtio"/></disk>
          <disk type="network" device="disk"><source protocol="rbd" name="pool/img"/><target dev="vdb" bus="virtio"/></disk>
          <disk type="file" device="cdrom"><target dev="sdc" bus="sata"/></disk>
          <disk type="file" device="disk"><source file="/no/target"/></disk>
          <interface type="network"><mac address="52:54:00:AA:BB:CC"/><source network="default" bridge="virbr0"/><target dev="vnet3"/></interface>
          <interface type="direct"><source dev="eth0" mode="bridge"/><model type="virtio"/></interface>
        </devices>
      </domain>`);
    assert.equal(d.name, "web & db");
    assert.equal(d.maxVcpus, 4);
    assert.deepEqual(d.disks.map((x) => [x.target, x.source, x.device]), [
      ["vda", "/dev/vg/web", "disk"], ["vdb", "pool/img", "disk"], ["sdc", undefined, "cdrom"],
    ]);
    assert.deepEqual(d.nics[0], { target: "vnet3", mac: "52:54:00:aa:bb:cc", type: "network", network: "default", bridge: "virbr0" });
    assert.deepEqual(d.nics[1], { type: "direct", sourceDev: "eth0", model: "virtio" });
  });

  it("rejects malformed XML with an Error", () => {
    assert.throws(() => parseXml("<domain><name>x</domain>"), /unexpected/);
    assert.throws(() => parseXml("<domain>"), /not closed/);
    assert.throws(() => parseDomainXml("<node/>"), /expected <domain>/);
  });

  describe("on the test driver", () => {
    const td = useTestDriver(30);

    it("matches the generator for every domain", async () => {
      const inv = await td.conn.inventory();
      assert.equal(inv.length, 30);
      for (const want of td.fx.domains) {
        const got = inv.find((d) => d.uuid === want.uuid);
        assert.ok(got, want.name);
        assert.equal(got.devices.name, want.name);
        assert.equal(got.devices.maxVcpus, want.vcpus);
        assert.deepEqual(got.devices.disks.map((k) => ({ target: k.target, source: k.source, bus: k.bus })), want.disks);
        assert.deepEqual(
          got.devices.nics.map((n) => ({ target: n.target, mac: n.mac, ...(n.bridge ? { bridge: n.bridge } : { network: n.network }) })),
          want.nics,
        );
      }
      // the generator's shapes really vary
      assert.deepEqual(new Set(td.fx.domains.map((d) => d.disks.length)), new Set([0, 1, 2, 3]));
      assert.deepEqual(new Set(td.fx.domains.map((d) => d.nics.length)), new Set([0, 1, 2]));
    });
  });
});

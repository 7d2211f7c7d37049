import assert from "node:assert/strict";
import { parseDocument } from "@ringwatch/nanoprobe";
import type { LibvirtDomainsData } from "../src/collectors/libvirt-domains.js";
import { runBin } from "./support.js";

describe("discovery-scripts/libvirt-domains", function () {
  this.timeout(20_000);

  it("lists the test driver's domain with devices", async () => {
    const r = await runBin("libvirt-domains", { LIBVIRT_URI: "test:///default" });
    assert.equal(r.code, 0, r.stderr);
    const p = parseDocument(r.stdout);
    assert.ok(p.ok);
    assert.equal(p.document.discovertype, "libvirt-domains");
    const data = p.document.data as unknown as LibvirtDomainsData;
    assert.equal(data.uri, "test:///default");
    assert.equal(data.domains.length, 1);
    const d = data.domains[0];
    assert.equal(d.name, "test");
    assert.match(d.uuid, /^[0-9a-f-]{36}$/);
    assert.equal(d.state, "running");
    assert.equal(d.vcpus, 2);
    assert.equal(d.memoryKiB, 2097152);
    assert.deepEqual(d.disks.map((x) => [x.target, x.source]), [["vda", "/guest/diskimage1"]]);
    assert.deepEqual(d.nics.map((n) => [n.target, n.mac, n.network]), [["testnet0", "aa:bb:cc:dd:ee:ff", "default"]]);
  });

  it("exits non-zero with a clear message when libvirt is not reachable", async () => {
    const r = await runBin("libvirt-domains", { LIBVIRT_URI: "qemu+unix:///system?socket=/nonexistent/libvirt-sock" });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^libvirt-domains: cannot connect to libvirt at qemu\+unix:\/\/\/system\?socket=\/nonexistent\/libvirt-sock: /);
  });
});

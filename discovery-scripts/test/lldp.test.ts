import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "@ringwatch/shared";
import { parseLldpctlJson, type LldpData } from "../src/collectors/lldp.js";
import { FIXTURES, runBin } from "./support.js";

// Fixtures: real `lldpctl -f json` output of lldpd 1.0.16, captured from lldpd instances in
// network namespaces joined by veth pairs (one neighbour; two neighbours on two interfaces,
// one without a system name override and with a single management address; none).
const fixture = (name: string): string => readFileSync(join(FIXTURES, "lldp", name), "utf8");

describe("discovery-scripts/lldp", function () {
  this.timeout(20_000);

  it("parses one neighbour (interface object, mgmt-ip array)", () => {
    assert.deepEqual(parseLldpctlJson(fixture("one-neighbour.json")), [{
      interface: "vla", chassisName: "vm", chassisId: "ea:6a:07:fb:e8:32", portId: "ea:6a:07:fb:e8:32",
      portDescription: "vlb", mgmtIp: "10.77.0.2",
    }]);
  });

  it("parses two neighbours (interface array, mgmt-ip string)", () => {
    assert.deepEqual(parseLldpctlJson(fixture("two-neighbours.json")), [
      { interface: "vlb", chassisName: "switch-a", chassisId: "0a:f8:ac:74:07:25", portId: "0a:f8:ac:74:07:25", portDescription: "uplink to hv01", mgmtIp: "10.77.0.1" },
      { interface: "vlb2", chassisName: "tor-b.example.net", chassisId: "ca:22:b7:06:dd:5f", portId: "ca:22:b7:06:dd:5f", portDescription: "vlc", mgmtIp: "10.78.0.3" },
    ]);
  });

  it("parses no neighbours, an unnamed chassis and an IPv6-only management address", () => {
    assert.deepEqual(parseLldpctlJson(fixture("no-neighbours.json")), []);
    const unnamed = { lldp: { interface: { eth0: { chassis: { id: { type: "mac", value: "00:11:22:33:44:55" }, "mgmt-ip": "2001:db8::5" }, port: { id: { type: "ifname", value: "Gi1/0/7" } } } } } };
    assert.deepEqual(parseLldpctlJson(JSON.stringify(unnamed)), [
      { interface: "eth0", chassisName: null, chassisId: "00:11:22:33:44:55", portId: "Gi1/0/7", portDescription: null, mgmtIp: "2001:db8::5" },
    ]);
    assert.deepEqual(parseLldpctlJson("{}"), []);
    assert.deepEqual(parseLldpctlJson('{"lldp": "odd"}'), []);
  });

  describe("script", () => {
    let dir: string;
    before(() => { dir = mkdtempSync(join(tmpdir(), "rw-lldp-")); });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const fake = (name: string, body: string): string => {
      const p = join(dir, name);
      writeFileSync(p, `#!/bin/sh\n${body}\n`);
      chmodSync(p, 0o755);
      return p;
    };
    const data = async (env: NodeJS.ProcessEnv): Promise<LldpData> => {
      const r = await runBin("lldp", env);
      assert.equal(r.code, 0, r.stderr);
      const p = parseDocument(r.stdout);
      assert.ok(p.ok);
      assert.equal(p.document.discovertype, "lldp");
      return p.document.data as unknown as LldpData;
    };

    it("reports the neighbours lldpctl prints", async () => {
      const d = await data({ LLDPCTL: fake("lldpctl-ok", `cat '${join(FIXTURES, "lldp", "two-neighbours.json")}'`) });
      assert.equal(d.available, true);
      assert.deepEqual(d.neighbours.map((n) => n.chassisName), ["switch-a", "tor-b.example.net"]);
    });

    it("is not available (exit 0) when lldpctl is missing", async () => {
      const d = await data({ LLDPCTL: join(dir, "no-such-lldpctl") });
      assert.deepEqual(d.neighbours, []);
      assert.equal(d.available, false);
      assert.match(d.reason ?? "", /not found/);
    });

    it("is not available (exit 0) when lldpd is not running", async () => {
      // What lldpctl 1.0.16 prints when its socket is missing (exit 1).
      const d = await data({ LLDPCTL: fake("lldpctl-down", "echo '2026-01-01T00:00:00 [WARN/control] unable to connect to socket /run/lldpd.socket: No such file or directory' >&2; exit 1") });
      assert.equal(d.available, false);
      assert.equal(d.reason, "lldpd not reachable: unable to connect to socket /run/lldpd.socket: No such file or directory");
    });
  });
});

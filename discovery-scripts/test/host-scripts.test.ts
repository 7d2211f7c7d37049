import assert from "node:assert/strict";
import { hostname } from "node:os";
import { parseDocument, type DiscoveryDocument } from "@ringwatch/shared";
import { parseOsRelease, type OsData } from "../src/collectors/os.js";
import { parseCpuinfo, parseMeminfo, type CpuMemoryData } from "../src/collectors/cpu-memory.js";
import type { NicsData } from "../src/collectors/nics.js";
import { runBin } from "./support.js";

async function documentOf(name: string): Promise<DiscoveryDocument> {
  const r = await runBin(name);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 1, "one line, one document");
  const p = parseDocument(r.stdout);
  assert.ok(p.ok, r.stdout);
  assert.equal(p.document.discovertype, name);
  assert.equal(p.document.source, name);
  assert.equal(p.document.host, hostname());
  return p.document;
}

describe("discovery-scripts/os, cpu-memory, nics", function () {
  this.timeout(20_000);

  it("parses os-release quoting", () => {
    assert.deepEqual(parseOsRelease('# c\nNAME="Debian GNU/Linux"\nID=debian\nVERSION_ID=\'12\'\nX="a \\"b\\""\nbad line\n'),
      { NAME: "Debian GNU/Linux", ID: "debian", VERSION_ID: "12", X: 'a "b"' });
  });

  it("os: release, kernel, boot time, uptime", async () => {
    const d = (await documentOf("os")).data as unknown as OsData;
    assert.ok(d.name && d.id);
    assert.equal(d.kernelName, "Linux");
    assert.ok(d.kernelRelease.length > 0);
    assert.ok(d.bootTime && Date.parse(d.bootTime) < Date.now());
    assert.ok(d.uptimeSeconds > 0);
  });

  it("parses a two-socket cpuinfo and meminfo", () => {
    const cpu = (phys: number, core: number, n: number): string =>
      `processor\t: ${n}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6230\nphysical id\t: ${phys}\ncore id\t\t: ${core}\nflags\t\t: fpu vmx lm avx2 aes\n`;
    const c = parseCpuinfo([cpu(0, 0, 0), cpu(0, 1, 1), cpu(1, 0, 2), cpu(1, 1, 3)].join("\n"));
    assert.deepEqual(c, {
      model: "Intel(R) Xeon(R) Gold 6230", vendor: "GenuineIntel", count: 4, sockets: 2, cores: 4,
      virtualization: "vmx", hypervisorGuest: false, flags: ["vmx", "lm", "aes", "avx2"], flagCount: 5,
    });
    assert.deepEqual(parseMeminfo("MemTotal:       24684092 kB\nMemFree: 1 kB\nSwapTotal: 0 kB\nHugePages_Total:      16\nHugepagesize:       2048 kB\n"),
      { totalKiB: 24684092, swapTotalKiB: 0, hugePagesTotal: 16, hugePageSizeKiB: 2048 });
  });

  it("cpu-memory: this host's CPUs and memory", async () => {
    const d = (await documentOf("cpu-memory")).data as unknown as CpuMemoryData;
    assert.ok(d.cpu.count >= 1);
    assert.notEqual(d.cpu.model, "unknown");
    assert.ok((d.memory.totalKiB ?? 0) > 0);
  });

  it("nics: loopback and every /sys/class/net interface with MAC, MTU, state", async () => {
    const d = (await documentOf("nics")).data as unknown as NicsData;
    const lo = d.interfaces.find((i) => i.name === "lo");
    assert.ok(lo);
    assert.equal(lo.kind, "loopback");
    assert.equal(lo.mtu, 65536);
    assert.ok(lo.addresses.some((a) => a.family === "IPv4" && a.address === "127.0.0.1" && a.prefixLength === 8));
    for (const i of d.interfaces) {
      assert.ok(i.mtu && i.mtu > 0, i.name);
      assert.ok(i.state, i.name);
    }
  });
});

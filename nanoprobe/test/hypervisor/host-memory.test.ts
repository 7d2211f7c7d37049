import assert from "node:assert/strict";
import { parseMeminfo, readHostMemory } from "../../src/index.js";

describe("nanoprobe/hypervisor/host-memory", () => {
  it("reads this machine's /proc/meminfo", async () => {
    const m = await readHostMemory();
    assert.ok(m.totalKiB > 0 && m.availableKiB > 0 && m.availableKiB <= m.totalKiB, JSON.stringify(m));
  });

  it("parses the two fields and refuses what is missing or absurd, with a clear message", () => {
    assert.deepEqual(parseMeminfo("MemTotal:       24578140 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n"), { totalKiB: 24578140, availableKiB: 20000000 });
    assert.throws(() => parseMeminfo("MemTotal: 100 kB\n"), /no "MemAvailable: <n> kB" line/);
    assert.throws(() => parseMeminfo("MemTotal: 100 kB\nMemAvailable: 200 kB\n"), /not within MemTotal/);
    assert.throws(() => parseMeminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n"), /not within/);
    assert.throws(() => parseMeminfo("garbage"), /MemTotal/);
  });
});

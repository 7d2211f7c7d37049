/**
 * Guest inventory end to end, in one process over real UDP: a real CMA and a nanoprobe reading
 * libvirt's test driver (30 generated domains). The full inventory arrives on registration; a domain
 * destroyed on the hypervisor is a change at the CMA at once; a host cannot report for another.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Endpoint, Keyring, encodeEnvelope, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { Cma, cmaConfig } from "@ringwatch/cma";
import type { InventoryEvent } from "@ringwatch/cma";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { testHostKeys } from "./support/host-keys.js";

describe("system: guest inventory from libvirt to the CMA", function () {
  this.timeout(30_000);
  const keyring = new Keyring("inv", makeClusterKey(randomBytes(32)));
  const keys = newKeyPair("ed25519");

  it("full inventory on registration, changes at once, nothing from strangers", async () => {
    const fx = writeFixture(30);
    const cma = await Cma.start(cmaConfig({ cluster: "inv", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", dataDir: mkdtempSync(join(tmpdir(), "rw-inv-")), httpListen: "off" }), { keyring, commandKey: keys.privateKey, log: silentLogger() });
    const events: InventoryEvent[] = [];
    cma.inventory.on("event", (e) => events.push(e));
    const np = await Nanoprobe.start(nanoprobeConfig({ identity: "hv1", cluster: "inv", cma: `127.0.0.1:${cma.endpoint.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 100, libvirtUri: fx.uri, statusIntervalMs: 0, discoveryDir: "", sampleMs: 100, reportIntervalMs: 1000, analyticsLeakSlopeKiBPerMin: 512 }), { keyring, cmaPublicKey: keys.publicKey, log: silentLogger(), hostKeys: testHostKeys("hv1") });
    try {
      assert.equal(np.hypervisor!.analytics.thresholds.leakSlopeKiBPerMin, 512, "the configured thresholds reach the analytics");
      await waitUntil(() => cma.inventory.domains("hv1").length === 30, 10_000, "30 domains at the CMA");
      const names = cma.inventory.domains("hv1").map((d) => d.name).sort();
      assert.deepEqual(names, fx.domains.map((d) => d.name).sort());
      const sample = fx.domains.find((d) => d.disks.length > 0 && d.nics.length > 0)!;
      const got = cma.inventory.domains("hv1").find((d) => d.name === sample.name)!;
      assert.deepEqual(got.disks.map((d) => `${d.target}=${d.source}`), sample.disks.map((d) => `${d.target}=${d.source}`));
      assert.deepEqual(got.nics.map((n) => n.mac), sample.nics.map((n) => n.mac));
      // a domain destroyed on the hypervisor: the CMA hears of it from the lifecycle event
      const victim = cma.inventory.domains("hv1").find((d) => d.state === "running")!;
      const t0 = Date.now();
      await np.hypervisor!.conn!.action(victim.uuid, "destroy");
      await waitUntil(() => events.some((e) => e.type === "domainChanged" && e.domain.uuid === victim.uuid && e.domain.state === "shutoff"), 5000, "the change at the CMA");
      assert.ok(Date.now() - t0 < 1000, "seen well within one sampling interval");
      // an inventory as hv1 from another endpoint holding the cluster key is dropped: hv1 seals its stream under its own key
      const stranger = await Endpoint.open({ identity: "hv1", keyring, bindAddress: "127.0.0.1" });
      const unsealed0 = cma.endpoint.counters.unsealed;
      stranger.send(cma.endpoint.address(), encodeEnvelope({ inventory: { full: true, domains: [], removed: [], atMs: 0 } })).catch(() => undefined);
      await waitUntil(() => cma.endpoint.counters.unsealed > unsealed0, 2000, "the stranger's inventory refused");
      assert.equal(cma.inventory.domains("hv1").length, 30);
      await stranger.close();

      // stats: one compact batch per report interval (1 s here), decoded at the CMA, whose
      // min/max/avg per series equal those of the (quantized) raw samples the nanoprobe took
      const raw = new Map<string, number[]>();
      np.hypervisor!.sampler!.onSample = (uuid, key, _at, value) => {
        np.hypervisor!.analytics.sample(uuid, key, _at, value);
        const k = `${uuid}/${key}`;
        raw.set(k, [...(raw.get(k) ?? []), value]);
      };
      // what the sampler held when each batch was cut, by the batch's start: compared with that batch
      // at the CMA (clearing when the CMA had it lost the samples taken in between, under load)
      const hv = np.hypervisor! as unknown as { intervalStart: number; sampler: { takeSeries: () => unknown } };
      const taken = new Map<number, Map<string, number[]>>();
      const take = hv.sampler.takeSeries.bind(hv.sampler);
      hv.sampler.takeSeries = () => {
        taken.set(hv.intervalStart, new Map(raw));
        raw.clear();
        return take();
      };
      const hookedAt = Date.now();
      await waitUntil(() => { const b = cma.stats.latest("hv1"); return b !== undefined && b.intervalStart >= hookedAt && taken.has(b.intervalStart); }, 8000, "a batch sampled wholly under the hook");
      const batch = cma.stats.latest("hv1")!;
      assert.ok(batch.series.length > 50, `${batch.series.length} series`);
      const cpu = batch.series.find((s) => s.metric === "cpu")!;
      const samples = taken.get(batch.intervalStart)!.get(`${cpu.domain}/cpu`)!.map((v) => Math.round(v * 1000)); // quantized per-mille
      assert.equal(cpu.data.count, samples.length);
      assert.equal(cpu.data.min, Math.min(...samples));
      assert.equal(cpu.data.max, Math.max(...samples));
      // exact sums by default: the average is the samples' own
      assert.ok(Math.abs(cpu.data.avg - samples.reduce((s, v) => s + v, 0) / samples.length) < 1e-9);
      assert.equal(cma.stats.counters.refused + cma.stats.counters.resendRequests, 0);
    } finally {
      await np.stop(false);
      await cma.stop();
      fx.cleanup();
    }
  });
});

/**
 * The CMA asks for a resend, end to end over real UDP in one process: a real CMA and a nanoprobe
 * reading libvirt's test driver (one batch per second). When the CMA drops the decoding state of
 * the host (it does so when a host leaves or is declared dead), the next delta cannot be decoded:
 * the CMA sends a signed StatsResend, the nanoprobe sends from that batch on, self-contained, and
 * every batch is taken exactly once.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { Cma, cmaConfig } from "@ringwatch/cma";
import type { StatsEvent } from "@ringwatch/cma";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { testHostKeys } from "./support/host-keys.js";

describe("system: the CMA asks a nanoprobe to resend its stats", function () {
  this.timeout(60_000);
  const keyring = new Keyring("resend", makeClusterKey(randomBytes(32)));
  const keys = newKeyPair("ed25519");

  it("a delta the CMA cannot decode is asked for again and arrives once, self-contained", async () => {
    const fx = writeFixture(8);
    const cma = await Cma.start(cmaConfig({ cluster: "resend", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", dataDir: mkdtempSync(join(tmpdir(), "rw-resend-")), httpListen: "off" }), { keyring, commandKey: keys.privateKey, log: silentLogger() });
    const events: StatsEvent[] = [];
    cma.stats.on("event", (e) => events.push(e));
    const np = await Nanoprobe.start(nanoprobeConfig({
      identity: "hv1", cluster: "resend", cma: `127.0.0.1:${cma.endpoint.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 100,
      libvirtUri: fx.uri, statusIntervalMs: 0, discoveryDir: "", sampleMs: 200, reportIntervalMs: 1000,
    }), { keyring, cmaPublicKey: keys.publicKey, log: silentLogger(), hostKeys: testHostKeys("hv1") });
    try {
      await waitUntil(() => events.length >= 2, 15_000, "two batches at the CMA");
      cma.stats.forget("hv1");
      const forgottenAt = events.length;
      await waitUntil(() => cma.stats.counters.resendRequests >= 1 && events.length >= forgottenAt + 3, 15_000, "a resend, then three more batches");
      assert.equal(np.stats.counters.resendRequests, 1, "the nanoprobe obeyed one StatsResend");
      assert.equal(np.counters.commandsRefused, 0);
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), "every batch once, in order");
      assert.equal(new Set(events.map((e) => e.stream)).size, 1);
      assert.equal(cma.stats.counters.refused, 0);
      assert.ok(cma.stats.counters.selfContained >= 2, "the first batch and the resent one");
    } finally {
      await np.stop(false);
      await cma.stop();
      fx.cleanup();
    }
  });
});

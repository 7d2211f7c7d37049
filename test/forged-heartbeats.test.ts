/**
 * Heartbeats are sealed pairwise: a host that stops (frozen) is found dead by its neighbour even
 * while an intruder holding the cluster key sends heartbeats in its name — on the cluster key
 * alone, and sealed under keys of its own. In-process CMA and nanoprobes on real UDP sockets.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Endpoint, Keyring, PairKeys, encodeEnvelope, generateHostKeys, makeClusterKey, publicHalf, silentLogger, newKeyPair } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { Cma, cmaConfig } from "@ringwatch/cma";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { testHostKeys } from "./support/host-keys.js";

describe("system: forged heartbeats cannot keep a dead host alive", function () {
  this.timeout(60_000);
  const keyring = new Keyring("forge", makeClusterKey(randomBytes(32)));
  const command = newKeyPair("ed25519");
  let cma: Cma;
  const nps = new Map<string, Nanoprobe>();
  const intruders: Endpoint[] = [];
  after(async () => {
    for (const i of intruders) await i.close();
    for (const np of nps.values()) await np.stop().catch(() => undefined);
    await cma?.stop();
  });

  it("hv2 frozen while an intruder heartbeats as hv2 to hv1 (cluster key, and sealed under its own keys): hv1 reports it dead, the CMA declares it dead", async () => {
    cma = await Cma.start(cmaConfig({ cluster: "forge", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", historyStore: "none", dataDir: mkdtempSync(join(tmpdir(), "rw-forge-")), httpListen: "off", heartbeatMs: 200, warntimeMs: 600, deadtimeMs: 1500 }), { keyring, commandKey: command.privateKey, log: silentLogger() });
    for (const name of ["hv1", "hv2"]) {
      nps.set(name, await Nanoprobe.start(nanoprobeConfig({ identity: name, cluster: "forge", cma: `127.0.0.1:${cma.endpoint.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 100, heartbeatMs: 200, statusIntervalMs: 0, discoveryDir: "", libvirtUri: "" }), { keyring, cmaPublicKey: command.publicKey, log: silentLogger(), hostKeys: testHostKeys(`forge-${name}`) }));
    }
    const hv1 = nps.get("hv1")!;
    const hv2 = nps.get("hv2")!;
    await waitUntil(() => hv1.status().neighbours !== undefined && JSON.stringify(hv1.status().neighbours).includes("hv2") && hv1.counters.heartbeatsReceived > 5, 10_000, "hv1 hears hv2's sealed heartbeats");
    assert.equal(hv1.counters.unsealedHeartbeats, 0);

    // the intruders: the cluster key only, and keys of its own (it trusts hv1's real keys: it knows them, they are public)
    // one speaks from hv2's own address and port (spoofed: the kernel lets it share them), one from elsewhere
    const plain = await Endpoint.open({ identity: "hv2", keyring, bindAddress: "127.0.0.1", port: hv2.endpoint.address().port, reuseAddr: true });
    const elsewhere = await Endpoint.open({ identity: "hv2", keyring, bindAddress: "127.0.0.7" });
    const own = new PairKeys("forge", "hv2", generateHostKeys());
    own.trust("hv1", publicHalf(testHostKeys("forge-hv1")));
    const sealed = await Endpoint.open({ identity: "hv2", keyring, bindAddress: "127.0.0.8", pairKeys: own });
    sealed.expect(hv1.endpoint.address(), "hv1");
    intruders.push(plain, elsewhere, sealed);
    let counter = 0;
    const forge = setInterval(() => {
      const hb = encodeEnvelope({ heartbeat: { sentAtMs: Date.now(), counter: ++counter } });
      plain.sendDatagram(hv1.endpoint.address(), hb);
      elsewhere.sendDatagram(hv1.endpoint.address(), hb);
      sealed.sendDatagram(hv1.endpoint.address(), hb);
    }, 100);
    try {
      const unknown0 = hv1.endpoint.counters.unknownPeerKey;
      const unexpected0 = hv1.endpoint.counters.unexpectedPeer;
      hv2.pause(); // frozen: no heartbeats, no probe replies
      const t0 = Date.now();
      await waitUntil(() => cma.rings.membership.events(t0).some((e) => e.type === "hostDead" && e.host === "hv2"), 15_000, "hv2 declared dead");
      assert.ok(hv1.counters.unsealedHeartbeats > 5, `the cluster-key heartbeats refused (${hv1.counters.unsealedHeartbeats})`);
      assert.ok(hv1.endpoint.counters.unknownPeerKey - unknown0 > 5, "the intruder's own seal opened nothing");
      assert.ok(hv1.endpoint.counters.unexpectedPeer - unexpected0 > 5, "hv2 heard from an address the CMA did not assign it: dropped before any state");
      assert.equal(cma.rings.membership.events(t0).filter((e) => e.type === "hostDead").map((e) => (e as { host: string }).host).join(), "hv2", "nobody else");
    } finally {
      clearInterval(forge);
    }
  });
});

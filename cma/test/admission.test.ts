import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { CommandVerifier, Endpoint, Keyring, decodeEnvelope, encodeEnvelope, makeClusterKey } from "@ringwatch/shared";
import type { Command, InboundMessage, Logger } from "@ringwatch/shared";
import { pino } from "pino";
import { Admission, validateHello } from "../src/index.js";

const silent = pino({ level: "silent" }) as Logger;
async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("cma: admission and ring assignment", function () {
  this.timeout(20_000);
  const keyring = new Keyring("cma-test", makeClusterKey(randomBytes(32)));
  const keys = generateKeyPairSync("ed25519");

  it("admits announced hosts and sends each a signed assignment of its ring neighbours", async () => {
    const cmaEp = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    const admission = new Admission(cmaEp, keys.privateKey, 1000, silent);
    const hosts = await Promise.all(["hv1", "hv2", "hv3"].map((id) => Endpoint.open({ identity: id, keyring, bindAddress: "127.0.0.1" })));
    const got = new Map<string, Command>();
    try {
      for (const h of hosts) {
        const verifier = new CommandVerifier(keys.publicKey, h.identity);
        h.on("message", (m: InboundMessage) => {
          const env = decodeEnvelope(m.payload);
          if (env.command) got.set(h.identity, verifier.verify(env.command)); // throws if not the CMA's signature
        });
        await h.send(cmaEp.address(), encodeEnvelope({ hello: { host: { name: h.identity, machineId: "m", addresses: [] }, version: "t", startedAtMs: 1 } }));
      }
      await waitFor(() => [...got.values()].every((c) => c.setNeighbours?.neighbours.length === 2) && got.size === 3, 5000, "assignments");
      assert.deepEqual(got.get("hv1")!.setNeighbours!.neighbours.map((n) => n.name).sort(), ["hv2", "hv3"]);
      assert.equal(got.get("hv2")!.setNeighbours!.neighbours.find((n) => n.name === "hv3")!.port, hosts[2].address().port);
      assert.equal(admission.counters.admitted, 3);
      // a bad announcement is refused and counted
      await hosts[0].send(cmaEp.address(), encodeEnvelope({ hello: { host: { name: "../../etc", machineId: "", addresses: [] }, version: "", startedAtMs: 0 } }));
      await hosts[0].send(cmaEp.address(), randomBytes(30));
      await waitFor(() => admission.counters.refusedHellos === 1 && admission.counters.badMessages === 1, 5000, "refusals");
      assert.equal(admission.hosts.size, 3);
    } finally {
      await Promise.all([...hosts, cmaEp].map((e) => e.close()));
    }
  });

  it("validates announcements", () => {
    const ok = { host: { name: "hv-1.dc1", machineId: "abc", addresses: ["10.0.0.1:1984"] }, version: "1", startedAtMs: 1 };
    assert.equal(validateHello(ok), undefined);
    assert.match(validateHello({ ...ok, host: { ...ok.host, name: "" } })!, /bad host name/);
    assert.match(validateHello({ ...ok, host: { ...ok.host, name: "x".repeat(65) } })!, /bad host name/);
    assert.match(validateHello({ ...ok, host: { ...ok.host, addresses: new Array(65).fill("a") } })!, /addresses/);
    assert.match(validateHello(undefined)!, /no host identity/);
  });
});

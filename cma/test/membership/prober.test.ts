import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Endpoint, Keyring, decodeEnvelope, encodeEnvelope, makeClusterKey } from "@ringwatch/shared";
import type { InboundMessage } from "@ringwatch/shared";
import { MAX_PROBES_IN_FLIGHT, Prober } from "../../src/index.js";

describe("cma/membership/prober: probes in flight are bounded", function () {
  this.timeout(30_000);
  const keyring = new Keyring("probe-test", makeClusterKey(randomBytes(32)));

  it(`probing ${MAX_PROBES_IN_FLIGHT + 44} hosts at once: ${MAX_PROBES_IN_FLIGHT} in flight, the rest queue, every live host answers and a dead address does not`, async () => {
    const cma = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    const hosts = await Promise.all(Array.from({ length: MAX_PROBES_IN_FLIGHT + 44 }, (_, i) => Endpoint.open({ identity: `hv${i}`, keyring, bindAddress: "127.0.0.1" })));
    const prober = new Prober(cma, { attempts: 3, intervalMs: 300 });
    let inFlightMax = 0;
    let seen = new Set<number>(); // nonces sent and not yet answered, by what reached the hosts
    cma.on("message", (m: InboundMessage) => {
      const env = decodeEnvelope(m.payload);
      if (env.probeReply) prober.answer(env.probeReply.nonce, m.from);
    });
    for (const h of hosts) {
      h.on("message", (m: InboundMessage) => {
        const env = decodeEnvelope(m.payload);
        if (!env.probe) return;
        seen.add(env.probe.nonce);
        inFlightMax = Math.max(inFlightMax, seen.size);
        // answered a little later, as a busy host would: probes pile up if nothing bounds them
        setTimeout(() => {
          seen.delete(env.probe!.nonce);
          h.sendDatagram(m.from, encodeEnvelope({ probeReply: { nonce: env.probe!.nonce } }));
        }, 50);
      });
    }
    const closed = await Endpoint.open({ identity: "gone", keyring, bindAddress: "127.0.0.1" });
    const gone = closed.address();
    await closed.close();
    try {
      const answers = await Promise.all([...hosts.map((h) => prober.probe(h.address())), prober.probe(gone)]);
      assert.deepEqual(answers.slice(0, -1).filter((a) => !a), [], "every live host answered");
      assert.equal(answers.at(-1), false, "the closed address did not");
      assert.ok(inFlightMax <= MAX_PROBES_IN_FLIGHT, `at most ${MAX_PROBES_IN_FLIGHT} probes unanswered at once (saw ${inFlightMax})`);
      assert.equal(prober.probesQueuedMax, 45, "the 45 past the bound waited their turn");
    } finally {
      seen = new Set();
      await Promise.all([cma, ...hosts].map((e) => e.close()));
    }
  });
});

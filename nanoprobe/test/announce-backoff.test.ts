import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Endpoint, Keyring, decodeEnvelope, encodeEnvelope, makeClusterKey, signCommand, generateHostKeys, newKeyPair } from "@ringwatch/shared";
import type { InboundMessage, Logger } from "@ringwatch/shared";
import { pino } from "pino";
import { Nanoprobe, nanoprobeConfig } from "../src/index.js";

const silent = pino({ level: "silent" }) as Logger;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("nanoprobe: unanswered announcements back off", function () {
  this.timeout(30_000);

  it("announces less and less often while no CMA answers (up to joinBackoffMaxMs), and at the first pace again once one does", async () => {
    const keyring = new Keyring("np-backoff", makeClusterKey(randomBytes(32)));
    const cmaKeys = newKeyPair("ed25519");
    const cma = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.1" });
    const heard: number[] = [];
    cma.on("message", (m: InboundMessage) => {
      if (decodeEnvelope(m.payload).announce) heard.push(Date.now());
    });
    const np = await Nanoprobe.start(
      nanoprobeConfig({ identity: "hv1", cluster: "np-backoff", cma: `127.0.0.1:${cma.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 40, joinBackoffMaxMs: 2000, statusIntervalMs: 0, discoveryDir: "" }),
      { keyring, cmaPublicKey: cmaKeys.publicKey, log: silent, hostKeys: generateHostKeys() },
    );
    try {
      // intervals of 40, 80, 160 … 1280, 2000 ms (each ×0.5–1.5): ~7 in 4 s; every 40 ms it would be ~100
      await sleep(4000);
      const unanswered = heard.length;
      assert.ok(unanswered >= 4 && unanswered <= 20, `${unanswered} announcements in 4 s`);
      assert.equal(np.counters.announcesSent, unanswered);
      // a CMA asks it to announce again: back to the first pace (the request's own delay, then 40, 80 …:
      // three within ~0.2 s). Still backed off, the 2nd and 3rd would each wait ≥ 1 s (2000 × 0.5), so
      // three announcements within 1.5 s tell the two paces apart with room for a loaded machine.
      heard.length = 0;
      const askedAt = Date.now();
      await cma.send(np.endpoint.address(), encodeEnvelope({ command: signCommand(cmaKeys.privateKey, { target: "hv1", reannounce: { maxDelayMs: 10 } }) }));
      for (let waited = 0; heard.length < 3 && waited < 3000; waited += 20) await sleep(20);
      assert.ok(heard.length >= 3, `${heard.length} announcements in the 3 s after the CMA asked`);
      const thirdAfterMs = heard[2]! - askedAt;
      assert.ok(thirdAfterMs < 1500, `the third announcement came ${thirdAfterMs} ms after the CMA asked (still backed off)`);
    } finally {
      await np.stop(false);
      await cma.close();
    }
  });
});

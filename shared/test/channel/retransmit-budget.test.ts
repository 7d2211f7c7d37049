/**
 * Retransmissions on timeout are paced over the whole endpoint (retransmit-budget.ts): when many
 * peers stop acknowledging at once, the endpoint sends at most its budget of retransmits a second,
 * and every message still arrives once the peers answer again.
 */
import assert from "node:assert/strict";
import type { Endpoint } from "../../src/index.js";
import { openEndpoint, sleep, testKeyring, waitFor } from "../helpers.js";

const PEERS = 40;
const DEAF_MS = 1500;

/** A CMA-like endpoint and PEERS hosts; the hosts go deaf, the CMA sends each one message, the hosts hear again. */
async function storm(retransmitsPerSecond: number): Promise<{ retransmits: number; paced: number; delivered: number; elapsedMs: number }> {
  const ring = testKeyring("pacing");
  // a short RTO so that unpaced links retransmit many times within DEAF_MS
  const cma = await openEndpoint("cma", ring, { channel: { retransmitsPerSecond, initialRtoMs: 20, minRtoMs: 20, maxRtoMs: 200 } });
  let deaf = false;
  const hosts: Endpoint[] = [];
  const got = new Set<string>();
  try {
    for (let i = 0; i < PEERS; i++) {
      const h = await openEndpoint(`hv${i}`, ring, { impairment: { incoming: () => deaf } });
      h.on("message", (m) => got.add(`${h.identity}:${m.payload.toString()}`));
      hosts.push(h);
    }
    // streams synced and RTTs sampled while everyone hears
    await Promise.all(hosts.map((h) => cma.send(h.address(), Buffer.from("hello"))));
    const before = { ...cma.counters };
    deaf = true;
    const t0 = performance.now();
    const sends = hosts.map((h) => cma.send(h.address(), Buffer.from("assignment")));
    await sleep(DEAF_MS);
    const elapsedMs = performance.now() - t0;
    const retransmits = cma.counters.retransmits - before.retransmits;
    const paced = cma.counters.retransmitsPaced - before.retransmitsPaced;
    deaf = false;
    await Promise.all(sends);
    await waitFor(() => got.size === 2 * PEERS, 10_000, "every host's assignment");
    return { retransmits, paced, delivered: got.size, elapsedMs };
  } finally {
    await Promise.all([cma.close(), ...hosts.map((h) => h.close())]);
  }
}

describe("channel: retransmits paced over all peers", function () {
  this.timeout(60_000);

  it("at most the budget per second while peers are silent, and every message arrives once they answer", async () => {
    const rate = 20;
    const r = await storm(rate);
    // a burst of one second's worth, then the rate; a link sends all its due frames when granted (one here)
    const bound = rate + (rate * r.elapsedMs) / 1000 + 2;
    assert.ok(r.retransmits <= bound, `retransmits ${r.retransmits} within the budget (${bound.toFixed(0)})`);
    assert.ok(r.retransmits >= rate, `the budget is used, not withheld: ${r.retransmits}`);
    assert.ok(r.paced > 0, "links waited for a token");
    assert.equal(r.delivered, 2 * PEERS);
  });

  it("unpaced (0), the same silence draws many times more retransmits", async () => {
    const r = await storm(0);
    // 40 links, RTO 20 ms doubling to 200 ms: ~10 each in 1.5 s
    assert.ok(r.retransmits > 4 * (20 + (20 * r.elapsedMs) / 1000), `unpaced retransmits ${r.retransmits}`);
    assert.equal(r.paced, 0);
    assert.equal(r.delivered, 2 * PEERS);
  });
});

import assert from "node:assert/strict";
import type { DomainInventory, Endpoint, Envelope } from "@ringwatch/shared";
import { decodeEnvelope } from "@ringwatch/shared";
import { CmaRegistration } from "../../src/outbox/cma-registration.js";
import { InventorySender } from "../../src/outbox/inventory-sender.js";

/** an inventory told apart by its time */
const inv = (full: boolean, atMs: number): DomainInventory => ({ full, domains: [], removed: [], atMs });

describe("nanoprobe/outbox/inventory-sender", () => {
  it("changes go as they come; after a gap (not registered, or a failed send) the next one is the full inventory", async () => {
    const sent: Envelope[] = [];
    let fail = false;
    const endpoint = {
      send: (_to: unknown, payload: Buffer) => {
        sent.push(decodeEnvelope(payload));
        return fail ? Promise.reject(new Error("not acknowledged")) : Promise.resolve();
      },
    } as unknown as Endpoint;
    const cma = new CmaRegistration(endpoint, { lost: () => undefined, stopped: () => false });
    const counters = { inventoriesSent: 0 };
    const sender = new InventorySender(cma, counters, () => inv(true, 100));
    const details = (): string[] => sent.map((e) => (e.inventory!.full ? "full" : `delta ${e.inventory!.atMs}`));

    sender.send(inv(false, 1));
    assert.equal(sent.length, 0, "not registered: nothing goes");
    cma.cma = { address: "127.0.0.1", port: 1984 };
    cma.registered = true;
    sender.send(inv(false, 2));
    sender.send(inv(false, 3));
    assert.deepEqual(details(), ["full", "delta 3"], "the gap made the first one full");
    fail = true;
    sender.send(inv(false, 4));
    await new Promise(setImmediate);
    fail = false;
    sender.send(inv(false, 5));
    assert.deepEqual(details(), ["full", "delta 3", "delta 4", "full"], "a failed send made the next one full");
    assert.equal(counters.inventoriesSent, 4);
  });
});

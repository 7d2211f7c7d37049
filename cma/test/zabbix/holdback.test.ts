import assert from "node:assert/strict";
import { Holdback } from "../../src/zabbix/holdback.js";
import type { ZabbixValue } from "../../src/zabbix/sender/zabbix-value.js";

const v = (host: string, key: string, value: number): ZabbixValue => ({ host, key, value, clock: 1_700_000_000 + value, ns: 0 });

describe("cma/zabbix/holdback", () => {
  let now = 0;
  let out: ZabbixValue[] = [];
  const sink = { push: (vs: readonly ZabbixValue[]) => void out.push(...vs) };
  const make = (maxHeld = 100, maxHoldMs = 10_000) => new Holdback(sink, { maxHeld, maxHoldMs }, () => now);
  beforeEach(() => {
    now = 1000;
    out = [];
  });

  it("holds values for hosts and guests that are not ready, then releases them in order with their clocks", () => {
    const h = make();
    h.push("hv1", undefined, [v("hv1", "a", 1)]);
    h.push("hv1", "g1", [v("hv1", "b", 2)]);
    assert.equal(out.length, 0);
    h.hostReady("hv1", 2000); // created; usable after the server's cache update
    h.flush();
    assert.equal(out.length, 0);
    now = 2000;
    h.push("hv1", undefined, [v("hv1", "a", 3)]); // behind the held one: stays in order
    h.flush();
    assert.deepEqual(out.map((x) => x.value), [1, 3]);
    h.guestReady("hv1", "g1", 2500);
    h.flush();
    assert.equal(out.length, 2, "guest not ready yet");
    now = 2500;
    h.flush();
    assert.deepEqual(out.map((x) => x.value), [1, 3, 2]);
    assert.equal(out[2].clock, 1_700_000_002);
    h.push("hv1", "g1", [v("hv1", "b", 4)]);
    assert.equal(out.length, 4, "ready targets go straight through");
    assert.equal(h.size, 0);
    h.forgetGuest("hv1", "g1");
    assert.equal(h.isReady("hv1", "g1"), false);
  });

  it("never drops: beyond maxHeld, after maxHoldMs, and on drain everything goes to the sink", () => {
    const h = make(3, 5000);
    h.push("a", undefined, [v("a", "k", 1), v("a", "k", 2)]);
    h.push("b", undefined, [v("b", "k", 3), v("b", "k", 4)]); // over the cap: straight through
    assert.deepEqual(out.map((x) => x.value), [3, 4]);
    assert.equal(h.counters.forced, 2);
    now += 5000;
    h.flush(); // waited too long
    assert.deepEqual(out.map((x) => x.value), [3, 4, 1, 2]);
    h.push("c", "g", [v("c", "k", 5)]);
    h.drain();
    assert.deepEqual(out.map((x) => x.value), [3, 4, 1, 2, 5]);
    assert.equal(h.size, 0);
  });

  it("a guest discovered on a host that is not ready yet counts its delay from when the host is", () => {
    const h = make();
    h.guestDiscovered("hv1", "g1", 500); // the discovery value itself waits for the host
    h.push("hv1", "g1", [v("hv1", "b", 1)]);
    now = 5000;
    h.hostReady("hv1", 6000);
    now = 6000;
    h.flush();
    assert.equal(out.length, 0, "the discovery value only leaves now");
    now = 6500;
    h.flush();
    assert.deepEqual(out.map((x) => x.value), [1]);
    h.guestDiscovered("hv1", "g2", 500); // host ready: from now
    assert.equal(h.isReady("hv1", "g2"), false);
    now = 7000;
    assert.equal(h.isReady("hv1", "g2"), true);
  });
});

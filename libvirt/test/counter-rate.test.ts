import assert from "node:assert/strict";
import { counterDelta, counterRate } from "../src/counter-rate.js";

describe("libvirt/counter-rate", () => {
  const base = 1_795_242_741_258_462_000n; // test driver cpu.time scale, far beyond 2^53

  it("is exact for counters above 2^53 (subtracts as BigInt)", () => {
    assert.ok(base > BigInt(Number.MAX_SAFE_INTEGER));
    const curr = base + 1_000_000_123n;
    assert.equal(counterRate(base, curr, 1), 1_000_000_123);
    assert.equal(counterRate(base, curr, 2), 500_000_061.5);
    // The naive number subtraction is off: doubles at 1.8e18 are 256 apart.
    assert.notEqual(Number(curr) - Number(base), 1_000_000_123);
  });

  it("treats a counter that went backwards as a reset, never negative", () => {
    assert.deepEqual(counterDelta(base, 5_000n), { delta: 5_000n, reset: true });
    assert.equal(counterRate(base, 5_000n, 10), 500);
    assert.equal(counterRate(10n, 0n, 1), 0);
  });

  it("gives zero for an unchanged counter and rejects a non-positive interval", () => {
    assert.equal(counterRate(base, base, 1), 0);
    assert.throws(() => counterRate(1n, 2n, 0), RangeError);
    assert.throws(() => counterRate(1n, 2n, -1), RangeError);
    assert.throws(() => counterRate(1n, 2n, Number.NaN), RangeError);
  });
});

// Rates from libvirt's 64-bit counters. Counters such as cpu.time pass 2^53 (the test driver's is
// ~1.8e18), where two JS numbers can no longer be subtracted exactly: subtract as BigInt first.

export interface CounterDelta {
  /** Increase since the previous sample (never negative). */
  delta: bigint;
  /** The counter went backwards (domain restarted, device replugged): delta counts from zero. */
  reset: boolean;
}

export function counterDelta(prev: bigint, curr: bigint): CounterDelta {
  if (curr >= prev) return { delta: curr - prev, reset: false };
  return { delta: curr, reset: true };  // restarted from zero at some point in the interval
}

/**
 * Per-second rate between two samples `elapsedSeconds` apart. A counter that went backwards is
 * treated as reset (rate = curr / elapsed, never negative); use counterDelta() to drop such samples
 * instead.
 */
export function counterRate(prev: bigint, curr: bigint, elapsedSeconds: number): number {
  if (!Number.isFinite(elapsedSeconds) || elapsedSeconds <= 0) {
    throw new RangeError(`elapsedSeconds must be a positive finite number, got ${elapsedSeconds}`);
  }
  // Only the (small) difference is converted to a number, so precision is that of the delta.
  return Number(counterDelta(prev, curr).delta) / elapsedSeconds;
}

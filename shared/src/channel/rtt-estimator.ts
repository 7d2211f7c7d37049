/**
 * Retransmission timeout from measured round trips (RFC 6298): SRTT and RTTVAR smoothed with
 * alpha = 1/8 and beta = 1/4, RTO = SRTT + 4·RTTVAR clamped to [minRto, maxRto]. Callers apply
 * Karn's rule (no samples from retransmitted frames) and exponential backoff per frame.
 */
export class RttEstimator {
  private srtt = 0;
  private rttvar = 0;
  private rto: number;
  samples = 0;

  constructor(
    private readonly minRtoMs: number,
    private readonly maxRtoMs: number,
    initialRtoMs: number,
  ) {
    this.rto = clamp(initialRtoMs, minRtoMs, maxRtoMs);
  }

  sample(rttMs: number): void {
    if (!(rttMs >= 0)) return;
    if (this.samples === 0) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rttMs);
      this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
    }
    this.samples++;
    this.rto = clamp(this.srtt + 4 * this.rttvar, this.minRtoMs, this.maxRtoMs);
  }

  get rtoMs(): number {
    return this.rto;
  }
  get srttMs(): number {
    return this.srtt;
  }

  /** Timeout for a frame already sent `retries` times: doubles each time, capped at maxRto. */
  backedOff(retries: number): number {
    return Math.min(this.maxRtoMs, this.rto * 2 ** Math.min(retries, 16));
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

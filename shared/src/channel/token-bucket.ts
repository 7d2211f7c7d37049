/**
 * A token bucket: `ratePerSecond` tokens a second, in bursts of up to one second's worth. Shared by
 * the challenges (challenge.ts: at most so many a second, whatever arrives) and the retransmit
 * budget (retransmit-budget.ts: a link may spend past what is left, sending its due frames at once).
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt = performance.now();

  constructor(private readonly ratePerSecond: number) {
    this.tokens = ratePerSecond;
  }

  /** Tokens now (below zero after a spend past them, until they accrue again). */
  level(): number {
    const t = performance.now();
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((t - this.refilledAt) * this.ratePerSecond) / 1000);
    this.refilledAt = t;
    return this.tokens;
  }

  /** One token if there is one. */
  take(): boolean {
    if (this.level() < 1) return false;
    this.tokens--;
    return true;
  }

  /** Spent whether or not they were there. */
  spend(n: number): void {
    this.tokens -= n;
  }
}

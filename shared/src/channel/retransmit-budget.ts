/**
 * Retransmissions on timeout, paced for the whole endpoint (RFC 8085 §3.1.3: a UDP sender's
 * retransmissions must not add to the congestion that caused them).
 *
 * Each link backs off on its own, but when a CMA's socket overflows in a join of tens of thousands
 * of hosts, every link times out at once: the acks were late or dropped in that same socket, not
 * the frames. Measured at 30,000 hosts, 311,536 of 312,358 retransmits reached hosts that already
 * had the frame, and each drew another ack into the full socket (BENCHMARKS.md, "Past 10,000
 * hosts"). A token bucket over all links bounds that feedback: a link whose timer fires with no
 * token waits in a FIFO and is called back when one accrues; its frames are still in flight, and
 * an ack that arrives meanwhile cancels the retransmit. Fast retransmits (a hole the peer's acks
 * show) and answers to challenges are not paced: they follow evidence, not a timer.
 */

/** What the budget calls back: a link whose retransmit timer fired while no token was left. */
export interface BudgetWaiter {
  /** run the retransmit now (it spends what it sends) */
  retransmitGranted(): void;
}

/** how often a non-empty queue is drained (a token accrues every 1000/rate ms) */
const DRAIN_INTERVAL_MS = 10;

export class RetransmitBudget {
  private tokens: number;
  private refilledAt = performance.now();
  private readonly waiting = new Set<BudgetWaiter>(); // insertion order: FIFO
  private timer: NodeJS.Timeout | undefined;
  /** links that had to wait for a token (counted once per wait) */
  deferred = 0;

  /** ratePerSecond: retransmitted frames per second, in bursts of up to one second's worth; 0 = unpaced */
  constructor(private readonly ratePerSecond: number) {
    this.tokens = ratePerSecond;
  }

  get queued(): number {
    return this.waiting.size;
  }

  /** May a link retransmit now? False once the bucket is empty or others are already waiting. */
  mayRetransmit(): boolean {
    if (this.ratePerSecond === 0) return true;
    this.refill();
    return this.tokens >= 1 && this.waiting.size === 0;
  }

  /** Frames sent: taken from the bucket (it may go below zero: a link sends all its due frames at once). */
  spend(frames: number): void {
    if (this.ratePerSecond > 0) this.tokens -= frames;
  }

  /** Call the link back when a token accrues (once, however often it asks). */
  wait(w: BudgetWaiter): void {
    if (this.waiting.has(w)) return;
    this.waiting.add(w);
    this.deferred++;
    if (!this.timer) {
      this.timer = setInterval(() => this.drain(), DRAIN_INTERVAL_MS);
      this.timer.unref?.();
    }
  }

  /** A link closed: never call it back. */
  forget(w: BudgetWaiter): void {
    this.waiting.delete(w);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.waiting.clear();
  }

  private drain(): void {
    this.refill();
    for (const w of this.waiting) {
      if (this.tokens < 1) break;
      this.waiting.delete(w);
      w.retransmitGranted();
    }
    if (this.waiting.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private refill(): void {
    const t = performance.now();
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((t - this.refilledAt) * this.ratePerSecond) / 1000);
    this.refilledAt = t;
  }
}

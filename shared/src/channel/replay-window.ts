/**
 * Anti-replay window for the fire-and-forget path (as IPsec's): accepts each sequence number once,
 * and anything older than `size` behind the highest seen is refused. Fixed memory per peer.
 */
export class ReplayWindow {
  private highest = 0;
  private readonly seen: Uint8Array;

  constructor(private readonly size = 256) {
    this.seen = new Uint8Array(size);
  }

  /** True (and recorded) when seq is new; false for a replay or a frame too old to judge. */
  accept(seq: number): boolean {
    if (seq > this.highest) {
      const advance = seq - this.highest;
      if (advance >= this.size) this.seen.fill(0);
      else for (let s = this.highest + 1; s < seq; s++) this.seen[s % this.size] = 0;
      this.highest = seq;
      this.seen[seq % this.size] = 1;
      return true;
    }
    if (this.highest - seq >= this.size) return false;
    if (this.seen[seq % this.size]) return false;
    this.seen[seq % this.size] = 1;
    return true;
  }
}

/**
 * Fragmentation of messages larger than one frame, and a bounded reassembler for the datagram path.
 * (The reliable path delivers frames in order, so it reassembles by simple concatenation.)
 */

/** Split a payload into chunks of at most `capacity` bytes; at most 65535 chunks (u16 count on the wire). */
export function splitPayload(payload: Buffer, capacity: number): Buffer[] {
  if (capacity <= 0) throw new RangeError("fragment capacity must be positive");
  if (payload.length <= capacity) return [payload];
  const n = Math.ceil(payload.length / capacity);
  if (n > 0xffff) throw new RangeError(`message of ${payload.length} bytes needs ${n} fragments (max 65535)`);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(payload.subarray(i * capacity, Math.min(payload.length, (i + 1) * capacity)));
  return out;
}

export interface ReassemblyLimits {
  /** largest message accepted (declared fragment count × frame capacity must stay below) */
  maxMessageBytes: number;
  /** partial messages held at once across all peers */
  maxPartialMessages: number;
  /** bytes held in partial messages across all peers */
  maxPartialBytes: number;
  /** a partial message older than this is discarded */
  timeoutMs: number;
}

interface Partial {
  key: string;
  count: number;
  received: number;
  bytes: number;
  chunks: (Buffer | undefined)[];
  firstAt: number;
  compressed: boolean;
}

export type ReassemblyOutcome =
  | { kind: "complete"; payload: Buffer; compressed: boolean }
  | { kind: "pending" }
  | { kind: "duplicate" }
  | { kind: "rejected"; reason: "oversized" | "inconsistent" };

/**
 * Memory is bounded by maxPartialBytes and maxPartialMessages whatever arrives: when either bound
 * would be exceeded the oldest partial messages are evicted (counted in `evicted`), so a fragment
 * flood can only push out other incomplete messages, never grow the heap.
 */
export class Reassembler {
  private partials = new Map<string, Partial>(); // insertion order = age order
  private heldBytes = 0;
  evicted = 0;
  expired = 0;

  constructor(private readonly limits: ReassemblyLimits) {}

  get partialCount(): number {
    return this.partials.size;
  }
  get partialBytes(): number {
    return this.heldBytes;
  }

  add(key: string, index: number, count: number, chunk: Buffer, compressed: boolean, now: number, frameCapacity: number): ReassemblyOutcome {
    this.expire(now);
    if (count * frameCapacity > this.limits.maxMessageBytes + frameCapacity) return { kind: "rejected", reason: "oversized" };
    let p = this.partials.get(key);
    if (!p) {
      p = { key, count, received: 0, bytes: 0, chunks: new Array(count), firstAt: now, compressed };
      this.partials.set(key, p);
    } else if (p.count !== count || p.compressed !== compressed) {
      this.drop(p);
      return { kind: "rejected", reason: "inconsistent" };
    }
    if (p.chunks[index]) return { kind: "duplicate" };
    p.chunks[index] = chunk;
    p.received++;
    p.bytes += chunk.length;
    this.heldBytes += chunk.length;
    if (p.received === p.count) {
      this.drop(p);
      return { kind: "complete", payload: Buffer.concat(p.chunks as Buffer[]), compressed: p.compressed };
    }
    while (this.heldBytes > this.limits.maxPartialBytes || this.partials.size > this.limits.maxPartialMessages) {
      const oldest = this.partials.values().next().value as Partial;
      this.drop(oldest);
      this.evicted++;
      if (oldest === p) break;
    }
    return { kind: "pending" };
  }

  expire(now: number): void {
    for (const p of this.partials.values()) {
      if (now - p.firstAt < this.limits.timeoutMs) break; // map is in age order
      this.drop(p);
      this.expired++;
    }
  }

  /** Forget every partial message whose key starts with prefix (a peer restarted or was evicted). */
  dropPrefix(prefix: string): void {
    for (const p of this.partials.values()) if (p.key.startsWith(prefix)) this.drop(p);
  }

  private drop(p: Partial): void {
    if (this.partials.delete(p.key)) this.heldBytes -= p.bytes;
  }
}

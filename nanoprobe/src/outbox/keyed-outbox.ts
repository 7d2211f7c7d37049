/**
 * What this host still has to tell the CMA about things that have a state (a neighbour, an alert, a
 * discovery script's document): per key, only the newest observation matters.
 *
 * - Newest means observed last (the time the caller gives, ties broken by the order of adding), not
 *   queued last: a send that failed comes back behind newer items, and must not win over them.
 * - Items go out as soon as they are added while the CMA can take them (`ready`), and all at once by
 *   flush() when a CMA (re)registers us.
 * - A failed send puts its item back unless a newer observation for its key came since (pending, in
 *   flight or delivered). An older pending item never keeps a newer failed one out: the newest is
 *   what the CMA must end up with (a DEAD behind a LATE, a cleared alert behind its raising).
 * - Bounded: past maxKeys keys the oldest observation is dropped and counted.
 */

/** Keys waiting at most, by default: a host watches 2–4 neighbours and a few unexpected sources; alerts and discovery scripts come in tens. Past it, the oldest news is the least worth memory. */
export const DEFAULT_OUTBOX_MAX_KEYS = 64;

export interface KeyedOutboxOptions<T> {
  /** Hands one item to the CMA; rejects when the CMA did not acknowledge it. */
  send(item: T): Promise<void>;
  /** Whether items can go out now (registered with a CMA). */
  ready(): boolean;
  /** Keys waiting at most; past it the oldest observation is dropped (counted). */
  maxKeys?: number;
  /** Told of every item handed to send. */
  onSend?(item: T, key: string): void;
  /** Told of every failed send, before its item goes back (or not). */
  onFailure?(err: Error, item: T, key: string): void;
}

export interface KeyedOutboxCounters {
  sent: number;
  failed: number;
  /** failed items put back to go again */
  requeued: number;
  /** failed items not put back: a newer observation for their key came since */
  superseded: number;
  /** items added older than what the outbox already holds for their key: refused */
  stale: number;
  /** items dropped past maxKeys */
  dropped: number;
}

/** When an item was observed: the caller's time, then the order of adding. */
interface Stamp {
  at: number;
  seq: number;
}

interface Entry<T> extends Stamp {
  key: string;
  item: T;
}

/** The newest observation of one key, and how many of its items are waiting or in flight. */
interface Latest extends Stamp {
  unsettled: number;
}

const newer = (a: Stamp, b: Stamp): boolean => a.at > b.at || (a.at === b.at && a.seq > b.seq);

export class KeyedOutbox<T> {
  readonly counters: KeyedOutboxCounters = { sent: 0, failed: 0, requeued: 0, superseded: 0, stale: 0, dropped: 0 };
  readonly maxKeys: number;
  private readonly pending = new Map<string, Entry<T>>();
  /** kept while a key has items waiting or in flight, so a late failure can tell it was superseded */
  private readonly latest = new Map<string, Latest>();
  private seq = 0;

  constructor(private readonly o: KeyedOutboxOptions<T>) {
    this.maxKeys = o.maxKeys ?? DEFAULT_OUTBOX_MAX_KEYS;
    if (!(Number.isInteger(this.maxKeys) && this.maxKeys >= 1)) throw new RangeError(`maxKeys must be a whole number ≥ 1, not ${this.maxKeys}`);
  }

  /** Items waiting to go. */
  get size(): number {
    return this.pending.size;
  }

  /** Keys held: waiting items, and keys with items waiting or in flight (both at most maxKeys while sends settle). */
  retainedSizes(): { pending: number; latest: number } {
    return { pending: this.pending.size, latest: this.latest.size };
  }

  /** The item waiting for a key, if any. */
  peek(key: string): T | undefined {
    return this.pending.get(key)?.item;
  }

  /**
   * Queue the observation made at `observedAt` (any clock that only moves forward for this outbox)
   * and send what can go. False when it is older than one already held for its key.
   */
  add(key: string, item: T, observedAt: number): boolean {
    const e: Entry<T> = { key, item, at: observedAt, seq: ++this.seq };
    const last = this.latest.get(key);
    if (last && newer(last, e)) {
      this.counters.stale++;
      return false;
    }
    this.latest.set(key, { at: e.at, seq: e.seq, unsettled: (last?.unsettled ?? 0) + (this.pending.has(key) ? 0 : 1) });
    this.pending.set(key, e);
    this.bound();
    this.flush();
    return true;
  }

  /** Send everything waiting, oldest observation first, if the CMA can take it. */
  flush(): void {
    if (this.pending.size === 0 || !this.o.ready()) return;
    const batch = [...this.pending.values()].sort((a, b) => (newer(a, b) ? 1 : -1));
    this.pending.clear();
    for (const e of batch) {
      this.counters.sent++;
      this.o.onSend?.(e.item, e.key);
      this.o.send(e.item).then(() => this.settled(e.key), (err: Error) => this.failed(e, err));
    }
  }

  private failed(e: Entry<T>, err: Error): void {
    this.counters.failed++;
    this.o.onFailure?.(err, e.item, e.key);
    const last = this.latest.get(e.key);
    if (last && last.seq === e.seq) {
      this.counters.requeued++;
      this.pending.set(e.key, e);
      this.bound();
    } else {
      this.counters.superseded++;
      this.settled(e.key);
    }
  }

  /** One item of a key left the outbox (delivered, superseded or dropped). */
  private settled(key: string): void {
    const last = this.latest.get(key);
    if (!last) return;
    if (--last.unsettled <= 0) this.latest.delete(key);
  }

  private bound(): void {
    while (this.pending.size > this.maxKeys) {
      let oldest: Entry<T> | undefined;
      for (const e of this.pending.values()) if (!oldest || newer(oldest, e)) oldest = e;
      this.pending.delete(oldest!.key);
      this.counters.dropped++;
      this.settled(oldest!.key);
    }
  }
}

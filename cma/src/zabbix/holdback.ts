/**
 * Values wait here until Zabbix can take them. A host the sync has not created yet, or a guest
 * whose items low-level discovery has not made yet, would make Zabbix answer "failed" and drop the
 * values; and what the API or the LLD worker just created is usable only after the server's next
 * configuration cache update (CacheUpdateFrequency, 60 s by default). So values for such targets
 * are held (with their original clocks) until the target is ready, then handed to the sink.
 * Nothing is dropped here: what waited longer than maxHoldMs, or beyond maxHeld values, goes to the
 * sink anyway (the sender spools it and reports what Zabbix refused).
 */
import type { ZabbixValue, ZabbixValueSink } from "./sender/zabbix-value.js";

export interface HoldbackOptions {
  /** held values beyond this go to the sink at once */
  maxHeld: number;
  /** a value waits at most this long */
  maxHoldMs: number;
}

interface Held {
  since: number;
  values: ZabbixValue[];
}

const target = (host: string, guest?: string): string => (guest === undefined ? host : `${host}\u0000${guest}`);

export class Holdback {
  readonly counters = { held: 0, released: 0, forced: 0 };
  /** host, or host + guest uuid → when it can take values (absent: not yet known to exist) */
  private readonly readyAt = new Map<string, number>();
  private readonly held = new Map<string, Held>();
  /** host not known yet → its guests' discovery delays, started when the host becomes ready */
  private readonly guestsAwaitingHost = new Map<string, Map<string, number>>();
  private heldCount = 0;
  /** no configuration sync (Zabbix configured by hand or by importing the template): nothing waits */
  private everythingReady = false;

  constructor(
    private readonly sink: ZabbixValueSink,
    private readonly o: HoldbackOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.heldCount;
  }

  /** When the oldest value held here arrived; undefined when nothing is held. */
  oldestHeldAt(): number | undefined {
    let t: number | undefined;
    for (const h of this.held.values()) if (h.values.length > 0) t = t === undefined ? h.since : Math.min(t, h.since);
    return t;
  }

  /** The host exists in Zabbix and takes values from `at` on. */
  hostReady(host: string, at = this.now()): void {
    this.readyAt.set(target(host), at);
    const waiting = this.guestsAwaitingHost.get(host);
    this.guestsAwaitingHost.delete(host);
    for (const [guest, delayMs] of waiting ?? []) this.readyAt.set(target(host, guest), Math.max(this.now(), at) + delayMs);
  }

  /** The guest's items exist (or will, by `at`). */
  guestReady(host: string, guest: string, at = this.now()): void {
    this.readyAt.set(target(host, guest), at);
  }

  /**
   * The guest's discovery value was just pushed for this host: its items exist `delayMs` after that
   * value can reach Zabbix, i.e. after the host itself is ready (the value waits here until then).
   */
  guestDiscovered(host: string, guest: string, delayMs: number): void {
    const h = this.readyAt.get(target(host));
    if (h !== undefined) {
      this.readyAt.set(target(host, guest), Math.max(this.now(), h) + delayMs);
      return;
    }
    this.readyAt.delete(target(host, guest));
    const m = this.guestsAwaitingHost.get(host) ?? new Map<string, number>();
    m.set(guest, delayMs);
    this.guestsAwaitingHost.set(host, m);
  }

  forgetGuest(host: string, guest: string): void {
    this.readyAt.delete(target(host, guest));
    this.guestsAwaitingHost.get(host)?.delete(guest);
  }

  /** Nothing is created by us, so nothing is waited for. */
  readyForAll(): void {
    this.everythingReady = true;
    this.flush();
  }

  isReady(host: string, guest?: string): boolean {
    if (this.everythingReady) return true;
    const h = this.readyAt.get(target(host));
    if (h === undefined || h > this.now()) return false;
    if (guest === undefined) return true;
    const g = this.readyAt.get(target(host, guest));
    return g !== undefined && g <= this.now();
  }

  /** Values of one host (and optionally one of its guests' items): to the sink, or held. */
  push(host: string, guest: string | undefined, values: ZabbixValue[]): void {
    if (values.length === 0) return;
    const t = target(host, guest);
    const waiting = this.held.get(t);
    if (!waiting && this.isReady(host, guest)) {
      this.sink.push(values);
      return;
    }
    if (this.heldCount + values.length > this.o.maxHeld) {
      this.counters.forced += values.length;
      if (waiting) this.release(t, waiting); // keep the order of one target's values
      this.sink.push(values);
      return;
    }
    if (waiting) waiting.values.push(...values);
    else this.held.set(t, { since: this.now(), values: [...values] });
    this.heldCount += values.length;
    this.counters.held += values.length;
  }

  /** Hand over what is ready now (or waited too long); call after readiness changes and on a timer. */
  flush(): void {
    const now = this.now();
    for (const [t, h] of this.held) {
      const [host, guest] = t.split("\u0000");
      if (this.isReady(host, guest) || now - h.since >= this.o.maxHoldMs) {
        if (!this.isReady(host, guest)) this.counters.forced += h.values.length;
        this.release(t, h);
      }
    }
  }

  /** Everything to the sink (the CMA is stopping: the sender keeps it). */
  drain(): void {
    for (const [t, h] of this.held) this.release(t, h);
  }

  private release(t: string, h: Held): void {
    this.held.delete(t);
    this.heldCount -= h.values.length;
    this.counters.released += h.values.length;
    this.sink.push(h.values);
  }
}

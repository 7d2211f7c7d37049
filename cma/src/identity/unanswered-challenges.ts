/**
 * Senders the CMA challenges again and again (channel/challenge.ts) without an answer: a nanoprobe
 * older than host keys (it cannot answer a challenge) still announcing once allowHostsWithoutKeys
 * is off, or copies of a host's frames replayed from an address that is not its. Nothing of theirs
 * reaches admission, so without this they would be visible only as a channel counter. Counted per
 * sender and address over a minute, bounded; said at warn once per sender and address every 10 min.
 *
 * A real host answers, but not always before its next frames arrive: after a failover thousands of
 * hosts send acks and reports to the new leader at once, several frames of each are challenged
 * before its cookie comes back, and a warning at the third challenge named ~38,000 hosts that went
 * on to answer. So a sender is said not to answer only when it is still unproven PROVE_WITHIN_MS
 * after its first challenge; proving itself (the endpoint's "proven") forgets it.
 */
import type { Logger } from "pino";
import type { PeerAddress } from "@ringwatch/shared";

const WINDOW_MS = 60_000;
/** challenges in one window before a sender counts as not answering (a real host answers the first) */
const UNANSWERED_AFTER = 3;
const WARN_EVERY_MS = 10 * 60_000;
/** a host answers a challenge within a round trip and its 200 ms answer bound; 5 s covers a CMA busy with a failover */
const PROVE_WITHIN_MS = 5_000;
/** senders tracked at once: a flood of made-up names cannot grow this */
const MAX_TRACKED = 10_000;

export class UnansweredChallenges {
  private counts = new Map<string, { n: number; firstAt: number }>();
  private windowStart = Date.now();
  private readonly warnedAt = new Map<string, number>();
  /** senders seen not answering (each once per warning period) */
  unanswered = 0;

  constructor(private readonly log: Logger) {}

  challenged(sender: string, from: PeerAddress, now = Date.now()): void {
    if (now - this.windowStart >= WINDOW_MS) {
      this.counts = new Map();
      this.windowStart = now;
    }
    const key = keyOf(sender, from);
    let c = this.counts.get(key);
    if (!c) {
      if (this.counts.size >= MAX_TRACKED) return;
      c = { n: 0, firstAt: now };
      this.counts.set(key, c);
    }
    c.n++;
    if (c.n < UNANSWERED_AFTER || now - c.firstAt < PROVE_WITHIN_MS) return;
    const last = this.warnedAt.get(key);
    if (last !== undefined && now - last < WARN_EVERY_MS) return;
    if (this.warnedAt.size >= MAX_TRACKED) this.warnedAt.delete(this.warnedAt.keys().next().value as string);
    this.warnedAt.set(key, now);
    this.unanswered++;
    this.log.warn(
      { host: sender, addr: `${from.address}:${from.port}`, challenges: c.n },
      "challenged and not answering: a nanoprobe older than host keys (allowHostsWithoutKeys is off: upgrade it), or copies of a host's frames replayed from an address not its own",
    );
  }

  /** The sender answered a challenge from that address: whatever was counted against it is forgotten. */
  proven(sender: string, from: PeerAddress): void {
    this.counts.delete(keyOf(sender, from));
  }
}

const keyOf = (sender: string, from: PeerAddress): string => `${sender}@${from.address}:${from.port}`;

/**
 * Senders the CMA challenges again and again (channel/challenge.ts) without an answer: a nanoprobe
 * older than host keys (it cannot answer a challenge) still announcing once allowHostsWithoutKeys
 * is off, or copies of a host's frames replayed from an address that is not its. Nothing of theirs
 * reaches admission, so without this they would be visible only as a channel counter. Counted per
 * sender and address over a minute, bounded; said at warn once per sender and address every 10 min.
 */
import type { Logger } from "pino";
import type { PeerAddress } from "@ringwatch/shared";

const WINDOW_MS = 60_000;
/** challenges in one window before a sender counts as not answering (a real host answers the first) */
const UNANSWERED_AFTER = 3;
const WARN_EVERY_MS = 10 * 60_000;
/** senders tracked at once: a flood of made-up names cannot grow this */
const MAX_TRACKED = 10_000;

export class UnansweredChallenges {
  private counts = new Map<string, number>();
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
    const key = `${sender}@${from.address}:${from.port}`;
    const n = (this.counts.get(key) ?? 0) + 1;
    if (n === 1 && this.counts.size >= MAX_TRACKED) return;
    this.counts.set(key, n);
    if (n !== UNANSWERED_AFTER) return;
    const last = this.warnedAt.get(key);
    if (last !== undefined && now - last < WARN_EVERY_MS) return;
    if (this.warnedAt.size >= MAX_TRACKED) this.warnedAt.delete(this.warnedAt.keys().next().value as string);
    this.warnedAt.set(key, now);
    this.unanswered++;
    this.log.warn(
      { host: sender, addr: `${from.address}:${from.port}`, challenges: n },
      "challenged and not answering: a nanoprobe older than host keys (allowHostsWithoutKeys is off: upgrade it), or copies of a host's frames replayed from an address not its own",
    );
  }
}

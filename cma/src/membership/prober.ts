/**
 * Direct probes from the CMA: a Probe datagram with a random nonce, answered by a ProbeReply from
 * the probed address. A host answers if any of `attempts` probes, `intervalMs` apart, is answered
 * within the window. Used to confirm a reported death and to tell a dead host from a dead switch.
 */
import { randomBytes } from "node:crypto";
import { encodeEnvelope } from "@ringwatch/shared";
import type { Endpoint, PeerAddress } from "@ringwatch/shared";

export interface ProbeOptions {
  attempts: number;
  intervalMs: number;
}

/**
 * Probes in flight at most; more wait their turn (their attempts start when it comes). After a
 * failover at 10,000 hosts the new leader probed every host that had not re-announced at once: the
 * replies overflowed its socket (a 4 MiB buffer holds ~2,000 datagrams) and each lost reply was a
 * false death, 6,811 of 10,000. 256 replies per probe interval fit beside the rest of the traffic.
 */
export const MAX_PROBES_IN_FLIGHT = 256;

export class Prober {
  private pending = new Map<number, { to: string; resolve: (ok: boolean) => void }>();
  // nonces only need to be unique and unguessable by non-members (frames are authenticated):
  // a counter from a random start, not a CSPRNG call per probe (that was 8% of a busy CMA)
  private nextNonce = randomBytes(4).readUInt32BE(0) * 1024;
  probesSent = 0;
  /** the most probes that waited for a turn at once */
  probesQueuedMax = 0;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly endpoint: Endpoint,
    private readonly opts: ProbeOptions,
  ) {}

  /** Called with every ProbeReply; true if it answered one of ours from the probed address. */
  answer(nonce: number, from: PeerAddress): boolean {
    const p = this.pending.get(nonce);
    if (!p || p.to !== `${from.address}:${from.port}`) return false;
    this.pending.delete(nonce);
    p.resolve(true);
    return true;
  }

  /** Whether `to` answers; at most MAX_PROBES_IN_FLIGHT run at once, the others queue (in order). */
  probe(to: PeerAddress): Promise<boolean> {
    return new Promise((resolve) => {
      const start = (): void => {
        this.inFlight++;
        void this.run(to).then((ok) => {
          this.inFlight--;
          this.waiting.shift()?.();
          resolve(ok);
        });
      };
      if (this.inFlight < MAX_PROBES_IN_FLIGHT) return start();
      this.waiting.push(start);
      this.probesQueuedMax = Math.max(this.probesQueuedMax, this.waiting.length);
    });
  }

  private run(to: PeerAddress): Promise<boolean> {
    return new Promise((resolve) => {
      const nonces: number[] = [];
      let done = false;
      const finish = (ok: boolean): void => {
        if (done) return;
        done = true;
        for (const n of nonces) this.pending.delete(n);
        clearInterval(timer);
        clearTimeout(deadline);
        resolve(ok);
      };
      const send = (): void => {
        const nonce = this.nextNonce++ % 2 ** 48;
        nonces.push(nonce);
        this.pending.set(nonce, { to: `${to.address}:${to.port}`, resolve: finish });
        this.probesSent++;
        try {
          this.endpoint.sendDatagram(to, encodeEnvelope({ probe: { nonce } }));
        } catch {
          finish(false); // the endpoint closed under a probe in flight (the CMA stopping): unanswered, not a crash from a timer
        }
      };
      send();
      const timer = setInterval(() => (nonces.length < this.opts.attempts ? send() : undefined), this.opts.intervalMs);
      const deadline = setTimeout(() => finish(false), this.opts.attempts * this.opts.intervalMs);
    });
  }
}

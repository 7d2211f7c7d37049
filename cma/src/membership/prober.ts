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

export class Prober {
  private pending = new Map<number, { to: string; resolve: (ok: boolean) => void }>();
  // nonces only need to be unique and unguessable by non-members (frames are authenticated):
  // a counter from a random start, not a CSPRNG call per probe (that was 8% of a busy CMA)
  private nextNonce = randomBytes(4).readUInt32BE(0) * 1024;
  probesSent = 0;

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

  probe(to: PeerAddress): Promise<boolean> {
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

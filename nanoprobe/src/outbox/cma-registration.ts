/**
 * The CMA this nanoprobe is registered with, as everything that sends to it sees it. Joining (the
 * agent) sets it; the senders only ask whether they can send, and say when the CMA did not answer.
 */
import { encodeEnvelope } from "@ringwatch/shared";
import type { Endpoint, Envelope, PeerAddress } from "@ringwatch/shared";

export interface CmaRegistrationHooks {
  /** the CMA stopped answering: announce until one answers */
  lost(): void;
  /** the nanoprobe is stopping or stopped: failures are no news any more */
  stopped(): boolean;
}

export class CmaRegistration {
  /** where the CMA answered from; undefined until the first signed assignment */
  cma: PeerAddress | undefined;
  registered = false;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly hooks: CmaRegistrationHooks,
  ) {}

  /** Whether the CMA can take messages now. */
  get ready(): boolean {
    return this.cma !== undefined && this.registered;
  }

  get stopped(): boolean {
    return this.hooks.stopped();
  }

  /** Send reliably to the CMA; only when ready. Rejects when the CMA does not acknowledge it. */
  send(env: Envelope): Promise<void> {
    return this.endpoint.send(this.cma!, encodeEnvelope(env));
  }

  /** A message the CMA did not acknowledge: it is gone, find a CMA again (once). */
  lost(): void {
    if (this.registered) this.hooks.lost();
  }
}

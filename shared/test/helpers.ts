import { randomBytes } from "node:crypto";
import { Endpoint, Keyring, makeClusterKey } from "../src/index.js";
import type { EndpointCounters, EndpointOptions } from "../src/index.js";

export function testKeyring(cluster = "test"): Keyring {
  return new Keyring(cluster, makeClusterKey(randomBytes(32)));
}

export function openEndpoint(identity: string, keyring: Keyring, extra: Partial<EndpointOptions> = {}): Promise<Endpoint> {
  return Endpoint.open({ identity, keyring, bindAddress: "127.0.0.1", ...extra });
}

export { waitUntil as waitFor } from "../src/testing/index.js";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What changed in an endpoint's counters between two readings (fuzz tests). */
export type Counts = Partial<Record<keyof EndpointCounters, number>>;

export function counterDelta(after: EndpointCounters, before: EndpointCounters): Counts {
  const d: Counts = {};
  for (const k of Object.keys(after) as (keyof EndpointCounters)[]) {
    if (after[k] !== before[k]) d[k] = after[k] - before[k];
  }
  return d;
}

export const sumCounts = (d: Counts, keys: readonly (keyof EndpointCounters)[]): number => keys.reduce((s, k) => s + (d[k] ?? 0), 0);

/** Every datagram an endpoint sends from now on, as it went on the wire. */
export function recordWire(ep: Endpoint): Buffer[] {
  const out: Buffer[] = [];
  const orig = ep.socket.send.bind(ep.socket) as (...a: unknown[]) => void;
  (ep.socket as unknown as { send: (...a: unknown[]) => void }).send = (...args: unknown[]) => {
    out.push(Buffer.from(args[0] as Buffer));
    orig(...args);
  };
  return out;
}

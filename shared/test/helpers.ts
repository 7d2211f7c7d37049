import { randomBytes } from "node:crypto";
import { Endpoint, Keyring, makeClusterKey } from "../src/index.js";
import type { EndpointOptions } from "../src/index.js";

export function testKeyring(cluster = "test"): Keyring {
  return new Keyring(cluster, makeClusterKey(randomBytes(32)));
}

export function openEndpoint(identity: string, keyring: Keyring, extra: Partial<EndpointOptions> = {}): Promise<Endpoint> {
  return Endpoint.open({ identity, keyring, bindAddress: "127.0.0.1", ...extra });
}

/** Poll until cond() is true; rejects after timeoutMs with the message. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

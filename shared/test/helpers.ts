import { randomBytes } from "node:crypto";
import { Endpoint, Keyring, makeClusterKey } from "../src/index.js";
import type { EndpointOptions } from "../src/index.js";

export function testKeyring(cluster = "test"): Keyring {
  return new Keyring(cluster, makeClusterKey(randomBytes(32)));
}

export function openEndpoint(identity: string, keyring: Keyring, extra: Partial<EndpointOptions> = {}): Promise<Endpoint> {
  return Endpoint.open({ identity, keyring, bindAddress: "127.0.0.1", ...extra });
}

export { waitUntil as waitFor } from "../src/testing/index.js";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

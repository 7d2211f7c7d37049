/**
 * The services each guest was seen answering on, read from the guest-flows discovery document
 * (discovery-scripts: a SYN-ACK from the guest's own MAC, or a tracked connection to its address).
 * The document is a child process's output: every field is checked and the whole is bounded, and
 * what is wrong is counted and left out, never trusted.
 */
import { isIP } from "node:net";

/** address:port ("[v6]:port"), the target of a TCP check */
export type ServiceEndpoint = string;

export interface DiscoveredServices {
  /** guest uuid (lower case) → the endpoints it answered on */
  byGuest: Map<string, ServiceEndpoint[]>;
  /** entries left out as malformed */
  malformed: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** the script lists at most 4096 entries by default; a document past these is cut, not trusted */
const MAX_GUESTS = 10_000;
const MAX_PER_GUEST = 256;

export function endpointText(ip: string, port: number): ServiceEndpoint {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function discoveredServices(data: unknown): DiscoveredServices {
  const byGuest = new Map<string, ServiceEndpoint[]>();
  let malformed = 0;
  const guests = (data as { guests?: unknown } | null)?.guests;
  if (!Array.isArray(guests)) return { byGuest, malformed: 1 };
  for (const g of guests.slice(0, MAX_GUESTS)) {
    const uuid = (g as { uuid?: unknown } | null)?.uuid;
    const listeners = (g as { listeners?: unknown } | null)?.listeners;
    if (typeof uuid !== "string" || !UUID.test(uuid) || !Array.isArray(listeners)) { malformed++; continue; }
    const endpoints = new Set<ServiceEndpoint>();
    for (const l of listeners) {
      const { ip, port } = (l ?? {}) as { ip?: unknown; port?: unknown };
      if (typeof ip !== "string" || ip.length > 64 || !isIP(ip) || typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) { malformed++; continue; }
      if (endpoints.size < MAX_PER_GUEST) endpoints.add(endpointText(ip.toLowerCase(), port));
      else malformed++;
    }
    byGuest.set(uuid.toLowerCase(), [...endpoints]);
  }
  malformed += Math.max(0, guests.length - MAX_GUESTS);
  return { byGuest, malformed };
}

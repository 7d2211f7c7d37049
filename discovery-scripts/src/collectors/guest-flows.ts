// The guests' own TCP services and dependencies, seen from the hypervisor with nothing in the
// guest (Assimilation's "stealth discovery" moved outside the guest): handshakes captured on the
// host's interfaces during a window and attributed to a guest by the source MAC of what its NIC
// sent; connections older than the window from the conntrack table, attributed by the guest's
// addresses (leases, neighbours). A guest that answers a SYN serves that address and port; a guest
// that sends one depends on the address and port it asked for. See the README for what it cannot see.
import { collectLibvirtDomains, DEFAULT_LIBVIRT_URI, type DomainRecord } from "./libvirt-domains.js";
import { addressSourceConfig } from "../guest-addresses/guest-addresses.js";
import { captureHandshakes, type CaptureResult } from "../flows/syn-capture.js";
import { readConntrack, type ConntrackRead } from "../flows/conntrack.js";
import { FlowBook, type FlowBookStats, type FlowEntry } from "../flows/flow-book.js";

export interface GuestFlowsOptions {
  uri: string;
  tcpdump: string;
  /** How long each run captures handshakes. */
  windowMs: number;
  /** Handshake packets read per second at most (a SYN flood must not cost the hypervisor a core). */
  maxPerSecond: number;
  /** tcpdump's kernel capture buffer. */
  bufferKiB: number;
  conntrackFile: string;
  conntrackMaxLines: number;
  stateFile: string;
  /** An entry not seen again for this long is forgotten. */
  keepMs: number;
  maxEntries: number;
}

/** Each option: env name, default, bounds. A value out of bounds or not an integer is an error, not a guess. */
const NUMBER_OPTIONS = {
  windowMs: ["GUEST_FLOWS_WINDOW_MS", 10_000, 500, 50_000],
  maxPerSecond: ["GUEST_FLOWS_MAX_PPS", 1000, 10, 100_000],
  bufferKiB: ["GUEST_FLOWS_BUFFER_KIB", 1024, 64, 65_536],
  conntrackMaxLines: ["GUEST_FLOWS_CONNTRACK_MAX_LINES", 200_000, 1, 10_000_000],
  keepMs: ["GUEST_FLOWS_KEEP_MS", 3_600_000, 1000, 7 * 86_400_000],
  maxEntries: ["GUEST_FLOWS_MAX_ENTRIES", 4096, 1, 1_000_000],
} as const;

export function guestFlowsOptions(env: NodeJS.ProcessEnv = process.env): GuestFlowsOptions {
  const numbers = {} as Record<keyof typeof NUMBER_OPTIONS, number>;
  for (const [key, [name, def, min, max]] of Object.entries(NUMBER_OPTIONS) as [keyof typeof NUMBER_OPTIONS, readonly [string, number, number, number]][]) {
    const text = env[name];
    const n = text === undefined || text === "" ? def : Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}=${JSON.stringify(text)}: an integer from ${min} to ${max} is needed`);
    numbers[key] = n;
  }
  return {
    uri: env.LIBVIRT_URI || DEFAULT_LIBVIRT_URI,
    tcpdump: env.TCPDUMP || "tcpdump",
    conntrackFile: env.GUEST_FLOWS_CONNTRACK || "/proc/net/nf_conntrack",
    stateFile: env.GUEST_FLOWS_STATE || "/var/lib/ringwatch/guest-flows.json",
    ...numbers,
  };
}

export interface GuestFlows {
  uuid: string;
  name: string;
  /** mac: the guest NIC that answered from ip (so the CMA can tie the address to that NIC). */
  listeners: { ip: string; port: number; mac: string | null; firstSeen: string; source: string }[];
  clients: { remoteIp: string; remotePort: number; answered: boolean; firstSeen: string; source: string }[];
}

export interface GuestFlowsData {
  uri: string;
  /** Every running guest with a NIC, with what it was seen serving and using (possibly nothing). */
  guests: GuestFlows[];
  capture: (CaptureResult & { windowMs: number; maxPerSecond: number; fromGuests: number; notFromGuests: number }) | { available: false; error: string };
  conntrack: ConntrackRead & { fromGuests: number };
  state: FlowBookStats & { file: string; entries: number };
}

/** SYNs awaiting their SYN-ACK within one window, bounded: past it a client is still recorded, unanswered. */
const MAX_PENDING_SYNS = 65_536;

export async function collectGuestFlows(options: GuestFlowsOptions = guestFlowsOptions()): Promise<GuestFlowsData> {
  const domains: DomainRecord[] = (await collectLibvirtDomains(options.uri, addressSourceConfig())).domains
    .filter((d) => d.active && d.nics.some((n) => n.mac));
  const byMac = new Map<string, string>(), byIp = new Map<string, { uuid: string; mac: string }>();
  for (const d of domains) {
    for (const n of d.nics) {
      if (!n.mac) continue;
      const mac = n.mac.toLowerCase();
      byMac.set(mac, d.uuid);
      for (const a of n.addresses ?? []) if (!byIp.has(a.address)) byIp.set(a.address, { uuid: d.uuid, mac });
    }
  }
  const book = new FlowBook(options.maxEntries);
  await book.restore(options.stateFile);
  const now = Date.now();

  // Connections that were up before this run (and pooled ones that never handshake again).
  let trackedFromGuests = 0;
  const conntrack = await readConntrack(options.conntrackFile, options.conntrackMaxLines, (c) => {
    const client = byIp.get(c.clientIp), server = byIp.get(c.replyIp);
    if (client) book.see(client.uuid, "client", c.serverIp, c.serverPort, true, "conntrack", now);
    if (server) book.see(server.uuid, "listener", c.replyIp, c.replyPort, true, "conntrack", now, server.mac);
    if (client || server) trackedFromGuests++;
  });

  let capture: GuestFlowsData["capture"];
  if (byMac.size === 0) {
    capture = { available: false, error: "no running guest with a NIC: nothing to capture" };
  } else {
    const pending = new Map<string, FlowEntry>(); // "client ip|port|server ip|port" → the client's entry
    let fromGuests = 0, notFromGuests = 0;
    const result = await captureHandshakes(options, (p) => {
      const guest = p.outgoing ? undefined : byMac.get(p.mac);
      if (p.synAck) {
        const asked = pending.get(`${p.dstIp}|${p.dstPort}|${p.srcIp}|${p.srcPort}`);
        if (asked) asked.answered = true;
        if (guest) book.see(guest, "listener", p.srcIp, p.srcPort, true, "capture", Date.now(), p.mac);
      } else if (guest) {
        const entry = book.see(guest, "client", p.dstIp, p.dstPort, false, "capture", Date.now());
        if (entry && pending.size < MAX_PENDING_SYNS) pending.set(`${p.srcIp}|${p.srcPort}|${p.dstIp}|${p.dstPort}`, entry);
      }
      if (guest) fromGuests++; else notFromGuests++;
    });
    capture = { ...result, windowMs: options.windowMs, maxPerSecond: options.maxPerSecond, fromGuests, notFromGuests };
  }

  book.expire(Date.now(), options.keepMs, new Set(domains.map((d) => d.uuid)));
  await book.save(options.stateFile);

  const iso = (t: number): string => new Date(t).toISOString();
  const guests = domains.map((d): GuestFlows => {
    const entries = book.of(d.uuid).sort((a, b) => a.port - b.port || a.ip.localeCompare(b.ip));
    return {
      uuid: d.uuid, name: d.name,
      listeners: entries.filter((e) => e.role === "listener").map((e) => ({ ip: e.ip, port: e.port, mac: e.mac, firstSeen: iso(e.firstSeen), source: e.source })),
      clients: entries.filter((e) => e.role === "client").map((e) => ({ remoteIp: e.ip, remotePort: e.port, answered: e.answered, firstSeen: iso(e.firstSeen), source: e.source })),
    };
  });
  return { uri: options.uri, guests, capture, conntrack: { ...conntrack, fromGuests: trackedFromGuests }, state: { ...book.stats, file: options.stateFile, entries: book.size } };
}

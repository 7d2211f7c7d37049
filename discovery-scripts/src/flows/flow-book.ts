// What guests serve and what they connect to, as the hypervisor has seen it: entries from each
// run's capture and conntrack read, kept across runs in a small state file until not seen for
// keepMs (a capture window sees only the connections opened during it, so a service used every
// few minutes would otherwise come and go between documents). Bounded in entries; a guest that is
// no longer running on this host leaves nothing behind.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseIp } from "../guest-addresses/ip-address.js";
import { normalizeMac } from "../guest-addresses/sighting.js";

export type FlowRole = "listener" | "client";
export type FlowSource = "capture" | "conntrack";

export interface FlowEntry {
  uuid: string;
  role: FlowRole;
  /** The service's address and port: the guest's own for a listener, the remote one for a client. */
  ip: string;
  port: number;
  /** A listener's: the MAC of the guest NIC that answered from ip (the NIC holds that address); null for a client. */
  mac: string | null;
  /** For a client: a SYN-ACK (or an established tracked connection) was seen; a listener always answered. */
  answered: boolean;
  /** Epoch ms. */
  firstSeen: number;
  lastSeen: number;
  source: FlowSource;
}

export interface FlowBookStats {
  /** Entries read back from the state file. */
  restored: number;
  /** Entries dropped from the state file as malformed. */
  malformed: number;
  /** Not seen for keepMs, or their guest no longer runs here. */
  expired: number;
  /** New entries refused because the book held maxEntries. */
  refused: number;
  /** Why the state could not be read or written; null when it could. */
  error: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function validEntry(v: unknown): FlowEntry | null {
  if (typeof v !== "object" || v === null) return null;
  const e = v as Record<string, unknown>;
  const ip = typeof e.ip === "string" ? parseIp(e.ip) : null;
  const time = (t: unknown): t is number => typeof t === "number" && Number.isSafeInteger(t) && t >= 0;
  if (typeof e.uuid !== "string" || !UUID.test(e.uuid) || (e.role !== "listener" && e.role !== "client") || !ip
    || typeof e.port !== "number" || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535 || typeof e.answered !== "boolean"
    || !time(e.firstSeen) || !time(e.lastSeen) || (e.source !== "capture" && e.source !== "conntrack")
    || (e.mac !== null && normalizeMac(e.mac) === null)) return null;
  return { uuid: e.uuid, role: e.role, ip: ip.text, port: e.port, mac: e.mac === null ? null : normalizeMac(e.mac), answered: e.answered, firstSeen: e.firstSeen, lastSeen: e.lastSeen, source: e.source };
}

export class FlowBook {
  private readonly entries = new Map<string, FlowEntry>();
  readonly stats: FlowBookStats = { restored: 0, malformed: 0, expired: 0, refused: 0, error: null };

  constructor(private readonly maxEntries: number) {}

  /** Reads the state file; a missing file is a first run, anything unreadable starts afresh (said in stats.error). */
  async restore(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") this.stats.error = `cannot read ${file}: ${(e as Error).message}`;
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.stats.error = `${file} is not JSON: started afresh`;
      return;
    }
    const list = (parsed as { entries?: unknown })?.entries;
    if (!Array.isArray(list)) { this.stats.error = `${file} has no entries list: started afresh`; return; }
    for (const raw of list) {
      const e = validEntry(raw);
      if (!e || this.entries.size >= this.maxEntries) { this.stats.malformed++; continue; }
      this.entries.set(keyOf(e.uuid, e.role, e.ip, e.port), e);
      this.stats.restored++;
    }
  }

  /** Seen now: a new entry, or the existing one's lastSeen (and answered, once true) moved on. */
  see(uuid: string, role: FlowRole, ip: string, port: number, answered: boolean, source: FlowSource, now: number, mac: string | null = null): FlowEntry | null {
    const key = keyOf(uuid, role, ip, port);
    const e = this.entries.get(key);
    if (e) {
      e.lastSeen = Math.max(e.lastSeen, now);
      e.answered ||= answered;
      if (mac) e.mac = mac;
      return e;
    }
    if (this.entries.size >= this.maxEntries) { this.stats.refused++; return null; }
    const added: FlowEntry = { uuid, role, ip, port, mac, answered, firstSeen: now, lastSeen: now, source };
    this.entries.set(key, added);
    return added;
  }

  /** Drops entries not seen since now - keepMs and those of guests not in `running`. */
  expire(now: number, keepMs: number, running: ReadonlySet<string>): void {
    for (const [key, e] of this.entries) {
      if (e.lastSeen < now - keepMs || !running.has(e.uuid)) { this.entries.delete(key); this.stats.expired++; }
    }
  }

  /** Written to a temporary file and renamed, so a killed run never leaves half a file. */
  async save(file: string): Promise<void> {
    try {
      await mkdir(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify({ version: 1, entries: [...this.entries.values()] }));
      await rename(tmp, file);
    } catch (e) {
      this.stats.error ??= `cannot write ${file}: ${(e as Error).message}`;
    }
  }

  of(uuid: string): FlowEntry[] {
    return [...this.entries.values()].filter((e) => e.uuid === uuid);
  }

  get size(): number {
    return this.entries.size;
  }
}

function keyOf(uuid: string, role: FlowRole, ip: string, port: number): string {
  return `${uuid}|${role}|${ip}|${port}`;
}

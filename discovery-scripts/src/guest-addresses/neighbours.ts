// The host's neighbour table (IPv4 ARP and IPv6 ND): which IP answered from which MAC on which
// host interface. libvirt's ARP source for virDomainInterfaceAddresses reads the same table.
// `ip -j neigh show nud all` gives both families; without a working `ip`, /proc/net/arp gives IPv4.
import { readTextCapped } from "../proc-files.js";
import { runCapped } from "./capped-command.js";
import { parseIp } from "./ip-address.js";
import { splitJsonArray } from "./json-array.js";
import { quote, type AddressProblems } from "./problems.js";
import { normalizeMac, type AddressSighting } from "./sighting.js";

export const MAX_NEIGHBOURS = 100_000;
/** `ip -j` prints ~85 bytes per entry: room for MAX_NEIGHBOURS twice over. */
export const MAX_NEIGHBOUR_BYTES = 16 * 1024 * 1024;
export const IP_TIMEOUT_MS = 10_000;
export const PROC_NET_ARP = "/proc/net/arp";

/** Entries whose MAC was confirmed at some point (PERMANENT/NOARP: set by hand or by the kernel). */
const USABLE_STATES = new Set(["REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"]);
/** Resolution failed or is still going on: the MAC, if any, is not the address's. */
const UNUSABLE_STATES = new Set(["FAILED", "INCOMPLETE"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export interface ParsedNeighbours {
  sightings: AddressSighting[];
  /** False when the text is not a JSON array at all: the caller falls back to /proc/net/arp. */
  isArray: boolean;
}

/**
 * `ip -j neigh` output. Entries without lladdr (FAILED, INCOMPLETE) or with a link-layer address
 * that is not an Ethernet MAC (tunnels, InfiniBand) cannot be a guest NIC's and are left out
 * silently; an entry that is not an object or whose dst is not an address is reported.
 * `truncated`: the text is the start of longer output.
 */
export function parseIpNeighJson(text: string, problems: AddressProblems, truncated = false, max = MAX_NEIGHBOURS): ParsedNeighbours {
  const split = splitJsonArray(text, max);
  if (split.problem === "not a JSON array") {
    problems.add(`ip neigh: output is not a JSON array (starts ${quote(text.trimStart().slice(0, 40))})`);
    return { sightings: [], isArray: false };
  }
  if (truncated) problems.add(`ip neigh: output larger than ${MAX_NEIGHBOUR_BYTES} bytes; used the ${split.items.length} entries read in full`);
  else if (split.problem) problems.add(`ip neigh: ${split.problem}`);
  if (split.more) problems.add(`ip neigh: more than ${max} entries; used the first ${max}`);
  const sightings: AddressSighting[] = [];
  split.items.forEach((itemText, index) => {
    const where = `ip neigh: entry ${index}`;
    let entry: unknown;
    try {
      entry = JSON.parse(itemText);
    } catch {
      return problems.add(`${where}: not valid JSON`);
    }
    if (!isObject(entry)) return problems.add(`${where}: not an object`);
    const ip = parseIp(entry.dst);
    if (!ip) return problems.add(`${where}: bad dst ${quote(entry.dst)}`);
    const states = Array.isArray(entry.state) ? entry.state.filter((s): s is string => typeof s === "string") : [];
    if (!states.some((s) => USABLE_STATES.has(s)) || states.some((s) => UNUSABLE_STATES.has(s))) return;
    const mac = normalizeMac(entry.lladdr);
    if (!mac) return;
    sightings.push({ mac, ip, dev: typeof entry.dev === "string" ? entry.dev : null, source: "neighbour" });
  });
  return { sightings, isArray: true };
}

const ATF_COM = 0x2;  // the kernel sets it on every entry whose MAC is valid; 0x0 is incomplete

/** /proc/net/arp: "IP address  HW type  Flags  HW address  Mask  Device" (IPv4 only). */
export function parseProcNetArp(text: string, problems: AddressProblems, truncated = false, max = MAX_NEIGHBOURS): AddressSighting[] {
  const lines = text.split("\n");
  if (truncated) lines.pop();  // the last line may be cut
  if (!/^IP address\s+HW type\s+Flags\s+HW address\s+Mask\s+Device\s*$/.test(lines[0] ?? "")) {
    problems.add(`${PROC_NET_ARP}: unexpected header ${quote((lines[0] ?? "").slice(0, 40))}`);
    return [];
  }
  const sightings: AddressSighting[] = [];
  let entries = 0;
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === "") continue;
    if (++entries > max) {
      problems.add(`${PROC_NET_ARP}: more than ${max} entries; used the first ${max}`);
      break;
    }
    const where = `${PROC_NET_ARP}: line ${n + 1}`;
    const f = line.split(/\s+/);
    if (f.length !== 6) {
      problems.add(`${where}: expected 6 fields, got ${f.length}`);
      continue;
    }
    const [ipText, , flagsText, macText, , dev] = f;
    const ip = parseIp(ipText);
    if (!ip || ip.family !== 4) {
      problems.add(`${where}: bad IP address ${quote(ipText)}`);
      continue;
    }
    if (!/^0x[0-9a-f]{1,8}$/i.test(flagsText)) {
      problems.add(`${where}: bad flags ${quote(flagsText)}`);
      continue;
    }
    if ((parseInt(flagsText, 16) & ATF_COM) === 0) continue;
    const mac = normalizeMac(macText);
    if (!mac) continue;
    sightings.push({ mac, ip, dev, source: "neighbour" });
  }
  if (truncated) problems.add(`${PROC_NET_ARP}: larger than ${MAX_NEIGHBOUR_BYTES} bytes; used the entries in the first ${MAX_NEIGHBOUR_BYTES}`);
  return sightings;
}

async function readProcNetArp(problems: AddressProblems): Promise<AddressSighting[]> {
  try {
    const { text, truncated } = await readTextCapped(PROC_NET_ARP, MAX_NEIGHBOUR_BYTES);
    return parseProcNetArp(text, problems, truncated);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    problems.add(`${PROC_NET_ARP}: cannot read: ${err.code ?? err.message}`);
    return [];
  }
}

/**
 * The neighbour table, read once: from `ipCommand -j neigh show nud all` (nud all: the default
 * hides NOARP entries), else (ip missing, failing, printing something other than a JSON array)
 * from /proc/net/arp, with the reason reported since IPv6 neighbours are then missing.
 */
export async function readNeighbourSightings(ipCommand: string, problems: AddressProblems): Promise<AddressSighting[]> {
  const r = await runCapped(ipCommand, ["-j", "neigh", "show", "nud", "all"], MAX_NEIGHBOUR_BYTES, IP_TIMEOUT_MS);
  const fallback = (why: string): Promise<AddressSighting[]> => {
    problems.add(`${ipCommand} ${why}; read IPv4 neighbours from ${PROC_NET_ARP} (no IPv6)`);
    return readProcNetArp(problems);
  };
  if (r.startError) return fallback(r.startError.code === "ENOENT" ? "not found" : `cannot run: ${r.startError.code ?? r.startError.message}`);
  if (r.timedOut) return fallback(`timed out after ${IP_TIMEOUT_MS} ms`);
  if (!r.truncated && r.code !== 0) {
    const why = r.stderr.trim().split("\n").pop() || (r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`);
    return fallback(`failed: ${why.slice(0, 200)}`);
  }
  const parsed = parseIpNeighJson(r.stdout, problems, r.truncated);
  return parsed.isArray ? parsed.sightings : fallback("printed no JSON array");
}

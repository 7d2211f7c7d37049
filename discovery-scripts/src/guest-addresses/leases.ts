// libvirt's DHCP leases: for each libvirt-managed network, dnsmasq's lease helper keeps
// <stateDir>/<bridge>.status, a JSON array of {"ip-address", "mac-address", "hostname",
// "expiry-time" (epoch seconds), and for DHCPv6 "iaid"/"client-id"}. This is libvirt's own
// LEASE source for virDomainInterfaceAddresses, read from the file instead of through libvirtd.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { readTextCapped } from "../proc-files.js";
import { parseIp } from "./ip-address.js";
import { splitJsonArray } from "./json-array.js";
import { quote, type AddressProblems } from "./problems.js";
import { normalizeMac, type AddressSighting } from "./sighting.js";

export const DEFAULT_LEASE_DIR = "/var/lib/libvirt/dnsmasq";
/** One network's leases; a /16 full of leases is ~10 MB less than this. */
export const MAX_LEASE_FILE_BYTES = 4 * 1024 * 1024;
/** One status file per libvirt network: far more than any host defines. */
export const MAX_LEASE_FILES = 256;

const STATUS_SUFFIX = ".status";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** libvirt writes expiry-time as a JSON number; its JSON reader also takes a string of digits. */
function expiryOf(v: unknown): number | null {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === "string" && /^\d{1,15}$/.test(v)) return Number(v);
  return null;
}

/**
 * Current leases in one status file. `file` is its name (`<bridge>.status`): problems are
 * prefixed with it and the bridge becomes the sighting's interface. Expired leases are left out
 * silently (libvirt prunes them only when the next lease event rewrites the file); an expiry of 0
 * is an infinite lease. A lease without "mac-address" (DHCPv6 identified by DUID only) cannot be
 * tied to a NIC and is left out silently too. `truncated`: the text is the start of a longer file.
 */
export function parseLeaseStatus(text: string, file: string, nowSec: number, problems: AddressProblems, truncated = false): AddressSighting[] {
  const dev = file.endsWith(STATUS_SUFFIX) ? file.slice(0, -STATUS_SUFFIX.length) : file;
  const split = splitJsonArray(text);
  if (truncated) problems.add(`${file}: larger than ${MAX_LEASE_FILE_BYTES} bytes; used the ${split.items.length} leases read in full`);
  else if (split.problem) problems.add(`${file}: ${split.problem}`);
  const out: AddressSighting[] = [];
  split.items.forEach((itemText, index) => {
    const where = `${file}: lease ${index}`;
    let lease: unknown;
    try {
      lease = JSON.parse(itemText);
    } catch {
      return problems.add(`${where}: not valid JSON`);
    }
    if (!isObject(lease)) return problems.add(`${where}: not an object`);
    const ip = parseIp(lease["ip-address"]);
    if (!ip) return problems.add(`${where}: bad ip-address ${quote(lease["ip-address"])}`);
    if (lease["mac-address"] === undefined) return;
    const mac = normalizeMac(lease["mac-address"]);
    if (!mac) return problems.add(`${where}: bad mac-address ${quote(lease["mac-address"])}`);
    const expiry = expiryOf(lease["expiry-time"]);
    if (expiry === null) return problems.add(`${where}: bad expiry-time ${quote(lease["expiry-time"])}`);
    if (expiry !== 0 && expiry < nowSec) return;
    out.push({ mac, ip, dev, source: "lease" });
  });
  return out;
}

/**
 * Current leases of every `*.status` file in dir, in file-name order. A missing directory is a
 * host without libvirt networks: no leases, no problem. Anything else that goes wrong is reported
 * and costs only the file it happened in.
 */
export async function readLeaseSightings(dir: string, nowSec: number, problems: AddressProblems): Promise<AddressSighting[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(STATUS_SUFFIX) && n.length > STATUS_SUFFIX.length).sort();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== "ENOENT") problems.add(`lease directory ${dir}: ${err.code ?? err.message}`);
    return [];
  }
  if (names.length > MAX_LEASE_FILES) {
    problems.add(`lease directory ${dir}: ${names.length} status files; read the first ${MAX_LEASE_FILES}`);
    names = names.slice(0, MAX_LEASE_FILES);
  }
  const out: AddressSighting[] = [];
  for (const name of names) {
    let read: { text: string; truncated: boolean };
    try {
      read = await readTextCapped(join(dir, name), MAX_LEASE_FILE_BYTES);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      problems.add(`${name}: cannot read: ${err.code ?? err.message}`);
      continue;
    }
    for (const s of parseLeaseStatus(read.text, name, nowSec, problems, read.truncated)) out.push(s);
  }
  return out;
}

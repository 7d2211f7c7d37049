// LLDP neighbours from lldpd's `lldpctl -f json`. That format changes shape with the data
// (one interface: an object keyed by name; several: an array of one-key objects; one
// management address: a string, several: an array; unnamed chassis: no name level), so every
// level is parsed defensively. A missing lldpctl or a stopped lldpd is "not available", not an error.
import { execFile } from "node:child_process";

export interface LldpNeighbour {
  /** Local interface the neighbour was seen on. */
  interface: string;
  chassisName: string | null;
  chassisId: string | null;
  portId: string | null;
  portDescription: string | null;
  /** First IPv4 management address, else the first one. */
  mgmtIp: string | null;
}

export interface LldpData {
  available: boolean;
  /** Why not available (lldpctl missing, lldpd not running). */
  reason?: string;
  neighbours: LldpNeighbour[];
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** [{k: v}, {k2: v2}] or {k: v, k2: v2} → [[k, v], [k2, v2]] */
function entries(v: Json): [string, Json][] {
  if (Array.isArray(v)) return v.filter(isObject).flatMap((o) => Object.entries(o));
  return isObject(v) ? Object.entries(v) : [];
}

function text(v: Json): string | null {
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  if (Array.isArray(v)) return text(v[0]);
  if (isObject(v) && "value" in v) return text(v.value);  // json0 style {value: "..."}
  return null;
}

function list(v: Json): string[] {
  return (Array.isArray(v) ? v : [v]).map(text).filter((s): s is string => s !== null);
}

/** The chassis level is keyed by system name, or holds id/descr directly when there is no name. */
function chassisOf(v: Json): { name: string | null; body: Record<string, Json> } {
  const c = Array.isArray(v) ? v[0] : v;
  if (!isObject(c)) return { name: null, body: {} };
  if ("id" in c || "descr" in c || "mgmt-ip" in c) return { name: text(c.name), body: c };
  const [name, body] = Object.entries(c)[0] ?? [null, {}];
  return { name, body: isObject(body) ? body : {} };
}

function neighbour(iface: string, body: Json): LldpNeighbour {
  const b = isObject(body) ? body : {};
  const { name, body: ch } = chassisOf(b.chassis);
  const port = isObject(b.port) ? b.port : Array.isArray(b.port) && isObject(b.port[0]) ? b.port[0] : {};
  const ips = list(ch["mgmt-ip"]);
  return {
    interface: iface,
    chassisName: name,
    chassisId: isObject(ch.id) ? text(ch.id.value) : text(ch.id),
    portId: isObject(port.id) ? text(port.id.value) : text(port.id),
    portDescription: text(port.descr),
    mgmtIp: ips.find((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip)) ?? ips[0] ?? null,
  };
}

/** Parses `lldpctl -f json` output; throws only on text that is not JSON at all. */
export function parseLldpctlJson(output: string): LldpNeighbour[] {
  const root: Json = JSON.parse(output);
  const lldp = isObject(root) ? root.lldp : undefined;
  const ifaces = isObject(lldp) ? lldp.interface : Array.isArray(lldp) && isObject(lldp[0]) ? lldp[0].interface : undefined;
  return entries(ifaces)
    .map(([name, body]) => neighbour(name, body))
    .sort((a, b) => a.interface.localeCompare(b.interface) || (a.chassisId ?? "").localeCompare(b.chassisId ?? ""));
}

/** lldpctl from env LLDPCTL (tests, unusual paths), else from PATH. */
export function collectLldp(lldpctl = process.env.LLDPCTL || "lldpctl", timeoutMs = 10_000): Promise<LldpData> {
  return new Promise((resolve, reject) => {
    execFile(lldpctl, ["-f", "json"], { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return resolve({ available: false, reason: `${lldpctl} not found`, neighbours: [] });
        if (err.killed) return reject(new Error(`${lldpctl} timed out after ${timeoutMs} ms`));
        // lldpctl exits non-zero when it cannot reach lldpd's socket: lldpd is not running.
        // Drop lldpctl's timestamp prefix: the reason must not change from run to run.
        const why = (String(stderr).trim().split("\n").pop() || err.message).replace(/^\S+ \[[^\]]*\] /, "");
        return resolve({ available: false, reason: `lldpd not reachable: ${why}`, neighbours: [] });
      }
      try {
        resolve({ available: true, neighbours: parseLldpctlJson(String(stdout)) });
      } catch (e) {
        reject(new Error(`${lldpctl} printed invalid JSON: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
  });
}

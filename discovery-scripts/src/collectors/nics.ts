// Network interfaces: names, MACs, MTU and state from /sys/class/net; addresses from
// os.networkInterfaces() (getifaddrs). /sys lists interfaces without addresses too (bridge
// ports, tap devices of guests), which is what ties guests to bridges in the graph.
import os from "node:os";
import { readdir, readlink, stat } from "node:fs/promises";
import { readValue } from "../proc-files.js";

export interface NicAddress {
  family: "IPv4" | "IPv6";
  address: string;
  prefixLength: number | null;
  /** IPv6 scope id (zone), 0 for global addresses. */
  scopeId?: number;
}

export type NicKind = "loopback" | "physical" | "bridge" | "bond" | "vlan" | "virtual";

export interface Nic {
  name: string;
  ifindex: number | null;
  mac: string | null;
  mtu: number | null;
  /** operstate: up, down, unknown, dormant, lowerlayerdown, ... */
  state: string | null;
  kind: NicKind;
  /** Bridge or bond this interface is enslaved to. */
  master: string | null;
  /** Link speed of physical NICs in Mb/s; null when unknown or down. */
  speedMbps: number | null;
  addresses: NicAddress[];
}

export interface NicsData {
  interfaces: Nic[];
}

const SYS = "/sys/class/net";

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function int(v: string | undefined): number | null {
  const n = v === undefined ? NaN : parseInt(v, 10);
  return Number.isFinite(n) ? n : null;
}

async function kindOf(name: string, type: number | null): Promise<NicKind> {
  if (type === 772) return "loopback";  // ARPHRD_LOOPBACK
  if (await exists(`${SYS}/${name}/bridge`)) return "bridge";
  if (await exists(`${SYS}/${name}/bonding`)) return "bond";
  const uevent = (await readValue(`${SYS}/${name}/uevent`)) ?? "";
  if (/^DEVTYPE=vlan$/m.test(uevent)) return "vlan";
  // Physical devices have a bus device behind them; virtual ones live under devices/virtual.
  return (await exists(`${SYS}/${name}/device`)) ? "physical" : "virtual";
}

async function master(name: string): Promise<string | null> {
  try {
    return (await readlink(`${SYS}/${name}/master`)).split("/").pop() ?? null;
  } catch {
    return null;
  }
}

function addressesByName(): Map<string, NicAddress[]> {
  const out = new Map<string, NicAddress[]>();
  for (const [label, list] of Object.entries(os.networkInterfaces())) {
    // IPv4 alias labels ("eth0:1") belong to the base interface.
    const name = label.replace(/:.*$/, "");
    const addrs = out.get(name) ?? [];
    for (const a of list ?? []) {
      const prefix = a.cidr ? int(a.cidr.split("/")[1]) : null;
      addrs.push(a.family === "IPv6"
        ? { family: "IPv6", address: a.address, prefixLength: prefix, scopeId: a.scopeid ?? 0 }
        : { family: "IPv4", address: a.address, prefixLength: prefix });
    }
    out.set(name, addrs);
  }
  return out;
}

export async function collectNics(): Promise<NicsData> {
  const addrs = addressesByName();
  let names: string[];
  try {
    names = await readdir(SYS);
  } catch {
    names = [...addrs.keys()];  // no sysfs (containers without /sys): addresses only
  }
  for (const n of addrs.keys()) if (!names.includes(n)) names.push(n);
  const interfaces = await Promise.all(names.sort().map(async (name): Promise<Nic> => {
    const type = int(await readValue(`${SYS}/${name}/type`));
    const kind = await kindOf(name, type);
    const mac = (await readValue(`${SYS}/${name}/address`)) || null;
    const speed = kind === "physical" ? int(await readValue(`${SYS}/${name}/speed`)) : null;
    return {
      name,
      ifindex: int(await readValue(`${SYS}/${name}/ifindex`)),
      mac: mac ? mac.toLowerCase() : null,
      mtu: int(await readValue(`${SYS}/${name}/mtu`)),
      state: (await readValue(`${SYS}/${name}/operstate`)) ?? null,
      kind,
      master: await master(name),
      speedMbps: speed !== null && speed > 0 ? speed : null,
      addresses: addrs.get(name) ?? [],
    };
  }));
  return { interfaces };
}

// A libvirt virtual network's definition, as far as it says where its guests' addresses mean
// something: a NAT or isolated network is private to its host (every hypervisor may hand out the
// same 192.168.122.x), a routed, open or bridged one is part of the wider network.
import { isIP } from "node:net";
import { child, children, parseXml } from "./xml.js";

export interface NetworkAddress {
  /** the host's own address on the network (libvirt's <ip address>) */
  address: string;
  prefixLength: number;
}

export interface VirtualNetwork {
  name: string;
  /** the host bridge the network's guests are plugged into (virbr0), when it has one */
  bridge: string | null;
  /** <forward mode>: "nat" (also a <forward/> without mode), "route", "open", "bridge", ...; "none" without <forward> (isolated) */
  forward: string;
  /** NAT or isolated: the addresses on it are this host's alone */
  hostLocal: boolean;
  addresses: NetworkAddress[];
}

const HOST_LOCAL_MODES = new Set(["nat", "none"]);

/** 255.255.255.0 → 24; null for a mask that is not contiguous ones then zeros. */
export function netmaskPrefix(mask: string): number | null {
  if (isIP(mask) !== 4) return null;
  const bits = mask.split(".").map((o) => Number(o).toString(2).padStart(8, "0")).join("");
  return /^1*0*$/.test(bits) ? bits.indexOf("0") < 0 ? 32 : bits.indexOf("0") : null;
}

export function parseNetworkXml(xml: string): VirtualNetwork {
  const root = parseXml(xml);
  if (root.name !== "network") throw new Error(`network XML: root is <${root.name}>`);
  const name = child(root, "name")?.text.trim() ?? "";
  if (!name) throw new Error("network XML: no <name>");
  const fwd = child(root, "forward");
  const forward = fwd ? fwd.attrs.mode || "nat" : "none";
  const addresses: NetworkAddress[] = [];
  for (const ip of children(root, "ip")) {
    const address = ip.attrs.address;
    if (!address || !isIP(address)) continue;
    const prefix = ip.attrs.prefix !== undefined ? Number(ip.attrs.prefix) : ip.attrs.netmask ? netmaskPrefix(ip.attrs.netmask) : isIP(address) === 4 ? 24 : 64;
    const max = isIP(address) === 4 ? 32 : 128;
    if (prefix === null || !Number.isInteger(prefix) || prefix < 0 || prefix > max) continue;
    addresses.push({ address: address.toLowerCase(), prefixLength: prefix });
  }
  return { name, bridge: child(root, "bridge")?.attrs.name || null, forward, hostLocal: HOST_LOCAL_MODES.has(forward), addresses };
}

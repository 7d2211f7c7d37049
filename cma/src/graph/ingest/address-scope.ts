/**
 * Where an address means something. libvirt's NAT and isolated networks are private to their
 * hypervisor: every hypervisor's default network hands out the same 192.168.122.x, so such an
 * address names a guest only together with its host and network. Those addresses (and the
 * services on them) are keyed "host/network|address" ("host/network|ip:port"); a routed one is
 * keyed by itself, globally. Loopback and link-local addresses never reach the graph as
 * addresses (input.ts isHostLocal; their services are "host|ip:port").
 *
 * The host-local networks come from each host's libvirt-domains document (its `networks`: the
 * active virtual networks' definitions) and are written to the graph as Network nodes, so a
 * restarted CMA scopes correctly before the hosts report again (GraphIngestor loads them first).
 * An address is scoped when it lies in a subnet of one of the reporting host's host-local
 * networks, or sits on a guest NIC plugged into such a network. A guest's client connection is
 * resolved the same way from its hypervisor: a guest on a NAT network reaching 192.168.122.10
 * reaches its own host's 192.168.122.10, never another's.
 */
import { BlockList, isIP } from "node:net";
import { endpoint, int, ip, isObject, text } from "./input.js";
import type { BadEntry } from "./input.js";
import type { Row } from "../write-batch.js";

export interface NetworkSubnet {
  address: string;
  prefixLength: number;
}

/** A host's virtual network as the libvirt-domains document states it (validated). */
export interface HostNetwork {
  name: string;
  forward: string;
  bridge: string | null;
  hostLocal: boolean;
  subnets: NetworkSubnet[];
}

const NAME_RE = /^[A-Za-z0-9._+-]{1,64}$/;

/** The document's `networks` (absent from older nanoprobes: null, meaning "not stated", not "none"). */
export function documentNetworks(data: Record<string, unknown>, bad: BadEntry): HostNetwork[] | null {
  if (!Array.isArray(data.networks)) return null;
  return data.networks.slice(0, 256).flatMap((n) => {
    const name = isObject(n) ? text(n.name, 64) : null;
    if (!isObject(n) || !name || !NAME_RE.test(name) || typeof n.hostLocal !== "boolean") return bad("network without a valid name and hostLocal"), [];
    const subnets = (Array.isArray(n.addresses) ? n.addresses.slice(0, 16) : []).flatMap((a) => {
      const address = isObject(a) ? ip(a.address) : null;
      const prefixLength = isObject(a) ? int(a.prefixLength, 0, address && isIP(address) === 6 ? 128 : 32) : null;
      if (!address || prefixLength === null) return bad(`bad address on network ${name}`), [];
      return [{ address, prefixLength }];
    });
    return [{ name, forward: text(n.forward, 32) ?? "unknown", bridge: text(n.bridge, 64), hostLocal: n.hostLocal, subnets }];
  });
}

interface ScopedNetwork {
  scope: string;
  name: string;
  subnets: BlockList;
}

/** The host-local networks the graph holds (GraphIngestor loads them at start). */
export const HOST_LOCAL_NETWORKS = "MATCH (h:Host)-[:HAS_NETWORK]->(n:Network) WHERE n.present = true AND n.hostLocal = true RETURN h.name AS host, n.name AS name, n.subnets AS subnets";

export const networkKey = (host: string, network: string): string => `${host}/${network}`;

/** "scope|text" for a scoped address or endpoint, the text alone for a global one. */
export const scoped = (scope: string | null, text: string): string => (scope ? `${scope}|${text}` : text);

/** A Network's subnets as one property ("192.168.122.1/24,fd00::1/64": properties are scalars), and back. */
export const formatSubnets = (subnets: readonly NetworkSubnet[]): string => subnets.map((s) => `${s.address}/${s.prefixLength}`).join(",");
export function parseSubnets(text: string): NetworkSubnet[] {
  return text.split(",").filter(Boolean).map((x) => {
    const slash = x.lastIndexOf("/");
    return { address: x.slice(0, slash), prefixLength: Number(x.slice(slash + 1)) };
  });
}

/** An IPAddr row: the key, the address alone and its scope. */
export type AddressRow = Row & { address: string };

function addressRow(address: string, scope: string | null, at: number): AddressRow {
  return { address: scoped(scope, address), ip: address, scope, family: isIP(address) === 6 ? "IPv6" : "IPv4", firstSeen: at, updatedAt: at };
}

export class AddressScopes {
  private readonly byHost = new Map<string, ScopedNetwork[]>();
  private readonly stated = new Map<string, string>();
  /** per host, the networks (fingerprint) its addresses were last keyed under */
  private readonly keyedUnder = new Map<string, string>();

  /**
   * A host's networks now; true when its host-local networks changed since an address of the host
   * was keyed (what was keyed then would be keyed otherwise now).
   */
  set(host: string, networks: readonly Pick<HostNetwork, "name" | "hostLocal" | "subnets">[]): boolean {
    const local = networks.filter((n) => n.hostLocal).sort((a, b) => a.name.localeCompare(b.name));
    const fingerprint = JSON.stringify(local.map((n) => [n.name, n.subnets.map((s) => `${s.address}/${s.prefixLength}`)]));
    if ((this.stated.get(host) ?? "[]") === fingerprint) return false;
    this.stated.set(host, fingerprint);
    const keyed = this.keyedUnder.get(host);
    this.keyedUnder.delete(host);
    if (!local.length) this.byHost.delete(host);
    else this.byHost.set(host, local.map((n) => ({ scope: networkKey(host, n.name), name: n.name, subnets: subnetList(n.subnets) })));
    return keyed !== undefined && keyed !== fingerprint;
  }

  forget(host: string): void {
    this.byHost.delete(host);
    this.stated.delete(host);
    this.keyedUnder.delete(host);
  }

  /** The scope of `address` seen from `host` ("host/network"), or null: routed, global. */
  scopeOf(host: string, address: string, network?: string | null): string | null {
    this.keyedUnder.set(host, this.stated.get(host) ?? "[]");
    const nets = this.byHost.get(host);
    if (!nets) return null;
    if (network) {
      const named = nets.find((n) => n.name === network);
      if (named) return named.scope;
    }
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    return nets.find((n) => n.subnets.check(address, family))?.scope ?? null;
  }

  /** The IPAddr row of `address` seen from `host` (on a NIC of `network`, if known), keyed in its scope. */
  addressRow(host: string, address: string, at: number, network?: string | null): AddressRow {
    return addressRow(address, this.scopeOf(host, address, network), at);
  }

  /** address:port seen from `host`: the Service key, its scope and its address's IPAddr row. */
  endpoint(host: string, address: string, port: number, at: number): { key: string; scope: string | null; address: AddressRow } {
    const scope = this.scopeOf(host, address);
    return { key: scoped(scope, endpoint(address, port)), scope, address: addressRow(address, scope, at) };
  }
}

function subnetList(subnets: readonly NetworkSubnet[]): BlockList {
  const list = new BlockList();
  for (const s of subnets) {
    const family = isIP(s.address) === 6 ? "ipv6" : "ipv4";
    // the network's own address with its prefix: BlockList masks the host bits itself
    list.addSubnet(s.address, s.prefixLength, family);
  }
  return list;
}

/** discovertype "libvirt-domains": the host's full list of guests (see domains.ts). */
import type { DiscoveryIngest } from "./discovery-ingest.js";
import { guestWrites } from "./domains.js";
import type { GuestShape } from "./domains.js";
import { UUID_RE, int, isObject, listField, mac, text } from "./input.js";
import type { BadEntry } from "./input.js";

const DEVICE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function guest(d: unknown, bad: BadEntry): GuestShape | undefined {
  if (!isObject(d) || typeof d.uuid !== "string" || !UUID_RE.test(d.uuid) || !text(d.name, 255)) {
    bad("domain without a valid uuid and name");
    return undefined;
  }
  const disks = (Array.isArray(d.disks) ? d.disks.slice(0, 256) : []).flatMap((k) => {
    const target = isObject(k) ? text(k.target, 64) : null;
    if (!isObject(k) || !target || !DEVICE_NAME.test(target)) return bad(`disk without a target on ${d.name as string}`), [];
    return [{ target, source: text(k.source), device: text(k.device, 32), type: text(k.type, 32), format: text(k.format, 32) }];
  });
  const nics = (Array.isArray(d.nics) ? d.nics.slice(0, 256) : []).flatMap((n) => {
    if (!isObject(n)) return bad(`bad NIC on ${d.name as string}`), [];
    const target = text(n.target, 64);
    const addresses = Array.isArray(n.addresses)
      ? n.addresses.slice(0, 64).flatMap((a) => (isObject(a) && typeof a.address === "string" ? [{ address: a.address, prefixLength: int(a.prefixLength, 0, 128) }] : typeof a === "string" ? [{ address: a, prefixLength: null }] : []))
      : undefined;
    return [{ target: target && DEVICE_NAME.test(target) ? target : null, mac: mac(n.mac), bridge: text(n.bridge, 64), network: text(n.network, 255), type: text(n.type, 32), addresses }];
  });
  return { uuid: d.uuid.toLowerCase(), name: d.name as string, state: text(d.state, 32), vcpus: int(d.vcpus, 0, 1 << 20), memoryKiB: int(d.memoryKiB), disks, nics };
}

export const libvirtDomainsIngest: DiscoveryIngest = {
  discovertype: "libvirt-domains",
  build(host, data, at, bad) {
    const guests = listField(data, "domains", 10_000).map((d) => guest(d, bad)).filter((g): g is GuestShape => g !== undefined);
    return guestWrites(host, guests, at, true);
  },
};

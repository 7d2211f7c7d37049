// Devices of a domain from its XML: the disk and NIC targets drive per-device stats, the
// sources/MACs/bridges feed the inventory.
import { child, children, parseXml } from "./xml.js";
import type { XmlElement } from "./xml.js";

export interface DiskDevice {
  /** Guest device name, e.g. vda: the name block stats are asked for. */
  target: string;
  bus?: string;
  /** disk, cdrom, floppy, lun */
  device: string;
  /** file, block, network, volume, dir */
  type: string;
  /** File path, block device, network name (pool/volume for type=volume); absent for an empty drive. */
  source?: string;
  format?: string;
}

export interface NicDevice {
  /** Host-side interface name, e.g. vnet3: the name interface stats are asked for. */
  target?: string;
  mac?: string;
  /** network, bridge, ethernet, direct, user, ... */
  type: string;
  bridge?: string;
  network?: string;
  /** direct (macvtap) parent device */
  sourceDev?: string;
  model?: string;
}

/**
 * The namespace of ringwatch's element in a domain's <metadata>: operators tag guests with
 * `virsh metadata DOMAIN --uri urn:ringwatch:tags --key ringwatch --set '<tags>web prod</tags>'`
 * (libvirt keeps custom metadata per namespace), and ladder policies name those tags.
 */
export const TAGS_NAMESPACE = "urn:ringwatch:tags";
/** A tag: a word of letters, digits and . _ : - (the same bounds as @ringwatch/shared's guest-tags.ts, which the CMA checks again). */
export const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** At most this many tags per guest are kept: a policy needs a few, not a document. */
export const MAX_TAGS = 32;

export interface DomainDevices {
  name: string;
  /** ringwatch tags from the domain's metadata (TAGS_NAMESPACE), valid ones only, in order, at most MAX_TAGS */
  tags: string[];
  uuid: string;
  /** <vcpu> value: the maximum vCPU count */
  maxVcpus: number;
  disks: DiskDevice[];
  nics: NicDevice[];
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export function parseDomainXml(xml: string): DomainDevices {
  const dom = parseXml(xml);
  if (dom.name !== "domain") throw new Error(`expected <domain>, got <${dom.name}>`);
  const devices = child(dom, "devices");
  const disks: DiskDevice[] = [];
  for (const d of children(devices, "disk")) {
    const target = child(d, "target")?.attrs.dev;
    if (!target) continue;  // no target: libvirt cannot report stats for it either
    const src = child(d, "source")?.attrs ?? {};
    const source = src.file ?? src.dev ?? src.name ?? src.dir ??
      (src.pool && src.volume ? `${src.pool}/${src.volume}` : undefined);
    disks.push(defined({
      target,
      bus: child(d, "target")?.attrs.bus,
      device: d.attrs.device ?? "disk",
      type: d.attrs.type ?? "file",
      source,
      format: child(d, "driver")?.attrs.type,
    }));
  }
  const nics: NicDevice[] = [];
  for (const n of children(devices, "interface")) {
    const src = child(n, "source")?.attrs ?? {};
    const type = n.attrs.type ?? "unknown";
    nics.push(defined({
      target: child(n, "target")?.attrs.dev,
      mac: child(n, "mac")?.attrs.address?.toLowerCase(),
      type,
      bridge: src.bridge,
      network: src.network,
      sourceDev: type === "direct" ? src.dev : undefined,
      model: child(n, "model")?.attrs.type,
    }));
  }
  return {
    name: child(dom, "name")?.text.trim() ?? "",
    tags: tagsOf(child(dom, "metadata")),
    uuid: child(dom, "uuid")?.text.trim() ?? "",
    maxVcpus: Number(child(dom, "vcpu")?.text.trim() ?? 0),
    disks,
    nics,
  };
}

/** The words of ringwatch's metadata element (whatever prefix libvirt gave its namespace); invalid words are skipped. */
function tagsOf(metadata: XmlElement | undefined): string[] {
  const el = metadata?.children.find((c) => Object.entries(c.attrs).some(([k, v]) => k.startsWith("xmlns") && v === TAGS_NAMESPACE) && c.name.replace(/^.*:/, "") === "tags");
  if (!el) return [];
  const words = el.text.split(/[\s,]+/).filter((w) => TAG_RE.test(w));
  return [...new Set(words)].slice(0, MAX_TAGS);
}

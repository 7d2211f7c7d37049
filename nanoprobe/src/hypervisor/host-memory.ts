/**
 * The hypervisor host's own memory, read from /proc/meminfo.
 *
 * Why /proc/meminfo and not libvirt's node memory stats (virNodeGetMemoryStats): libvirt returns
 * total, free, buffers and cached, not MemAvailable, and "free + buffers + cached" overstates what
 * is usable (shared memory and unreclaimable slab count as cache) and moves with the page cache,
 * which is exactly the noise a leak detector must not see. MemAvailable is the kernel's own
 * estimate of what can be had without swapping. The nanoprobe runs on the hypervisor it watches
 * (DESIGN.md), so the local file is that host's; it costs one small read and no libvirt call, and
 * works whether libvirt is reachable or not.
 */
import { readFile } from "node:fs/promises";

export interface HostMemory {
  totalKiB: number;
  availableKiB: number;
}

/** Parse /proc/meminfo text; throws Error with a clear message when the two fields are missing or absurd. */
export function parseMeminfo(text: string): HostMemory {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text);
    if (!m) throw new Error(`meminfo: no "${name}: <n> kB" line`);
    return Number(m[1]);
  };
  const totalKiB = field("MemTotal");
  const availableKiB = field("MemAvailable");
  if (!(Number.isSafeInteger(totalKiB) && totalKiB > 0 && availableKiB <= totalKiB)) {
    throw new Error(`meminfo: MemAvailable ${availableKiB} kB not within MemTotal ${totalKiB} kB`);
  }
  return { totalKiB, availableKiB };
}

export async function readHostMemory(path = "/proc/meminfo"): Promise<HostMemory> {
  return parseMeminfo(await readFile(path, "utf8"));
}

// CPU model/count/topology/flags from /proc/cpuinfo and memory capacity from /proc/meminfo.
// Only capacities are reported (not free memory or MHz): discovery is inventory, and volatile
// values would make the document "change" on every run.
import os from "node:os";
import { readdir } from "node:fs/promises";
import { colonPairs, readText } from "../proc-files.js";

/** Flags worth knowing about on a hypervisor; the full list is long and says little more. */
export const NOTABLE_CPU_FLAGS = [
  "vmx", "svm", "hypervisor", "lm", "nx", "pae", "pdpe1gb", "aes", "sse4_2", "avx", "avx2",
  "avx512f", "sha_ni", "rdrand", "ept", "npt", "x2apic", "tsc_deadline_timer", "constant_tsc",
  "nonstop_tsc", "ht", "pcid", "invpcid", "md_clear", "ibrs", "ssbd",
] as const;

export interface CpuData {
  model: string;
  vendor: string | null;
  /** Logical CPUs (processor entries). */
  count: number;
  sockets: number | null;
  /** Physical cores over all sockets, when cpuinfo says. */
  cores: number | null;
  /** "vmx" (Intel VT-x), "svm" (AMD-V) or null: whether this host can run KVM guests. */
  virtualization: "vmx" | "svm" | null;
  /** Running as a guest itself. */
  hypervisorGuest: boolean;
  /** Notable flags present (see NOTABLE_CPU_FLAGS). */
  flags: string[];
  flagCount: number;
}

export interface MemoryData {
  totalKiB: number | null;
  swapTotalKiB: number | null;
  hugePagesTotal: number | null;
  hugePageSizeKiB: number | null;
  numaNodes: number | null;
}

export interface CpuMemoryData {
  cpu: CpuData;
  memory: MemoryData;
}

export function parseCpuinfo(text: string): CpuData {
  const blocks = text.split(/\n\s*\n/).map(colonPairs).filter((b) => b.size > 0);
  const procs = blocks.filter((b) => b.has("processor") && /^\d+$/.test(b.get("processor") ?? ""));
  const first = procs[0] ?? blocks[0] ?? new Map<string, string>();
  const flagSet = new Set((first.get("flags") ?? first.get("Features") ?? "").split(/\s+/).filter(Boolean));
  const sockets = new Set(procs.map((p) => p.get("physical id")).filter((v) => v !== undefined));
  const cores = new Set(procs.filter((p) => p.has("core id")).map((p) => `${p.get("physical id")}/${p.get("core id")}`));
  return {
    model: first.get("model name") ?? first.get("Processor") ?? first.get("cpu model") ?? os.cpus()[0]?.model ?? "unknown",
    vendor: first.get("vendor_id") ?? first.get("CPU implementer") ?? null,
    count: procs.length || os.cpus().length,
    sockets: sockets.size || null,
    cores: cores.size || null,
    virtualization: flagSet.has("vmx") ? "vmx" : flagSet.has("svm") ? "svm" : null,
    hypervisorGuest: flagSet.has("hypervisor"),
    flags: NOTABLE_CPU_FLAGS.filter((f) => flagSet.has(f)),
    flagCount: flagSet.size,
  };
}

/** /proc/meminfo values are "N kB" (HugePages_* are plain counts). */
export function parseMeminfo(text: string): Omit<MemoryData, "numaNodes"> {
  const m = colonPairs(text);
  const num = (k: string): number | null => {
    const v = m.get(k);
    const n = v === undefined ? NaN : parseInt(v, 10);
    return Number.isFinite(n) ? n : null;
  };
  return {
    totalKiB: num("MemTotal"),
    swapTotalKiB: num("SwapTotal"),
    hugePagesTotal: num("HugePages_Total"),
    hugePageSizeKiB: num("Hugepagesize"),
  };
}

async function numaNodes(): Promise<number | null> {
  try {
    return (await readdir("/sys/devices/system/node")).filter((n) => /^node\d+$/.test(n)).length || null;
  } catch {
    return null;
  }
}

export async function collectCpuMemory(): Promise<CpuMemoryData> {
  const mem = parseMeminfo((await readText("/proc/meminfo")) ?? "");
  return {
    cpu: parseCpuinfo((await readText("/proc/cpuinfo")) ?? ""),
    memory: { ...mem, totalKiB: mem.totalKiB ?? Math.round(os.totalmem() / 1024), numaNodes: await numaNodes() },
  };
}

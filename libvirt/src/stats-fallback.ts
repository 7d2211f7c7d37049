// Per-domain fallback for drivers whose bulk stats stop at state.* (the test driver): builds the
// same keys and value types virConnectGetAllDomainStats would, so consumers never see a difference.
import type { NativeFallback } from "./binding.js";
import type { DomainDevices } from "./domain-xml.js";
import type { StatParams, StatsGroup } from "./types.js";

/** Groups the fallback can fill (the rest stay bulk-only). */
export const FALLBACK_GROUPS: readonly StatsGroup[] = ["state", "cpu-total", "balloon", "vcpu", "interface", "block"];

/** virDomainState values of a domain that has a running QEMU/driver instance. */
const ACTIVE_STATES = new Set([1, 2, 3, 4, 7]);  // running, blocked, paused, shutdown, pmsuspended

/**
 * True when the bulk call was asked for more than state but returned only state.* for an
 * active domain: then per-domain calls must fill the rest. A stopped domain legitimately has
 * nothing else.
 */
export function needsFallback(groups: readonly StatsGroup[], params: StatParams): boolean {
  if (!groups.some((g) => g !== "state" && FALLBACK_GROUPS.includes(g))) return false;
  const state = params["state.state"];
  if (typeof state === "number" && !ACTIVE_STATES.has(state)) return false;
  return Object.keys(params).every((k) => k.startsWith("state."));
}

/** Bulk balloon.* key for each virDomainMemoryStats tag (balloon.current/maximum come from elsewhere). */
const BALLOON_KEYS = {
  swap_in: "balloon.swap_in",
  swap_out: "balloon.swap_out",
  major_fault: "balloon.major_fault",
  minor_fault: "balloon.minor_fault",
  unused: "balloon.unused",
  available: "balloon.available",
  usable: "balloon.usable",
  rss: "balloon.rss",
  last_update: "balloon.last-update",
  disk_caches: "balloon.disk_caches",
  hugetlb_pgalloc: "balloon.hugetlb_pgalloc",
  hugetlb_pgfail: "balloon.hugetlb_pgfail",
} as const;

/** Per-device counters: libvirt uses -1 for "not supported", which bulk simply omits. */
function putCounter(out: StatParams, key: string, v: bigint): void {
  if (v >= 0n) out[key] = v;
}

/** The disk and NIC targets to ask per-device stats for, in XML order (as bulk numbers them). */
export function fallbackTargets(devices: DomainDevices): { disks: string[]; nics: string[] } {
  return {
    disks: devices.disks.map((d) => d.target),
    nics: devices.nics.flatMap((n) => (n.target ? [n.target] : [])),
  };
}

/**
 * Bulk-style params from the per-domain data. `disks`/`nics` are the target lists that were sent
 * to the addon (same order as raw.blocks/raw.nets). Notes on fidelity:
 * - cpu.time is virDomainGetInfo's cpuTime (the same cgroup counter bulk reads on QEMU);
 *   cpu.user/cpu.system come from virDomainGetCPUStats when the driver has them.
 * - vcpu.N.wait / vcpu.N.delay exist only in bulk (no per-domain API), so they are absent here.
 */
export function fallbackParams(
  groups: readonly StatsGroup[], raw: NativeFallback, devices: DomainDevices,
  disks: readonly string[], nics: readonly string[],
): StatParams {
  const out: StatParams = {};
  const want = new Set(groups);
  const info = raw.info;
  if (want.has("state")) {
    out["state.state"] = info.stateCode;
    out["state.reason"] = info.reason;
  }
  if (!info.active) return out;

  if (want.has("cpu-total")) {
    out["cpu.time"] = info.cpuTime;
    const user = raw.cpu?.user_time;
    const system = raw.cpu?.system_time;
    if (typeof user === "bigint") out["cpu.user"] = user;
    if (typeof system === "bigint") out["cpu.system"] = system;
  }

  if (want.has("balloon")) {
    out["balloon.current"] = raw.memory?.actual ?? BigInt(info.memoryKiB);
    out["balloon.maximum"] = BigInt(info.maxMemKiB);
    if (raw.memory) {
      for (const [tag, key] of Object.entries(BALLOON_KEYS) as [keyof typeof BALLOON_KEYS, string][]) {
        const v = raw.memory[tag];
        if (v !== undefined) out[key] = v;
      }
    }
  }

  if (want.has("vcpu") && raw.vcpus) {
    out["vcpu.current"] = raw.vcpus.current;
    if (raw.vcpus.maximum >= 0) out["vcpu.maximum"] = raw.vcpus.maximum;
    for (const v of raw.vcpus.vcpus) {
      out[`vcpu.${v.number}.state`] = v.state;
      out[`vcpu.${v.number}.time`] = v.cpuTime;
    }
  }

  if (want.has("interface")) {
    out["net.count"] = nics.length;
    nics.forEach((name, i) => {
      out[`net.${i}.name`] = name;
      const s = raw.nets[i];
      if (!s) return;
      putCounter(out, `net.${i}.rx.bytes`, s.rxBytes);
      putCounter(out, `net.${i}.rx.pkts`, s.rxPackets);
      putCounter(out, `net.${i}.rx.errs`, s.rxErrs);
      putCounter(out, `net.${i}.rx.drop`, s.rxDrop);
      putCounter(out, `net.${i}.tx.bytes`, s.txBytes);
      putCounter(out, `net.${i}.tx.pkts`, s.txPackets);
      putCounter(out, `net.${i}.tx.errs`, s.txErrs);
      putCounter(out, `net.${i}.tx.drop`, s.txDrop);
    });
  }

  if (want.has("block")) {
    out["block.count"] = disks.length;
    disks.forEach((name, i) => {
      out[`block.${i}.name`] = name;
      const path = devices.disks.find((d) => d.target === name)?.source;
      if (path !== undefined) out[`block.${i}.path`] = path;
      const s = raw.blocks[i];
      if (!s) return;
      putCounter(out, `block.${i}.rd.reqs`, s.rdReq);
      putCounter(out, `block.${i}.rd.bytes`, s.rdBytes);
      putCounter(out, `block.${i}.wr.reqs`, s.wrReq);
      putCounter(out, `block.${i}.wr.bytes`, s.wrBytes);
    });
  }
  return out;
}

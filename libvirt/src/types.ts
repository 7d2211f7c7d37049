// Public types of the libvirt layer.

/** A typed-parameter value as libvirt reports it: 64-bit counters are BigInt (exact above 2^53). */
export type StatValue = bigint | number | boolean | string;
export type StatParams = Record<string, StatValue>;

/** Groups accepted by virConnectGetAllDomainStats, by their virsh/libvirt names. */
export type StatsGroup =
  | "state" | "cpu-total" | "balloon" | "vcpu" | "interface" | "block"
  | "perf" | "iothread" | "memory" | "dirtyrate" | "vm";

/** The groups the nanoprobe collects every sample (named explicitly: asking for all is slower). */
export const DEFAULT_STATS_GROUPS: readonly StatsGroup[] = ["state", "cpu-total", "balloon", "vcpu", "interface", "block"];

/** VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT: skip domains whose job lock is busy instead of waiting. */
export const STATS_NOWAIT = 1 << 29;

export interface DomainStatsRecord {
  uuid: string;
  name: string;
  params: StatParams;
  /** "bulk" when virConnectGetAllDomainStats supplied the data, "fallback" when per-domain calls filled it. */
  source: "bulk" | "fallback";
}

export type DomainState =
  | "nostate" | "running" | "blocked" | "paused" | "shutdown" | "shutoff" | "crashed" | "pmsuspended" | "unknown";

export interface DomainSummary {
  uuid: string;
  name: string;
  /** Hypervisor id while running, null when inactive. */
  id: number | null;
  state: DomainState;
  /** virDomainState number (the value of state.state in stats). */
  stateCode: number;
  reason: number;
  active: boolean;
  persistent: boolean;
  maxMemKiB: number;
  memoryKiB: number;
  vcpus: number;
  /** Nanoseconds, exact. */
  cpuTime: bigint;
}

export interface VcpuInfo { number: number; state: number; cpuTime: bigint; cpu: number }
export interface VcpuStats { current: number; maximum: number; vcpus: VcpuInfo[] }

/** virDomainBlockStats; -1n marks a counter the driver does not provide. */
export interface BlockStats { rdReq: bigint; rdBytes: bigint; wrReq: bigint; wrBytes: bigint; errs: bigint }

/** virDomainInterfaceStats; -1n marks a counter the driver does not provide. */
export interface InterfaceStats {
  rxBytes: bigint; rxPackets: bigint; rxErrs: bigint; rxDrop: bigint;
  txBytes: bigint; txPackets: bigint; txErrs: bigint; txDrop: bigint;
}

/** virDomainMemoryStats by tag name (actual, rss, available, usable, swap_in, ...), KiB or counts. */
export type MemoryStats = Partial<Record<MemoryStatName, bigint>>;
export type MemoryStatName =
  | "swap_in" | "swap_out" | "major_fault" | "minor_fault" | "unused" | "available" | "actual"
  | "rss" | "usable" | "last_update" | "disk_caches" | "hugetlb_pgalloc" | "hugetlb_pgfail";

/** libvirt's lifecycle events, and "watchdog": a guest's watchdog fired (its action is the detail). */
export type LifecycleEventName =
  | "defined" | "undefined" | "started" | "suspended" | "resumed" | "stopped" | "shutdown"
  | "pmsuspended" | "crashed" | "watchdog" | "unknown";

export interface LifecycleEvent {
  uuid: string;
  name: string;
  event: LifecycleEventName;
  /** virDomainEventType number. */
  eventCode: number;
  /** Event-specific detail number and its libvirt name (e.g. stopped/destroyed). */
  detail: number;
  detailName: string;
}

export type DomainAction = "reboot" | "shutdown" | "reset" | "destroy" | "create" | "suspend" | "resume";

/** How a reboot is asked of the guest: the ACPI power button (default) or the QEMU guest agent. */
export type RebootMode = "acpi" | "agent";

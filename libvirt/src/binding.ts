// Loads the native addon and describes its raw (untyped at runtime) surface.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type {
  BlockStats, DomainSummary, InterfaceStats, LifecycleEventName, MemoryStats, StatParams, VcpuStats,
} from "./types.js";

/** Domain summary as the addon returns it (id -1 for inactive domains). */
export type NativeDomainSummary = Omit<DomainSummary, "id"> & { id: number };

export interface NativeStatsRecord { uuid: string; name: string; params: StatParams }

export interface NativeFallback {
  info: NativeDomainSummary;
  cpu?: StatParams;
  memory?: MemoryStats;
  vcpus?: VcpuStats;
  /** One entry per requested disk/NIC target, null where the call failed. */
  blocks: (BlockStats | null)[];
  nets: (InterfaceStats | null)[];
  errors: string[];
}

export interface NativeLifecycleEvent {
  uuid: string;
  name: string;
  event: LifecycleEventName;
  eventCode: number;
  detail: number;
}

export interface NativeConnection {
  close(): Promise<void>;
  isClosed(): boolean;
  listDomains(): Promise<NativeDomainSummary[]>;
  /** the XML of every active virtual network */
  networkXmls(): Promise<string[]>;
  getAllDomainStats(groups: string[], flags: number): Promise<NativeStatsRecord[]>;
  getDomainInfo(uuid: string): Promise<NativeDomainSummary>;
  getXMLDesc(uuid: string, flags: number): Promise<string>;
  getVcpus(uuid: string): Promise<VcpuStats>;
  getCPUStats(uuid: string): Promise<StatParams>;
  memoryStats(uuid: string): Promise<MemoryStats>;
  blockStats(uuid: string, dev: string): Promise<BlockStats>;
  interfaceStats(uuid: string, dev: string): Promise<InterfaceStats>;
  domainFallbackStats(
    uuid: string, sections: { cpu: boolean; balloon: boolean; vcpu: boolean }, disks: string[], nics: string[],
  ): Promise<NativeFallback>;
  /** flags: virDomainRebootFlagValues / virDomainShutdownFlagValues, reboot and shutdown only */
  domainAction(uuid: string, action: string, flags?: number): Promise<void>;
  /** virDomainQemuAgentCommand: the agent's reply (JSON text) */
  agentCommand(uuid: string, json: string, timeoutSeconds: number): Promise<string>;
  startLifecycleEvents(listener: (ev: NativeLifecycleEvent) => void): Promise<void>;
  stopLifecycleEvents(): Promise<void>;
  refEvents(): void;
  unrefEvents(): void;
  /** libvirt's close callback: listener(virConnectCloseReason); false when not registered. Never keeps the process alive. */
  onClose(listener: (reason: number) => void): boolean;
}

export interface NativeBinding {
  open(uri: string, readOnly?: boolean): Promise<NativeConnection>;
  /** major * 1_000_000 + minor * 1_000 + micro */
  libvirtVersion(): number;
}

/** Where `npm ci` (node-gyp, see libvirt/package.json) puts the addon; overridable for packaging. */
export function addonPath(): string {
  const override = process.env.RINGWATCH_LIBVIRT_ADDON;
  if (override) return override;
  // dist/src/binding.js -> libvirt/native/build/Release
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, "../../native/build/Release/nanoprobe_libvirt.node");
}

let cached: NativeBinding | undefined;

/** Loads the addon once; a missing build gets an error that says how to build it. */
export function loadBinding(): NativeBinding {
  if (cached) return cached;
  const file = addonPath();
  const require = createRequire(import.meta.url);
  try {
    cached = require(file) as NativeBinding;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cannot load the libvirt addon at ${file} (${msg}); build it with ` +
        "`npm run build:native -w libvirt` (needs libvirt-dev, pkg-config, g++)",
    );
  }
  return cached;
}

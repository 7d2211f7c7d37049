// LibvirtConnection: the typed face of the native addon for the nanoprobe.
import { EventEmitter } from "node:events";
import { loadBinding, type NativeConnection, type NativeDomainSummary } from "./binding.js";
import { parseDomainXml, type DomainDevices } from "./domain-xml.js";
import { parseNetworkXml, type VirtualNetwork } from "./network-xml.js";
import { LibvirtError, call } from "./errors.js";
import { REBOOT_GUEST_AGENT, SHUTDOWN_GUEST_AGENT } from "./guest-agent.js";
import { lifecycleDetailName } from "./lifecycle.js";
import { fallbackParams, fallbackTargets, needsFallback } from "./stats-fallback.js";
import {
  DEFAULT_STATS_GROUPS, STATS_NOWAIT,
  type BlockStats, type DomainAction, type DomainStatsRecord, type DomainSummary, type InterfaceStats,
  type LifecycleEvent, type MemoryStats, type RebootMode, type StatParams, type StatsGroup, type VcpuStats,
} from "./types.js";

export interface OpenOptions {
  readOnly?: boolean;
}

export interface StatsOptions {
  /** virConnectGetAllDomainStats flags; default STATS_NOWAIT. */
  flags?: number;
  /** Fill missing groups with per-domain calls when bulk returned only state (default true). */
  fallback?: boolean;
  /** Parallel per-domain fallback calls (each takes a libuv pool thread); default 4. */
  fallbackConcurrency?: number;
}

export interface DomainInventory extends DomainSummary {
  devices: DomainDevices;
}

export type CloseReason = "error" | "eof" | "keepalive" | "client" | "unknown";

export interface LibvirtEvents {
  lifecycle: [LifecycleEvent];
  /** libvirt closed the connection (libvirtd stopped, I/O error, keepalive timeout): reopen to go on */
  closed: [CloseReason];
}

/** virConnectCloseReason by number */
const CLOSE_REASONS: readonly CloseReason[] = ["error", "eof", "keepalive", "client"];

/** VIR_DOMAIN_XML_INACTIVE */
const XML_INACTIVE = 2;
/** Device lists change rarely (hotplug, restart); lifecycle events also invalidate the cache. */
const DEVICE_CACHE_MS = 60_000;

function summary(d: NativeDomainSummary): DomainSummary {
  return { ...d, id: d.id >= 0 ? d.id : null };
}

export class LibvirtConnection {
  /** Emits "lifecycle" after watchLifecycle(), and "closed" when libvirt closes the connection. */
  readonly events = new EventEmitter<LibvirtEvents>();
  private readonly devices = new Map<string, { at: number; devices: DomainDevices }>();
  private watching = false;

  private constructor(readonly uri: string, private readonly native: NativeConnection) {}

  /** Opens a connection (e.g. "qemu:///system", "test:///abs/path.xml"). */
  static async open(uri: string, options: OpenOptions = {}): Promise<LibvirtConnection> {
    const native = await call(loadBinding().open(uri, options.readOnly ?? false));
    const conn = new LibvirtConnection(uri, native);
    // drivers without a close callback (test://) accept it and never call it
    native.onClose((reason) => {
      try {
        conn.events.emit("closed", CLOSE_REASONS[reason] ?? "unknown");
      } catch (e) {
        process.nextTick(() => { throw e; }); // as for lifecycle events: not swallowed by N-API
      }
    });
    return conn;
  }

  /** libvirt library version as major * 1e6 + minor * 1e3 + micro. */
  static libvirtVersion(): number {
    return loadBinding().libvirtVersion();
  }

  get closed(): boolean {
    return this.native.isClosed();
  }

  /** Deregisters events, releases the event callback and the connection; idempotent. */
  async close(): Promise<void> {
    this.watching = false;
    this.devices.clear();
    await call(this.native.close());
  }

  async listDomains(): Promise<DomainSummary[]> {
    return (await call(this.native.listDomains())).map(summary);
  }

  async domainInfo(uuid: string): Promise<DomainSummary> {
    return summary(await call(this.native.getDomainInfo(uuid)));
  }

  async domainXml(uuid: string, options: { inactive?: boolean } = {}): Promise<string> {
    return call(this.native.getXMLDesc(uuid, options.inactive ? XML_INACTIVE : 0));
  }

  /** The active virtual networks; one whose XML cannot be read is left out. */
  async networks(): Promise<VirtualNetwork[]> {
    const xmls = await call(this.native.networkXmls());
    return xmls.flatMap((x) => {
      try {
        return [parseNetworkXml(x)];
      } catch {
        return [];
      }
    });
  }

  /** Parsed disks/NICs of the live definition, cached per domain. */
  async domainDevices(uuid: string, options: { fresh?: boolean } = {}): Promise<DomainDevices> {
    const hit = this.devices.get(uuid);
    if (hit && !options.fresh && Date.now() - hit.at < DEVICE_CACHE_MS) return hit.devices;
    const devices = parseDomainXml(await this.domainXml(uuid));
    this.devices.set(uuid, { at: Date.now(), devices });
    return devices;
  }

  /** Every domain (active and inactive) with its devices. */
  async inventory(): Promise<DomainInventory[]> {
    const domains = await this.listDomains();
    return Promise.all(domains.map(async (d) => ({ ...d, devices: await this.domainDevices(d.uuid, { fresh: true }) })));
  }

  /** One virConnectGetAllDomainStats call, exactly as the driver answers. */
  async bulkStats(groups: readonly StatsGroup[] = DEFAULT_STATS_GROUPS, flags = STATS_NOWAIT): Promise<DomainStatsRecord[]> {
    const recs = await call(this.native.getAllDomainStats([...groups], flags));
    return recs.map((r) => ({ ...r, source: "bulk" as const }));
  }

  /**
   * Bulk stats for all domains; where the driver returned only state.* for an active domain,
   * the same keys are filled from per-domain calls (see stats-fallback.ts).
   */
  async allDomainStats(groups: readonly StatsGroup[] = DEFAULT_STATS_GROUPS, options: StatsOptions = {}): Promise<DomainStatsRecord[]> {
    const recs = await this.bulkStats(groups, options.flags ?? STATS_NOWAIT);
    if (options.fallback === false) return recs;
    const todo = recs.filter((r) => needsFallback(groups, r.params));
    await eachLimited(todo, options.fallbackConcurrency ?? 4, async (r) => {
      try {
        r.params = { ...(await this.fallbackFor(r.uuid, groups)), ...r.params };
        r.source = "fallback";
      } catch {
        // Domain vanished or stopped between the calls: keep what bulk said.
      }
    });
    return recs;
  }

  /** The per-domain equivalent of one bulk record (same keys), for drivers without bulk data. */
  async fallbackFor(uuid: string, groups: readonly StatsGroup[] = DEFAULT_STATS_GROUPS): Promise<StatParams> {
    const devices = await this.domainDevices(uuid);
    const { disks, nics } = fallbackTargets(devices);
    const want = new Set(groups);
    const raw = await call(this.native.domainFallbackStats(
      uuid,
      { cpu: want.has("cpu-total"), balloon: want.has("balloon"), vcpu: want.has("vcpu") },
      want.has("block") ? disks : [],
      want.has("interface") ? nics : [],
    ));
    return fallbackParams(groups, raw, devices, want.has("block") ? disks : [], want.has("interface") ? nics : []);
  }

  vcpus(uuid: string): Promise<VcpuStats> {
    return call(this.native.getVcpus(uuid));
  }

  /** Host totals from virDomainGetCPUStats (cpu_time, user_time, system_time in ns). */
  cpuStats(uuid: string): Promise<StatParams> {
    return call(this.native.getCPUStats(uuid));
  }

  memoryStats(uuid: string): Promise<MemoryStats> {
    return call(this.native.memoryStats(uuid));
  }

  blockStats(uuid: string, target: string): Promise<BlockStats> {
    return call(this.native.blockStats(uuid, target));
  }

  interfaceStats(uuid: string, target: string): Promise<InterfaceStats> {
    return call(this.native.interfaceStats(uuid, target));
  }

  /**
   * Subscribes to lifecycle events ("lifecycle" on this.events). The subscription keeps the
   * process alive until close(), unwatchLifecycle() or unref().
   */
  async watchLifecycle(): Promise<void> {
    if (this.watching) return;
    this.watching = true;
    try {
      await call(this.native.startLifecycleEvents((ev) => {
        // Devices can change on define/start; re-read them on next use.
        this.devices.delete(ev.uuid);
        try {
          this.events.emit("lifecycle", { ...ev, detailName: lifecycleDetailName(ev.event, ev.detail) });
        } catch (e) {
          // Node 20 swallows exceptions thrown inside N-API callbacks (DEP0168): rethrow outside
          // it so a failing listener is an ordinary uncaught error.
          process.nextTick(() => { throw e; });
        }
      }));
    } catch (e) {
      this.watching = false;
      throw e;
    }
  }

  async unwatchLifecycle(): Promise<void> {
    this.watching = false;
    await call(this.native.stopLifecycleEvents());
  }

  /** Let the event subscription keep (ref) or not keep (unref) the process alive. */
  ref(): void {
    this.native.refEvents();
  }

  unref(): void {
    this.native.unrefEvents();
  }

  action(uuid: string, action: DomainAction): Promise<void> {
    return call(this.native.domainAction(uuid, action));
  }

  /**
   * Reboot request: needs a cooperating guest OS. "acpi" (default) presses the power button;
   * "agent" asks the QEMU guest agent (guest-shutdown, mode reboot), which fails when the domain
   * has no agent channel or nothing answers on it (see agentFailure()).
   */
  reboot(uuid: string, options: { mode?: RebootMode } = {}): Promise<void> {
    return call(this.native.domainAction(uuid, "reboot", options.mode === "agent" ? REBOOT_GUEST_AGENT : 0));
  }

  /** Shutdown request, as reboot(): the ACPI power button (default) or the QEMU guest agent (guest-shutdown, mode powerdown). */
  shutdown(uuid: string, options: { mode?: RebootMode } = {}): Promise<void> {
    return call(this.native.domainAction(uuid, "shutdown", options.mode === "agent" ? SHUTDOWN_GUEST_AGENT : 0));
  }

  /**
   * One command to the QEMU guest agent (virDomainQemuAgentCommand), e.g. {"execute":"guest-ping"},
   * on a libuv pool thread. Resolves with the agent's reply (parsed JSON). libvirt first syncs
   * with the agent (guest-sync), so a silent agent holds the call up to about twice
   * timeoutSeconds. Failures are LibvirtErrors with libvirt's code: agentFailure() sorts them.
   */
  async agentCommand(uuid: string, command: string | Record<string, unknown>, timeoutSeconds: number): Promise<unknown> {
    const text = await call(this.native.agentCommand(uuid, typeof command === "string" ? command : JSON.stringify(command), timeoutSeconds));
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new LibvirtError(`the guest agent's reply is not JSON: ${text.slice(0, 200)}`, -1, -1);
    }
  }

  /** guest-ping through the agent: resolves when it answered within timeoutSeconds. */
  async agentPing(uuid: string, timeoutSeconds: number): Promise<void> {
    await this.agentCommand(uuid, { execute: "guest-ping" }, timeoutSeconds);
  }
  /** Hard reset, like the reset button. */
  reset(uuid: string): Promise<void> { return this.action(uuid, "reset"); }
  /** Hard power-off. */
  destroy(uuid: string): Promise<void> { return this.action(uuid, "destroy"); }
  /** Start a defined, inactive domain (virDomainCreate). */
  start(uuid: string): Promise<void> { return this.action(uuid, "create"); }
  suspend(uuid: string): Promise<void> { return this.action(uuid, "suspend"); }
  resume(uuid: string): Promise<void> { return this.action(uuid, "resume"); }
}

/** Runs fn over items with at most `limit` in flight. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(lanes);
}

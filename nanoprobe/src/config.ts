/** Nanoprobe configuration: every option, its default and why. */
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { ConfigError, MAX_CMA_ADDRESSES, clusterOptions, loadConfig, parseCmaAddressList, withDoc } from "@ringwatch/shared";
import type { CommandArgs, Logger, PeerAddress, Schema } from "@ringwatch/shared";
import { DEFAULT_THRESHOLDS } from "./analytics/thresholds.js";
import type { AnalyticsThresholds } from "./analytics/thresholds.js";
import { parseAgentConfig } from "./zabbix-agent-config.js";
import type { SpreadOptions } from "./spread-schedule.js";
import type { AgentConfig } from "./zabbix-agent-config.js";

export { MAX_CMA_ADDRESSES } from "@ringwatch/shared";

const DEFAULT_AGENT_CONFIG = "/etc/zabbix/zabbix_agentd.conf";
const AGENT2_CONFIG = "/etc/zabbix/zabbix_agent2.conf";

export const nanoprobeSchema = {
  identity: { type: "string", default: hostname(), doc: "Host name this nanoprobe reports (the Zabbix host name). Default: Hostname= of the Zabbix agent config (zabbixAgentConfig) when it exists, else the system host name." },
  cluster: clusterOptions.cluster,
  clusterKeyFile: clusterOptions.clusterKeyFile,
  identityKeyFile: { type: "path", default: "/var/lib/ringwatch/host-identity.key", doc: "This host's identity: an Ed25519 key (the CMA pins it) and the X25519 key it signs, created here on first start (mode 0600) or provisioned with 'ringwatch-nanoprobe keygen'. Keep it: a host that comes back with another key is refused until an admin re-keys it." },
  enrollmentTokenFile: { type: "path", allowEmpty: true, default: "", doc: "A one-time enrollment token an admin made for this host ('ringwatch-cma host-keys enroll NAME'), for a CMA whose hostKeyPolicy admits only enrolled hosts: read at start; announcements carry a proof of it bound to this host's name and identity key, never the token. Once admitted the host is pinned and the token is spent: the file can be deleted (a missing file is logged at warn, not an error; one that holds no token stops the start). Empty (default): none." },
  cmaPublicKeyFile: { type: "path", default: "/etc/ringwatch/cma-command.pub", doc: "The CMA's Ed25519 public key, or keys (1 to 4 SPKI PEM blocks, concatenated: the current and the next during a rotation): commands and key blocks not signed by one of them are refused. Re-read on SIGHUP." },
  cma: { type: "string", default: "", doc: `CMA address host:port; with CMAs in high availability, each of them, comma-separated (at most ${MAX_CMA_ADDRESSES}): announcements go to all, and only the leader answers. Empty (default): zero configuration, find the CMA by multicast.` },
  cmaAddressesFile: { type: "path", allowEmpty: true, default: "/var/lib/ringwatch/cma-addresses.json", doc: "Where the list of every CMA the leader sends (CMAs in high availability) is kept, so a host restarted while its configured CMA is down still finds the leader. Empty: kept in memory only." },
  multicastGroup: withDoc(clusterOptions.multicastGroup, "Multicast group announcements go to (Assimilation's IANA-reserved address). Empty: no multicast, only with cma set."),
  // the CMA's port (its channel is also the group's port), seen from here: same type and default
  multicastPort: withDoc(clusterOptions.port, "UDP port of the multicast group (the CMA listens there)."),
  multicastInterface: withDoc(clusterOptions.multicastInterface, "Local address of the interface to announce on. Default: bindAddress, or the system's choice when that is 0.0.0.0."),
  multicastTtl: { type: "int", default: 1, min: 1, max: 32, doc: "Multicast hops; 1 keeps announcements in the local segment (raise it if the CMA is routed)." },
  bindAddress: clusterOptions.bindAddress,
  port: withDoc(clusterOptions.port, "UDP port for the channel and heartbeats (1984: Assimilation's port, kept by convention)."),
  joinIntervalMs: { type: "duration", default: 2000, min: 10, doc: "Announcements start after a random delay in [0, this] and repeat about this often until a CMA answers." },
  joinBackoffMaxMs: { type: "duration", default: 16_000, min: 10, max: 600_000, doc: "Unanswered announcements repeat less and less often, the interval doubling from joinIntervalMs up to this (reset when a CMA answers or asks): 10,000 hosts announcing every second fill the CMA's socket, and the acks of the assignments it is sending drown in the flood." },
  heartbeatMs: withDoc(clusterOptions.heartbeatMs, "Heartbeat interval until the CMA says otherwise (memberlist probes every 1 s too)."),
  warntimeMs: withDoc(clusterOptions.warntimeMs, "A neighbour silent this long is reported late (until the CMA says otherwise)."),
  deadtimeMs: clusterOptions.deadtimeMs,
  libvirtUri: { type: "string", default: "", doc: "libvirt URI of this hypervisor (qemu:///system, xen:///system, test:///path.xml). Empty: rings only, no guest data." },
  libvirtReconnectMaxMs: { type: "duration", default: 10_000, min: 100, max: 300_000, doc: "libvirt unreachable (libvirtd restarting, stopped): reconnect attempts back off from 0.5 s, doubling, to at most this; a restart takes seconds, so 10 s finds it back soon without filling the log." },
  sampleMs: { type: "duration", default: 1000, min: 100, max: 60_000, doc: "Stats sampling interval (0.1 s works; seeds: 1 s sampling, per-minute values)." },
  reportIntervalMs: { type: "duration", default: 60_000, min: 1000, doc: "One compact stats batch per this interval (min/max/avg of every series kept exactly; Zabbix stores per-minute values)." },
  inventoryResendMs: { type: "duration", default: 600_000, min: 1000, doc: "The full guest inventory is resent this often (changes go at once; seed: every 10 min)." },
  guestChecksFile: { type: "path", allowEmpty: true, default: "", doc: "JSON file of service checks of guests from the hypervisor (TCP connect, HTTP status; interval, timeout, failures before unhealthy; README 'Guest health'). Empty: lifecycle faults only (crash, panic, watchdog, I/O-error pause)." },
  discoveryDir: { type: "path", allowEmpty: true, default: fileURLToPath(new URL("../../../discovery-scripts/bin", import.meta.url)), doc: "Directory of the discovery scripts (os, cpu-memory, nics, tcp-services, libvirt-domains, lldp, guest-flows). Empty: no discovery." },
  guestFlowsWindowMs: { type: "duration", default: 10_000, min: 0, max: 45_000, doc: "guest-flows (with libvirtUri set) captures the guests' TCP handshakes this long every minute: 10 s sees a service used every few seconds in one run and any service used hourly within the hour its entries are kept, for one tcpdump a sixth of the time. 0: not run." },
  scheduleSpread: { type: "number", default: 1, min: 0, max: 1, doc: "Each periodic job (every discovery script, the stats report) runs at a random point of this share of its interval, drawn per host: 1 spreads a rack booting at once over the whole interval (seed 000), so it does not reach the CMA in step; 0 runs them all at start and in step." },
  scheduleStartWindowMs: { type: "duration", default: 30_000, min: 0, max: 3_600_000, doc: "A job whose random point is later than this gets one early run at a random point within this long of start: a new host's first inventory does not wait a whole 10-minute interval, and hosts booting together are still spread over 30 s. 0: every first run at start." },
  goodbyeTimeoutMs: { type: "duration", default: 2000, min: 0, doc: "On SIGTERM, wait at most this long for the CMA to acknowledge the last stats batch (the samples since the last report) and our goodbye." },
  statusIntervalMs: clusterOptions.statusIntervalMs,
  logFormat: clusterOptions.logFormat,
  v8OptimizeForSize: { type: "bool", default: true, doc: "Run V8 with --optimize-for-size: the heap grows in 2 MiB steps instead of 8 between full collections, so RSS stays flat and small (30 domains: 79–83 MiB instead of 80–88) for ~1 ms more CPU per sampling pass (nanoprobe/src/heap-tuning.ts). false: V8's default." },
  // stats batches to the CMA (shared/src/metrics)
  statsExactAverages: { type: "bool", default: true, doc: "Send exact sums so the CMA's (and Zabbix's) min, max and average over each interval equal the quantized samples' exactly — the compaction guarantee. false: averages rounded to the quantized unit (0.001 CPU, 1 B/s, 1 KiB), ~6 bits less per series (30 synthetic domains, all 675 series: ~1.1 KB/min instead of ~1.4 KB/min); min and max stay exact." },
  statsRetainBatches: { type: "int", default: 30, min: 1, max: 1440, doc: "Stats batches kept for (re)sending while the CMA is away or asks again: 30 one-minute batches = half an hour; older ones are dropped and counted." },
  // local analytics thresholds (nanoprobe/src/analytics/thresholds.ts explains each default)
  analyticsVcpuSaturation: { type: "number", default: DEFAULT_THRESHOLDS.vcpuSaturation, min: 0.01, max: 1, doc: "A vCPU this busy (CPUs per vCPU) counts as saturated: 0.9 leaves room for sampling noise." },
  analyticsAbuseSustainMs: { type: "duration", default: DEFAULT_THRESHOLDS.abuseSustainMs, min: 10_000, max: 86_400_000, doc: "Saturation must last this long to be abuse (a miner), not a compile job: 3 min (\"for minutes\")." },
  analyticsNeighbourSteal: { type: "number", default: DEFAULT_THRESHOLDS.neighbourSteal, min: 0.001, max: 1, doc: "Other domains suffer when their vCPUs wait this share of the time for a physical CPU (vcpu.N.delay): 5% steal is felt." },
  analyticsLeakSlopeKiBPerMin: { type: "number", default: DEFAULT_THRESHOLDS.leakSlopeKiBPerMin, min: 1, max: 1_048_576, doc: "A domain's memory (RSS, else balloon) growing at least this fast over the window is a leak: 1 MiB/min = 1.4 GiB/day." },
  analyticsHostLeakSlopeKiBPerMin: { type: "number", default: DEFAULT_THRESHOLDS.hostLeakSlopeKiBPerMin, min: 1, max: 16_777_216, doc: "The host's own memory use (MemTotal − MemAvailable minus the guests' RSS) growing at least this fast is a host leak: 4 MiB/min = 5.6 GiB/day; higher than a domain's because kernel slabs and host daemons move more." },
  analyticsLeakWindowMs: { type: "duration", default: DEFAULT_THRESHOLDS.leakWindowMs, min: 60_000, max: 86_400_000, doc: "Window the memory slope is fitted over: 30 min ignores caches filling after boot." },
  analyticsLeakMinR2: { type: "number", default: DEFAULT_THRESHOLDS.leakMinR2, min: 0, max: 1, doc: "The straight-line fit must explain this share of the variance (R²): steady growth, not noise." },
  analyticsBurstFactor: { type: "number", default: DEFAULT_THRESHOLDS.burstFactor, min: 1.1, max: 1000, doc: "A NIC rate this many times the last minute's median is a micro-burst candidate." },
  analyticsBurstMinBytesPerSec: { type: "number", default: DEFAULT_THRESHOLDS.burstMinBytesPerSec, min: 1, doc: "…if it is also above this rate (bytes/s): 10 MB/s, so an idle NIC's blips are not bursts." },
  analyticsBurstMaxDurationMs: { type: "duration", default: DEFAULT_THRESHOLDS.burstMaxDurationMs, min: 1, max: 60_000, doc: "…and over within this long (a longer high rate is load, not a burst)." },
  zabbixAgentConfig: { type: "path", default: DEFAULT_AGENT_CONFIG, allowEmpty: true, doc: "Zabbix agent config read for the settings we share (Hostname= → identity, a single ListenIP= → bindAddress) when it exists, so agent and nanoprobe report as one Zabbix host; options set here win. Default: zabbix_agentd.conf, else zabbix_agent2.conf. Empty: do not read it." },
} satisfies Schema;

export type NanoprobeConfig = { [K in keyof typeof nanoprobeSchema]: (typeof nanoprobeSchema)[K]["default"] };

/** The analytics thresholds a configuration sets. */
export function analyticsThresholds(c: NanoprobeConfig): AnalyticsThresholds {
  return {
    vcpuSaturation: c.analyticsVcpuSaturation,
    abuseSustainMs: c.analyticsAbuseSustainMs,
    neighbourSteal: c.analyticsNeighbourSteal,
    leakSlopeKiBPerMin: c.analyticsLeakSlopeKiBPerMin,
    hostLeakSlopeKiBPerMin: c.analyticsHostLeakSlopeKiBPerMin,
    leakWindowMs: c.analyticsLeakWindowMs,
    leakMinR2: c.analyticsLeakMinR2,
    burstFactor: c.analyticsBurstFactor,
    burstMinBytesPerSec: c.analyticsBurstMinBytesPerSec,
    burstMaxDurationMs: c.analyticsBurstMaxDurationMs,
  };
}

/** Where periodic jobs run in their intervals (spread-schedule.ts), as a configuration sets it. */
export function spread(c: Pick<NanoprobeConfig, "scheduleSpread" | "scheduleStartWindowMs">): SpreadOptions {
  return { spread: c.scheduleSpread, startWindowMs: c.scheduleStartWindowMs };
}

/** Defaults with overrides, for code that builds a config without a file (tests, the simulator). */
export function nanoprobeConfig(over: Partial<NanoprobeConfig>): NanoprobeConfig {
  const c = Object.fromEntries(Object.entries(nanoprobeSchema).map(([k, s]) => [k, s.default])) as NanoprobeConfig;
  return { ...c, ...over };
}

/** Which agent config file to read (undefined: none). The default falls back to agent 2's file. */
export function agentConfigPath(cfg: Pick<NanoprobeConfig, "zabbixAgentConfig">, explicit: ReadonlySet<string>): string | undefined {
  if (!cfg.zabbixAgentConfig) return undefined;
  if (existsSync(cfg.zabbixAgentConfig)) return cfg.zabbixAgentConfig;
  if (!explicit.has("zabbixAgentConfig") && existsSync(AGENT2_CONFIG)) return AGENT2_CONFIG;
  return undefined;
}

/**
 * Take the settings the nanoprobe shares with the Zabbix agent from its config file, for the options
 * not set explicitly. Problems in the file are logged (with file:line) and counted, never fatal.
 */
export function applyAgentConfig(cfg: NanoprobeConfig, explicit: ReadonlySet<string>, log: Logger): { config: NanoprobeConfig; agent?: AgentConfig } {
  const path = agentConfigPath(cfg, explicit);
  if (path === undefined) {
    if (explicit.has("zabbixAgentConfig") && cfg.zabbixAgentConfig) log.warn({ file: cfg.zabbixAgentConfig }, "Zabbix agent config not found: not used");
    return { config: cfg };
  }
  const agent = parseAgentConfig(path);
  const out = { ...cfg };
  const used: Record<string, string> = {};
  if (agent.hostname && !explicit.has("identity")) out.identity = used.identity = agent.hostname;
  if (agent.listenIp && !explicit.has("bindAddress")) out.bindAddress = used.bindAddress = agent.listenIp;
  if (agent.hostnameItem !== undefined && !agent.hostname) {
    log.warn({ file: path, hostnameItem: agent.hostnameItem }, "HostnameItem in the Zabbix agent config is not supported (it is an agent item); set Hostname= there or identity here");
  }
  for (const p of agent.problems) log.warn({ file: p.file, line: p.line, problem: p.problem }, "Zabbix agent config: line not used");
  log.info({ files: agent.files, used, problems: agent.problems.length }, "Zabbix agent config read");
  return { config: out, agent };
}

/** The nanoprobe's configuration: file, environment and command line, then the agent config's shared settings. */
export function loadNanoprobeConfig(args: CommandArgs, logFor: (cfg: NanoprobeConfig) => Logger): { config: NanoprobeConfig; log: Logger } {
  const explicit = new Set<string>();
  const cfg = loadConfig(nanoprobeSchema, { file: args.configFile, explicit });
  if (cfg.cma) parseCmaAddresses(cfg.cma); // a bad address stops the start, naming it
  if (!cfg.cma && !cfg.multicastGroup) throw new ConfigError("multicastGroup is empty and cma is not set: nowhere to announce to (set cma to host:port, or a multicast group)");
  // the logger follows the process's own options (logFormat), and then tells what the agent config changed
  const log = logFor(cfg);
  return { config: applyAgentConfig(cfg, explicit, log).config, log };
}

/** The `cma` option: one or more host:port, comma-separated; throws a ConfigError naming the bad one. */
export function parseCmaAddresses(v: string): PeerAddress[] {
  const parts = v.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) throw new ConfigError(`cma: expected host:port[,host:port...], got ${JSON.stringify(v)}`);
  return parseCmaAddressList(parts, "cma");
}

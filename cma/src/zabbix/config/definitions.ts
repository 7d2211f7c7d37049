/**
 * THE one description of what ringwatch puts into Zabbix: templates, trapper items, low-level
 * discovery rules fed from the guest inventory, item and trigger prototypes, value maps and
 * macros. The API sync (config-sync.ts), the YAML template export (template-export.ts) and the
 * bridge (bridge.ts and its translators: which series / alert / event goes to which item key, with
 * which scale) all read it, so they cannot disagree. The sampled series and their item prototypes
 * (key, value type, units) come from the metric catalogue in shared (metrics/catalogue.ts).
 *
 * Two templates: the hypervisor template (host-level items: ring membership state, discovery
 * script errors, domain counts) and the guest template (the discovery rules with every per-guest
 * item). A hypervisor host links both; with one Zabbix host per guest (an option) the hypervisor
 * links the first and each guest host the second, fed with its own guest only. A third template,
 * the CMA's, is linked to the CMA's own host only (see "the CMA's own host" below).
 */
import { createHash } from "node:crypto";
import { METRIC_CATALOGUE, catalogued } from "@ringwatch/shared";
import type { GuestDomain, MetricKind, MetricSeries, SeriesPattern } from "@ringwatch/shared";
import type { HostState } from "../../membership/membership.js";

export type ValueType = "float" | "unsigned" | "char" | "text";
export type Severity = "info" | "warning" | "average" | "high" | "disaster";

export interface Tag {
  tag: string;
  value: string;
}

export interface ItemDef {
  /** item key; in a prototype it holds the rule's LLD macros */
  key: string;
  name: string;
  valueType: ValueType;
  units: string;
  description: string;
  /** history storage period (Zabbix time suffix) */
  history: string;
  /** trends period; "0" for text/char (they have none) */
  trends: string;
  valueMap?: string;
  tags: Tag[];
}

export interface TriggerDef {
  /** problem name shown in Zabbix (trigger "description" in the API) */
  name: string;
  /** names of triggers of the CMA template, as they are on the CMA's own host, this one depends on */
  dependsOnCma?: string[];
  /** names of triggers of the same template this one depends on (Zabbix hides it while one of them is a problem) */
  dependsOn?: string[];
  /** expression with {T} standing for the template's technical name */
  expression: string;
  priority: Severity;
  /** operational data shown with the problem */
  opdata: string;
  description: string;
  tags: Tag[];
}

export interface DiscoveryRuleDef {
  key: string;
  name: string;
  description: string;
  /** how long items of a guest that disappeared are kept */
  lifetime: string;
  /** LLD macros each row carries */
  macros: string[];
  itemPrototypes: ItemDef[];
  triggerPrototypes: TriggerDef[];
}

export interface ValueMapDef {
  name: string;
  mappings: { value: string; newValue: string }[];
}

export interface TemplateDef {
  /** which template: the name comes from the configuration */
  role: "hypervisor" | "guest" | "cma";
  description: string;
  items: ItemDef[];
  triggers: TriggerDef[];
  discoveryRules: DiscoveryRuleDef[];
  valueMaps: ValueMapDef[];
  macros: { macro: string; value: string; description: string }[];
  tags: Tag[];
}

/** Names the configuration chooses (defaults in cma/src/config.ts). */
export interface ZabbixNames {
  hypervisorTemplate: string;
  guestTemplate: string;
  templateGroup: string;
  /** the template of the CMA's own host (heartbeat, CMA-side monitoring errors) */
  cmaTemplate: string;
  /** the CMA's own Zabbix host */
  cmaHost: string;
  /** group of the hypervisor hosts and of the CMA's host */
  hostGroup: string;
}

export const DEFAULT_NAMES: ZabbixNames = {
  hypervisorTemplate: "Ringwatch libvirt hypervisor",
  guestTemplate: "Ringwatch libvirt guests",
  templateGroup: "Templates/ringwatch",
  cmaTemplate: "Ringwatch CMA",
  cmaHost: "ringwatch-cma",
  hostGroup: "ringwatch",
};

/** Every object ringwatch creates carries this tag (how the sync finds what it owns). */
export const OWNER_TAG = "ringwatch";
/** Every item key and discovery rule key ringwatch owns starts with this. */
export const KEY_PREFIX = "ringwatch.";

// ------------------------------------------------------------------ host-level items

/**
 * ringwatch.host.state values: what ring membership says about the hypervisor. Maintenance (4) and
 * removed (5) are values no trigger fires on: a planned shutdown creates no problem at all (Zabbix's
 * own maintenance periods start at minute boundaries and still create suppressed problems).
 */
export const HOST_STATE_VALUE: Record<HostState, number> = { alive: 1, suspect: 1, dead: 0, left: 2, unreachable: 3, maintenance: 4, removed: 5 };

export const KEYS = {
  hostState: "ringwatch.host.state",
  hostEvent: "ringwatch.host.event",
  domainsTotal: "ringwatch.host.domains",
  domainsRunning: "ringwatch.host.domains.running",
  hostMemoryLeak: "ringwatch.host.memory.leak",
  hostMemoryLeakEvidence: "ringwatch.host.memory.leak.evidence",
  discoveryErrors: "ringwatch.discovery.errors",
  discoveryErrorsDetail: "ringwatch.discovery.errors.detail",
  libvirtUnreachable: "ringwatch.libvirt.unreachable",
  libvirtUnreachableEvidence: "ringwatch.libvirt.unreachable.evidence",
  lldDomains: "ringwatch.vm.discovery",
  lldVcpus: "ringwatch.vm.vcpu.discovery",
  lldDisks: "ringwatch.vm.disk.discovery",
  lldNics: "ringwatch.vm.nic.discovery",
} as const;

const STATE_MAP = "ringwatch host state";
/** The CMA's outage problem (on its own host); the hypervisors' host-down trigger depends on it. */
export const CMA_NOT_REPORTING = "ringwatch CMA is not reporting";
const tag = (t: string, value: string): Tag => ({ tag: t, value });
const owner = tag(OWNER_TAG, "");

function item(key: string, name: string, valueType: ValueType, units: string, description: string, component: string, extra: Partial<ItemDef> = {}): ItemDef {
  const textual = valueType === "char" || valueType === "text";
  return { key, name, valueType, units, description, history: "31d", trends: textual ? "0" : "365d", tags: [owner, tag("component", component)], ...extra };
}

const hypervisorItems: ItemDef[] = [
  item(KEYS.hostState, "Ring membership state", "unsigned", "", "What the ringwatch CMA concludes from the ring: 1 up, 0 dead (neighbours reported it and the CMA's own probes failed), 2 left (said goodbye), 3 unreachable (its whole network segment went silent: switch or link suspected), 4 maintenance (planned downtime: its silence is no problem), 5 removed (taken out of service; the host is then disabled). Pushed at once on every change and refreshed every minute.", "membership", { valueMap: STATE_MAP }),
  item(KEYS.hostEvent, "Last ring membership event", "text", "", "The last membership event about this hypervisor, as JSON (who reported it, how the death was confirmed).", "membership", { history: "31d" }),
  item(KEYS.domainsTotal, "Guests defined", "unsigned", "", "Domains libvirt knows on this hypervisor (any state).", "guests"),
  item(KEYS.domainsRunning, "Guests running", "unsigned", "", "Domains in the running state.", "guests"),
  item(KEYS.hostMemoryLeak, "Host memory leak", "unsigned", "", "1 while the nanoprobe sees the host's own memory use (MemTotal − MemAvailable minus the guests' RSS) grow steadily, 0 when it cleared.", "analytics"),
  item(KEYS.hostMemoryLeakEvidence, "Host memory leak evidence", "text", "", "What the detector measured (slope, fit), as JSON.", "analytics"),
  item(KEYS.discoveryErrors, "Discovery scripts failing", "unsigned", "", "How many of the nanoprobe's discovery scripts failed on their last run (0: all fine).", "discovery"),
  item(KEYS.discoveryErrorsDetail, "Discovery script errors", "text", "", "The failing scripts and what went wrong (exit status, output problem, stderr tail), as JSON.", "discovery"),
  item(KEYS.libvirtUnreachable, "libvirt unreachable", "unsigned", "", "1 while the nanoprobe cannot connect to libvirt on this hypervisor (libvirtd stopped, restarting or hung), 0 once libvirt answers again. Meanwhile guest data stops; the hypervisor itself is still watched by its ring.", "monitoring"),
  item(KEYS.libvirtUnreachableEvidence, "libvirt unreachable evidence", "text", "", "The URI, libvirt's error and since when (raised), or how long libvirt was away (cleared), as JSON.", "monitoring"),
];

const LIBVIRT_UNREACHABLE = "libvirt unreachable on {HOST.NAME}: guests not monitored";

const hypervisorTriggers: TriggerDef[] = [
  {
    name: "Hypervisor {HOST.NAME} is down",
    expression: `last(/{T}/${KEYS.hostState})=0 or nodata(/{T}/${KEYS.hostState},{$RINGWATCH.STATE.NODATA})=1`,
    priority: "high",
    opdata: "State: {ITEM.LASTVALUE1}",
    description: "Its ring neighbours stopped hearing its heartbeats for deadtime and the CMA's direct probes got no answer: raised the moment the CMA confirms the death, resolved when the host rejoins. Backstop: no state at all for {$RINGWATCH.STATE.NODATA} (the CMA refreshes it every minute) also counts, because then nobody knows the host is up. Depends on 'ringwatch CMA is not reporting' on the CMA's own host: while the CMA is away that one problem stands for the silence, not one per host.",
    tags: [owner, tag("scope", "availability")],
    dependsOnCma: [CMA_NOT_REPORTING],
  },
  {
    name: "Network segment of {HOST.NAME} unreachable: switch or link suspected",
    expression: `last(/{T}/${KEYS.hostState})=3`,
    priority: "high",
    opdata: "State: {ITEM.LASTVALUE1}",
    description: "Every host of this hypervisor's segment went silent at once: one event for the segment, not one death per host. Resolved when the segment answers again.",
    tags: [owner, tag("scope", "availability")],
  },
  {
    name: "Memory leak suspected on hypervisor {HOST.NAME}",
    expression: `last(/{T}/${KEYS.hostMemoryLeak})=1`,
    priority: "warning",
    opdata: "",
    description: "The hypervisor's own memory use (not its guests') grows steadily: a leaking host daemon or kernel slab. Evidence in the item 'Host memory leak evidence'.",
    tags: [owner, tag("scope", "capacity")],
  },
  {
    name: "Discovery scripts failing on {HOST.NAME}",
    expression: `last(/{T}/${KEYS.discoveryErrors})>0`,
    priority: "warning",
    opdata: "Failing: {ITEM.LASTVALUE1}",
    description: "A discovery script of the nanoprobe failed (see the item 'Discovery script errors' for which and why). Resolved when every script runs cleanly again. Depends on 'libvirt unreachable': while libvirt is away the libvirt-domains script fails for the same cause, and that one problem stands for both.",
    tags: [owner, tag("scope", "notice")],
    dependsOn: [LIBVIRT_UNREACHABLE],
  },
  {
    name: LIBVIRT_UNREACHABLE,
    expression: `last(/{T}/${KEYS.libvirtUnreachable})=1`,
    priority: "warning",
    opdata: "",
    description: "The nanoprobe cannot connect to libvirt (see 'libvirt unreachable evidence'): no guest stats, inventory or lifecycle events until it can. A monitoring error, not a hypervisor failure: the host is still in its ring, and no guest is reported gone. Resolved when libvirt answers again.",
    tags: [owner, tag("scope", "monitoring")],
  },
];

// ------------------------------------------------------------------ the CMA's own host

/**
 * The CMA reports its own health on a host of its own: a heartbeat every stateRefreshMs (a
 * nodata trigger says when it stops: one problem for a CMA outage, on which the hypervisors'
 * host-down trigger depends) and the monitoring errors found on the CMA's side.
 */
export const CMA_KEYS = {
  heartbeat: "ringwatch.cma.heartbeat",
  statsRefused: "ringwatch.cma.errors.stats",
  senderDropped: "ringwatch.cma.errors.sender",
  graphWrites: "ringwatch.cma.errors.graph",
  errorsDetail: "ringwatch.cma.errors.detail",
  hostKeyMismatches: "ringwatch.cma.security.hostkeys",
  hostKeyMismatchSummary: "ringwatch.cma.security.hostkeys.summary",
} as const;

const cmaItems: ItemDef[] = [
  item(CMA_KEYS.heartbeat, "CMA heartbeat (uptime)", "unsigned", "s", "Seconds the ringwatch CMA has been running, sent every zabbixStateRefreshMs right after the hypervisors' states: its silence is the CMA's outage.", "cma"),
  item(CMA_KEYS.statsRefused, "Hypervisors whose stats batches are refused", "unsigned", "", "How many hypervisors' stats batches the CMA could not decode (cleared per host by its next accepted batch). Their metrics are missing meanwhile.", "monitoring-errors"),
  item(CMA_KEYS.senderDropped, "Values the Zabbix sender dropped", "unsigned", "", "Values the CMA's Zabbix sender dropped (spool full, disk error, items Zabbix never learnt) since this error was raised; 0 once no value was dropped for senderDropClearMs.", "monitoring-errors"),
  item(CMA_KEYS.graphWrites, "Graph store failing writes", "unsigned", "", "1 while the CMA's writes to its graph store fail (the changes wait in memory and are retried), 0 after the next successful write.", "monitoring-errors"),
  item(CMA_KEYS.hostKeyMismatches, "Host key mismatches", "unsigned", "", "How many host names were claimed with a key that is not the one pinned for them (an impostor holding the cluster key, or a host re-keyed without forgetting its pin): refused, never admitted. 0 once an admin revoked or forgot those pins, or after hostKeyAlertClearMs without one.", "security"),
  item(CMA_KEYS.hostKeyMismatchSummary, "Host key mismatch", "text", "", "Which names and from which addresses ('host key mismatch for hv3 from 10.0.0.9'; several joined by '; '), empty when none: the problem's name.", "security"),
  item(CMA_KEYS.errorsDetail, "CMA monitoring errors", "text", "", "The CMA-side monitoring errors that are active, with their evidence, as JSON (also GET /api/monitoring-errors).", "monitoring-errors"),
];

const cmaTriggers: TriggerDef[] = [
  {
    name: CMA_NOT_REPORTING,
    expression: `nodata(/{T}/${CMA_KEYS.heartbeat},{$RINGWATCH.CMA.NODATA})=1`,
    priority: "high",
    opdata: "",
    description: "No heartbeat from the ringwatch CMA for {$RINGWATCH.CMA.NODATA}: it is down, cannot reach Zabbix, or is stuck. Nothing ringwatch watches is reported meanwhile; the hypervisors' host-down triggers depend on this one, so this is the one problem of the outage. Keep {$RINGWATCH.CMA.NODATA} at least 30 s (Zabbix evaluates nodata every 30 s) shorter than {$RINGWATCH.STATE.NODATA}.",
    tags: [owner, tag("scope", "availability")],
  },
  {
    name: "ringwatch CMA refuses stats batches of {ITEM.LASTVALUE1} hypervisor(s)",
    expression: `last(/{T}/${CMA_KEYS.statsRefused})>0`,
    priority: "warning",
    opdata: "",
    description: "Stats batches from these hypervisors cannot be decoded: their metrics are missing. Which hosts and why: item 'CMA monitoring errors' or GET /api/monitoring-errors. Resolved when each sends a batch the CMA accepts.",
    tags: [owner, tag("scope", "monitoring")],
  },
  {
    name: "ringwatch Zabbix sender is dropping values",
    expression: `last(/{T}/${CMA_KEYS.senderDropped})>0`,
    priority: "average",
    opdata: "Dropped: {ITEM.LASTVALUE1}",
    description: "The CMA's Zabbix sender dropped values (reasons in 'CMA monitoring errors'): history has holes. Resolved once nothing was dropped for senderDropClearMs.",
    tags: [owner, tag("scope", "monitoring")],
  },
  {
    // the problem's name is made when it starts: it names the host and the address of the first mismatch
    name: "ringwatch: {ITEM.LASTVALUE2}",
    expression: `last(/{T}/${CMA_KEYS.hostKeyMismatches})>0 and length(last(/{T}/${CMA_KEYS.hostKeyMismatchSummary}))>0`,
    priority: "high",
    opdata: "Names: {ITEM.LASTVALUE1}",
    description: "An announcement claimed a known host's name with another identity key (an impostor holding the cluster key, or a host re-keyed without its pin being forgotten). It was refused: the real host's address, state and ring did not change. Who and from where: item 'Host key mismatch', 'CMA monitoring errors', GET /api/monitoring-errors?source=hostKeyMismatch. Resolved when an admin revokes or forgets that host's pin (ringwatch-cma host-keys), or after hostKeyAlertClearMs without another.",
    tags: [owner, tag("scope", "security")],
  },
  {
    name: "ringwatch graph store is failing writes",
    expression: `last(/{T}/${CMA_KEYS.graphWrites})>0`,
    priority: "warning",
    opdata: "",
    description: "The CMA cannot write its topology graph (root-cause queries answer from old data); changes wait in memory and are retried. Resolved by the next successful write.",
    tags: [owner, tag("scope", "monitoring")],
  },
];

// ------------------------------------------------------------------ guest discovery (LLD)

const VM_UUID = "{#VM.UUID}";
const VM_NAME = "{#VM.NAME}";

function protoTags(component: string): Tag[] {
  return [owner, tag("component", component), tag("vm", VM_NAME), tag("vm_uuid", VM_UUID)];
}

function proto(key: string, name: string, valueType: ValueType, units: string, description: string, component: string, extra: Partial<ItemDef> = {}): ItemDef {
  return item(key, name, valueType, units, description, component, { tags: protoTags(component), ...extra });
}

const CATALOGUE = new Map<string, MetricSeries>(METRIC_CATALOGUE.map((e) => [e.series, e]));

/** The item prototype of a sampled series: key, value type and units from the metric catalogue. */
function sampled(series: SeriesPattern, name: string, description: string, component: string): ItemDef {
  const z = CATALOGUE.get(series)!.zabbix;
  return proto(z.key, name, z.valueType, z.units, description, component);
}

/** Alert kinds from the nanoprobe's local analytics that become per-guest problem items. */
export const GUEST_ALERTS = {
  vcpuAbuse: { key: "ringwatch.vm.abuse", name: "vCPU abuse" },
  memoryLeak: { key: "ringwatch.vm.leak", name: "Memory leak" },
  microBurst: { key: "ringwatch.vm.burst", name: "Network micro-burst" },
  guestUnhealthy: { key: "ringwatch.vm.unhealthy", name: "Guest unhealthy" },
} as const;
export type GuestAlertKind = keyof typeof GUEST_ALERTS;

/**
 * Recovery on a guest (issue 14): the escalation ladder's level (actions/ladder.ts LADDER_LEVELS:
 * 0 none, 1 notified, 2 asked, 3 forced, 4 escalated), its last step, and the last action on the
 * guest by anyone (person, policy, Zabbix script) with its result. One trigger per level, each
 * matching its level exactly: as the ladder climbs, each step resolves the problem below and opens
 * one of higher severity, so Zabbix media page as the seed-001 operator's escalation does.
 */
export const RECOVERY_KEYS = { level: "ringwatch.vm.ladder", step: "ringwatch.vm.ladder.step", action: "ringwatch.vm.action" } as const;
const LADDER_MAP = "ringwatch ladder level";
const LADDER_TRIGGERS: readonly { level: number; priority: Severity; what: string }[] = [
  { level: 1, priority: "warning", what: "people notified" },
  { level: 2, priority: "average", what: "guest asked to restart (soft reboot)" },
  { level: 3, priority: "high", what: "guest forced (hard reset)" },
  { level: 4, priority: "disaster", what: "escalated: the guest needs a person" },
];

export function recoveryItemKeys(uuid: string): { level: string; step: string; action: string } {
  return { level: `${RECOVERY_KEYS.level}[${uuid}]`, step: `${RECOVERY_KEYS.step}[${uuid}]`, action: `${RECOVERY_KEYS.action}[${uuid}]` };
}

const domainRule: DiscoveryRuleDef = {
  key: KEYS.lldDomains,
  name: "Guests (libvirt domains)",
  description: "Guests of this hypervisor, from the inventory the nanoprobe reads through libvirt (pushed by the ringwatch CMA on every change).",
  lifetime: "7d",
  macros: [VM_UUID, VM_NAME, "{#VM.STATE}"],
  itemPrototypes: [
    sampled("cpu", `Guest ${VM_NAME}: CPU usage`, "CPU time the guest used, in percent of one host CPU (200 = two CPUs busy). Min/max/avg per report interval equal the raw samples'.", "cpu"),
    sampled("balloon.current", `Guest ${VM_NAME}: memory (balloon)`, "Memory currently given to the guest (balloon size).", "memory"),
    sampled("balloon.rss", `Guest ${VM_NAME}: memory resident on host`, "Resident memory of the guest's process on the host (QEMU).", "memory"),
    proto(`ringwatch.vm.state[${VM_UUID}]`, `Guest ${VM_NAME}: state`, "char", "", "libvirt state of the guest (running, paused, shutoff, …).", "state"),
    ...Object.values(GUEST_ALERTS).flatMap((a) => [
      proto(`${a.key}[${VM_UUID}]`, `Guest ${VM_NAME}: ${a.name}`, "unsigned", "", `1 while the nanoprobe's local analytics see ${a.name.toLowerCase()} on this guest, 0 when it cleared.`, "analytics"),
      proto(`${a.key}.evidence[${VM_UUID}]`, `Guest ${VM_NAME}: ${a.name} evidence`, "text", "", "What the detector measured, as JSON.", "analytics"),
    ]),
    { ...proto(`${RECOVERY_KEYS.level}[${VM_UUID}]`, `Guest ${VM_NAME}: recovery ladder level`, "unsigned", "", "How far ringwatch's escalation ladder has gone on this guest: 0 none (or ended), 1 notified, 2 asked to restart, 3 forced (reset), 4 escalated to a person. Sent at each step and at the end.", "recovery"), valueMap: LADDER_MAP },
    proto(`${RECOVERY_KEYS.step}[${VM_UUID}]`, `Guest ${VM_NAME}: recovery ladder step`, "text", "", "The ladder's last step and how it went (ok, refused by a guard and why, failed, dry-run), as JSON.", "recovery"),
    proto(`${RECOVERY_KEYS.action}[${VM_UUID}]`, `Guest ${VM_NAME}: last recovery action`, "text", "", "The last action on the guest (reboot, reset, start…) by anyone — a person in the console or CLI, the ladder, a Zabbix script — who asked, why, and the result, as JSON (the CMA's audit log has every one).", "recovery"),
  ],
  triggerPrototypes: [
    {
      name: `vCPU abuse by guest ${VM_NAME} on {HOST.NAME}: neighbours suffer steal`,
      expression: `last(/{T}/${GUEST_ALERTS.vcpuAbuse.key}[${VM_UUID}])=1`,
      priority: "average",
      opdata: "",
      description: "The guest's vCPUs have been saturated for minutes while other guests' vCPUs wait for a physical CPU (steal): a miner or a runaway job. Evidence in the item 'vCPU abuse evidence'.",
      tags: [owner, tag("scope", "performance"), tag("vm", VM_NAME), tag("vm_uuid", VM_UUID)],
    },
    {
      name: `Memory leak suspected in guest ${VM_NAME} on {HOST.NAME}`,
      expression: `last(/{T}/${GUEST_ALERTS.memoryLeak.key}[${VM_UUID}])=1`,
      priority: "warning",
      opdata: "",
      description: "The guest's memory on the host grows steadily (least-squares slope over 30 min, R² ≥ 0.8). Evidence in the item 'Memory leak evidence'.",
      tags: [owner, tag("scope", "capacity"), tag("vm", VM_NAME), tag("vm_uuid", VM_UUID)],
    },
    {
      name: `Guest ${VM_NAME} on {HOST.NAME} is unhealthy: crashed, panicked, watchdog, I/O-error pause or failing service checks`,
      expression: `last(/{T}/${GUEST_ALERTS.guestUnhealthy.key}[${VM_UUID}])=1`,
      priority: "high",
      opdata: "",
      description: "Seen from the hypervisor, nothing inside the guest: a libvirt lifecycle fault (crash, pvpanic, watchdog, paused on an I/O error) or a configured TCP/HTTP check of its service failing its count in a row. A guest shut down on purpose is never unhealthy. Evidence (every cause) in the item 'Guest unhealthy evidence'.",
      tags: [owner, tag("scope", "availability"), tag("vm", VM_NAME), tag("vm_uuid", VM_UUID)],
    },
    ...LADDER_TRIGGERS.map((t) => ({
      name: `Recovery of guest ${VM_NAME} on {HOST.NAME}: ${t.what}`,
      expression: `last(/{T}/${RECOVERY_KEYS.level}[${VM_UUID}])=${t.level}`,
      priority: t.priority,
      opdata: "",
      description: `ringwatch's escalation ladder on this guest has reached level ${t.level} (${t.what}); its last step is in the item 'recovery ladder step'. Each step resolves the problem of the level below and opens this one; the ladder's end (the guest healthy again) resolves it.`,
      tags: [owner, tag("scope", "recovery"), tag("vm", VM_NAME), tag("vm_uuid", VM_UUID)],
    })),
    {
      name: `Network micro-burst on guest ${VM_NAME} on {HOST.NAME}`,
      expression: `nodata(/{T}/${GUEST_ALERTS.microBurst.key}[${VM_UUID}],{$RINGWATCH.BURST.HOLD})=0`,
      priority: "info",
      opdata: "",
      description: "A traffic burst shorter than a second, many times the NIC's usual rate, visible only at sub-second sampling. Bursts are one-shot findings: the problem resolves {$RINGWATCH.BURST.HOLD} after the last one.",
      tags: [owner, tag("scope", "performance"), tag("vm", VM_NAME), tag("vm_uuid", VM_UUID)],
    },
  ],
};

const vcpuRule: DiscoveryRuleDef = {
  key: KEYS.lldVcpus,
  name: "Guest vCPUs",
  description: "Each vCPU of each guest (vCPU time, wait and delay: the steal a guest suffers).",
  lifetime: "7d",
  macros: [VM_UUID, VM_NAME, "{#VCPU}"],
  itemPrototypes: [
    sampled("vcpu.<n>.time", `Guest ${VM_NAME}: vCPU {#VCPU} busy`, "Time this vCPU ran on a host CPU, percent of one CPU.", "vcpu"),
    sampled("vcpu.<n>.wait", `Guest ${VM_NAME}: vCPU {#VCPU} wait`, "Time this vCPU waited on I/O, percent of one CPU.", "vcpu"),
    sampled("vcpu.<n>.delay", `Guest ${VM_NAME}: vCPU {#VCPU} steal`, "Time this vCPU was runnable but waited for a host CPU (steal), percent of one CPU.", "vcpu"),
  ],
  triggerPrototypes: [],
};

const diskRule: DiscoveryRuleDef = {
  key: KEYS.lldDisks,
  name: "Guest disks",
  description: "Each disk of each guest (target device and its source on the host).",
  lifetime: "7d",
  macros: [VM_UUID, VM_NAME, "{#DISK}", "{#DISK.SOURCE}"],
  itemPrototypes: [
    sampled("block.<dev>.rd.bytes", `Guest ${VM_NAME}: disk {#DISK} read`, "Bytes read per second ({#DISK.SOURCE}).", "disk"),
    sampled("block.<dev>.wr.bytes", `Guest ${VM_NAME}: disk {#DISK} write`, "Bytes written per second ({#DISK.SOURCE}).", "disk"),
    sampled("block.<dev>.rd.reqs", `Guest ${VM_NAME}: disk {#DISK} read requests`, "Read requests per second.", "disk"),
    sampled("block.<dev>.wr.reqs", `Guest ${VM_NAME}: disk {#DISK} write requests`, "Write requests per second.", "disk"),
  ],
  triggerPrototypes: [],
};

const nicRule: DiscoveryRuleDef = {
  key: KEYS.lldNics,
  name: "Guest network interfaces",
  description: "Each NIC of each guest (host-side target device, MAC, bridge or network).",
  lifetime: "7d",
  macros: [VM_UUID, VM_NAME, "{#NIC}", "{#NIC.MAC}", "{#NIC.SOURCE}"],
  itemPrototypes: (["rx", "tx"] as const).flatMap((dir) => {
    const d = dir === "rx" ? "received" : "sent";
    return [
      sampled(`net.<dev>.${dir}.bytes`, `Guest ${VM_NAME}: NIC {#NIC} ${d}`, `Bytes ${d} per second ({#NIC.MAC} on {#NIC.SOURCE}).`, "network"),
      sampled(`net.<dev>.${dir}.pkts`, `Guest ${VM_NAME}: NIC {#NIC} packets ${d}`, `Packets ${d} per second.`, "network"),
      sampled(`net.<dev>.${dir}.drop`, `Guest ${VM_NAME}: NIC {#NIC} ${dir} drops`, `Packets dropped per second (${d}).`, "network"),
    ];
  }),
  triggerPrototypes: [],
};

export const TEMPLATES: readonly TemplateDef[] = [
  {
    role: "hypervisor",
    description: "libvirt hypervisor monitored by ringwatch (agentless): ring membership (host down within seconds, segment failures), guest counts, discovery script errors. Values arrive by trapper from the ringwatch CMA. Link together with the guest template.",
    items: hypervisorItems,
    triggers: hypervisorTriggers,
    discoveryRules: [],
    valueMaps: [{ name: STATE_MAP, mappings: [{ value: "0", newValue: "dead" }, { value: "1", newValue: "up" }, { value: "2", newValue: "left" }, { value: "3", newValue: "unreachable (segment)" }, { value: "4", newValue: "maintenance" }, { value: "5", newValue: "removed" }] }],
    macros: [{ macro: "{$RINGWATCH.STATE.NODATA}", value: "5m", description: "Backstop of the host-down trigger: no membership state for this long (the CMA refreshes it every minute) means nobody knows the host is up." }],
    tags: [owner, tag("class", "virtualization")],
  },
  {
    role: "guest",
    description: "Guests (libvirt domains) of a hypervisor monitored by ringwatch, discovered from the inventory: CPU, vCPU steal, memory, disk and NIC rates whose per-interval min/max/avg equal the raw samples', and the nanoprobe's analytics (vCPU abuse, memory leaks, micro-bursts) as problems. Values arrive by trapper from the ringwatch CMA.",
    items: [],
    triggers: [],
    discoveryRules: [domainRule, vcpuRule, diskRule, nicRule],
    valueMaps: [{ name: LADDER_MAP, mappings: [{ value: "0", newValue: "none" }, { value: "1", newValue: "notified" }, { value: "2", newValue: "asked (soft reboot)" }, { value: "3", newValue: "forced (hard reset)" }, { value: "4", newValue: "escalated" }] }],
    macros: [{ macro: "{$RINGWATCH.BURST.HOLD}", value: "5m", description: "A micro-burst is a one-shot finding: its problem resolves this long after the last burst." }],
    tags: [owner, tag("class", "virtualization")],
  },
  {
    role: "cma",
    description: "The ringwatch CMA itself, on a host of its own: its heartbeat (one problem when it stops reporting, on which the hypervisors' host-down triggers depend) and the monitoring errors found on the CMA's side (stats batches refused, Zabbix sender dropping values, graph store failing writes). Values arrive by trapper from the CMA.",
    items: cmaItems,
    triggers: cmaTriggers,
    discoveryRules: [],
    valueMaps: [],
    macros: [{ macro: "{$RINGWATCH.CMA.NODATA}", value: "3m", description: "No CMA heartbeat for this long (it is sent every zabbixStateRefreshMs, 1 min) is an outage. Keep it at least 30 s shorter than {$RINGWATCH.STATE.NODATA}, so this problem stands before the hosts' backstop would fire." }],
    tags: [owner, tag("class", "monitoring")],
  },
];

export function templateName(role: TemplateDef["role"], names: ZabbixNames): string {
  return role === "hypervisor" ? names.hypervisorTemplate : role === "guest" ? names.guestTemplate : names.cmaTemplate;
}

/** The CMA template's trigger of this name as it is on the CMA's own host (what a dependency names). */
export function cmaHostTrigger(name: string): TriggerDef {
  const t = TEMPLATES.find((d) => d.role === "cma")!.triggers.find((x) => x.name === name);
  if (!t) throw new Error(`no CMA trigger named ${name}`);
  return t;
}

/** The trigger of this name on the template of this role (what a same-template dependency names). */
export function templateTrigger(role: TemplateDef["role"], name: string): TriggerDef {
  const t = TEMPLATES.find((d) => d.role === role)!.triggers.find((x) => x.name === name);
  if (!t) throw new Error(`no ${role} trigger named ${name}`);
  return t;
}

/** Expression of a trigger on a template with this technical name. */
export function triggerExpression(t: TriggerDef, template: string): string {
  return t.expression.replaceAll("{T}", template);
}

/** A stable UUIDv4-shaped id (32 hex, as Zabbix exports them) derived from the template name and the object's key. */
export function stableUuid(...parts: string[]): string {
  const h = createHash("sha256").update(parts.join("\u0000")).digest();
  h[6] = (h[6] & 0x0f) | 0x40;
  h[8] = (h[8] & 0x3f) | 0x80;
  return h.subarray(0, 16).toString("hex");
}

// ------------------------------------------------------------------ series → items (bridge)

/** Device names that can stand unquoted in an item key parameter (libvirt targets: vda, sda, tap0n1, macvtap3 …). */
export const SAFE_DEVICE = /^[A-Za-z0-9_.:@+-]{1,64}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface SeriesItem {
  key: string;
  /** the Zabbix value of a quantized wire value (linear, so min/max/avg carry over) */
  value: (quantized: number) => number;
}

/** quantize.ts: cpu is per-mille of one CPU (→ percent: ÷ 10, exact in decimal), memory KiB (→ bytes), rates per second. */
const cpuPercent = (q: number): number => q / 10;
const kibToBytes = (q: number): number => q * 1024;
const asIs = (q: number): number => q;
const ZABBIX_VALUE: Record<MetricKind, (q: number) => number> = { cpu: cpuPercent, memory: kibToBytes, rate: asIs, integer: asIs };

/** Each catalogue entry's prototype key cut at its LLD macros: {#VM.UUID}, then {#VCPU}, {#DISK} or {#NIC} when it has one. */
const KEY_PIECES = new Map<MetricSeries, string[]>(METRIC_CATALOGUE.map((e) => [e, e.zabbix.key.split(/\{#(?:VM\.UUID|VCPU|DISK|NIC)\}/)]));

/** The concrete item key: the entry's prototype key with the guest and the series' vCPU number or device put in. */
function itemKey(entry: MetricSeries, uuid: string, part: string | undefined): string {
  const p = KEY_PIECES.get(entry)!;
  return p.length === 2 ? p[0] + uuid + p[1] : p[0] + uuid + p[1] + (part ?? "") + p[2];
}

/** The item a nanoprobe series feeds, or undefined when it maps to none (counted by the caller). */
export function seriesItem(domain: string, metric: string): SeriesItem | undefined {
  if (!UUID_RE.test(domain)) return undefined;
  const c = catalogued(metric);
  if (!c) return undefined;
  if (c.part !== undefined && !SAFE_DEVICE.test(c.part)) return undefined;
  return { key: itemKey(c.entry, domain, c.part), value: ZABBIX_VALUE[c.entry.kind] };
}

export function alertItemKeys(kind: GuestAlertKind, uuid: string): { flag: string; evidence: string } {
  const k = GUEST_ALERTS[kind].key;
  return { flag: `${k}[${uuid}]`, evidence: `${k}.evidence[${uuid}]` };
}

export function guestStateKey(uuid: string): string {
  return `ringwatch.vm.state[${uuid}]`;
}

// ------------------------------------------------------------------ inventory → LLD rows

export type LldRow = Record<string, string>;

/** The four discovery rules' rows for a set of guests (devices with unsafe names are left out and counted). */
export function lldRows(domains: readonly GuestDomain[]): { rows: Record<string, LldRow[]>; skippedDevices: number } {
  const vm: LldRow[] = [];
  const vcpu: LldRow[] = [];
  const disk: LldRow[] = [];
  const nic: LldRow[] = [];
  let skippedDevices = 0;
  for (const d of domains) {
    const uuid = d.uuid.toLowerCase();
    if (!UUID_RE.test(uuid)) {
      skippedDevices++;
      continue;
    }
    const base = { "{#VM.UUID}": uuid, "{#VM.NAME}": d.name };
    vm.push({ ...base, "{#VM.STATE}": d.state });
    for (let i = 0; i < Math.min(d.vcpus, 4096); i++) vcpu.push({ ...base, "{#VCPU}": String(i) });
    for (const k of d.disks) {
      if (SAFE_DEVICE.test(k.target)) disk.push({ ...base, "{#DISK}": k.target, "{#DISK.SOURCE}": k.source });
      else skippedDevices++;
    }
    for (const n of d.nics) {
      if (SAFE_DEVICE.test(n.target)) nic.push({ ...base, "{#NIC}": n.target, "{#NIC.MAC}": n.mac, "{#NIC.SOURCE}": n.bridge || n.network });
      else skippedDevices++;
    }
  }
  return { rows: { [KEYS.lldDomains]: vm, [KEYS.lldVcpus]: vcpu, [KEYS.lldDisks]: disk, [KEYS.lldNics]: nic }, skippedDevices };
}

// ------------------------------------------------------------------ Zabbix host names

/** Zabbix technical host names: alphanumerics, space, dot, dash, underscore; at most 128. */
const HOST_NAME_OK = /^[A-Za-z0-9 ._-]{1,128}$/;

/** The Zabbix host for a ringwatch host name (invalid characters become "_"). */
export function zabbixHostName(name: string): string {
  if (HOST_NAME_OK.test(name)) return name;
  const s = name.replace(/[^A-Za-z0-9 ._-]/g, "_").slice(0, 128);
  return s || "_";
}

/** The Zabbix host of one guest when hosts per guest are enabled: its UUID is stable across renames and migrations. */
export function guestHostName(uuid: string): string {
  return `vm-${uuid.toLowerCase()}`;
}

/** CMA configuration: every option, its default and why. */
import { clusterOptions, withDoc } from "@ringwatch/shared";
import type { Schema } from "@ringwatch/shared";

export const cmaSchema = {
  identity: { type: "string", default: "cma", doc: "Name the CMA uses on the wire." },
  cluster: clusterOptions.cluster,
  clusterKeyFile: clusterOptions.clusterKeyFile,
  commandKeyFile: { type: "path", default: "/etc/ringwatch/cma-command.key", doc: "The CMA's Ed25519 private key; every command to a nanoprobe is signed with it." },
  dataDir: { type: "path", default: "/var/lib/ringwatch", doc: "Where the CMA keeps its state (the membership snapshot a restarted CMA starts from)." },
  bindAddress: withDoc(clusterOptions.bindAddress, "Address the UDP socket binds to (0.0.0.0 to hear the multicast group)."),
  port: withDoc(clusterOptions.port, "UDP port for the channel; also the multicast group's port."),
  multicastGroup: withDoc(clusterOptions.multicastGroup, "Group nanoprobes announce to (Assimilation's IANA-reserved address). Empty: unicast only."),
  multicastInterface: withDoc(clusterOptions.multicastInterface, "Local address of the interface to join the group on. Default: the system's choice."),
  heartbeatMs: withDoc(clusterOptions.heartbeatMs, "Heartbeat interval told to nanoprobes (memberlist probes every 1 s too)."),
  warntimeMs: withDoc(clusterOptions.warntimeMs, "Silence after which a nanoprobe reports a neighbour late."),
  deadtimeMs: withDoc(clusterOptions.deadtimeMs, "Silence after which a nanoprobe reports a neighbour dead (Assimilation: 30 s)."),
  ringsPerSegment: { type: "int", default: 1, min: 1, max: 2, doc: "Rings per segment: 1 (two neighbours each) or 2 (four: survives two adjacent deaths)." },
  segmentPrefixLength: { type: "int", default: 24, min: 0, max: 32, doc: "Hosts whose addresses share this many leading bits form one segment (one ring, one switch)." },
  probeAttempts: { type: "int", default: 3, min: 1, max: 20, doc: "Direct probes before a silent host counts as not answering." },
  probeIntervalMs: { type: "duration", default: 300, min: 10, doc: "Time between direct probes (3 × 300 ms: a verdict in about a second)." },
  reannounceGraceMs: { type: "duration", default: 30_000, min: 0, doc: "After a CMA restart, how long hosts have to re-announce before the silent ones are probed." },
  segmentRecheckMs: { type: "duration", default: 5000, min: 100, doc: "While a segment is silent, one of its hosts is probed this often to notice its return." },
  statusIntervalMs: clusterOptions.statusIntervalMs,
  logFormat: clusterOptions.logFormat,
  auditRetentionDays: { type: "int", default: 400, min: 1, max: 36_600, doc: "Days the audit log (<dataDir>/audit, one file per UTC day) keeps who did what: 400 covers a yearly review with a month to spare; whole days older are deleted." },
  // ---- host identity and admission (cma/src/identity)
  hostKeyPolicy: { type: "string", default: "open", oneOf: ["open", "approve", "enrolled"], doc: "Who is admitted by host key (pins in <dataDir>/host-keys.json): open (a new name is pinned to the key it first shows: trust on first use), approve (a new key waits, pending, until an admin approves it: ringwatch-cma host-keys approve, the API or the console), enrolled (only the keys listed in hostKeysFile, and hosts showing a one-time enrollment token: ringwatch-cma host-keys enroll). A valid enrollment token admits at once in every policy. A known name showing another key is refused and raised in every policy." },
  hostKeysFile: { type: "path", default: "", doc: "For hostKeyPolicy enrolled (empty: only hosts with an enrollment token are admitted): one 'name fingerprint' line per host (the fingerprint 'ringwatch-nanoprobe keygen' prints; # comments), read at start; a bad line stops the CMA with its line number." },
  allowHostsWithoutKeys: { type: "bool", default: false, doc: "Admit announcements that carry no host key (nanoprobes older than host keys), for a name with no pin and not enrolled: exists only for the rolling upgrade to host keys; turn it off once every nanoprobe is upgraded. Off: they are refused and counted (noProof)." },
  hostKeyAlertClearMs: { type: "duration", default: 3_600_000, min: 1000, max: 604_800_000, doc: "A host key mismatch (an impostor, or a host re-keyed without forgetting its pin) stays an active security problem (Zabbix, /api/monitoring-errors) until an admin revokes or forgets that pin, or no mismatched announcement came for this long (1 h: a retrying impostor keeps it up)." },
  controlSocket: { type: "path", default: "", doc: 'Unix socket for the operator\'s commands (ringwatch-cma host maintenance|remove). Empty: <dataDir>/control.sock; "off": none. Created mode 0600: only the CMA\'s user and root may use it (the same actions over HTTP need the operator or admin role).' },
  // ---- high availability (cma/src/ha): several CMAs, one leading under an etcd lease
  etcdEndpoints: { type: "string", default: "", doc: 'etcd members as comma-separated URLs ("http://10.0.0.1:2379,http://10.0.0.2:2379"). Empty (default): no high availability, this CMA runs alone exactly as without etcd. Set: this CMA leads only while it holds the leader key under its lease, and stands by otherwise.' },
  etcdPrefix: { type: "string", default: "/ringwatch", doc: "Key prefix in etcd; the cluster name is appended, so one etcd serves several ringwatch clusters." },
  haLeaseSeconds: { type: "int", default: 3, min: 2, max: 60, doc: "The leader's etcd lease: a dead leader is replaced after at most this plus etcd's 0.5 s expiry check and the new leader's start (about 4 s in all at 3 s, beating Zabbix HA's 10 s minimum). It must outlast etcd's own leader election (up to 2× its election timeout, 1 s by default), or losing etcd's leader member deposes the CMA too." },
  haAdvertiseAddress: { type: "string", default: "", doc: 'With etcdEndpoints: "host:port" where nanoprobes reach this CMA\'s UDP channel, registered in etcd (leader or standby) for the list the leader sends every host, so a host whose CMA died finds the next. Empty: bindAddress:port; with bindAddress 0.0.0.0, this CMA is left out of the list (a warning says so).' },
  haStateSyncMs: { type: "duration", default: 1000, min: 100, max: 60_000, doc: "How often the leader copies its changed state files to etcd, all changes in one transaction: at most 1000/haStateSyncMs etcd writes a second however many hosts report; a new leader's state is at most this old (what came after, it asks the hosts for again)." },
  // Zabbix sender (durable: spool, batches, replay)
  zabbixServer: { type: "string", default: "", doc: 'Zabbix server (or proxy) trapper as "host:port", e.g. "zabbix.example:10051". Empty: no values are sent to Zabbix.' },
  spoolDir: { type: "path", default: "", doc: "Where values wait for Zabbix (spool, values of items Zabbix does not know yet). Empty: <dataDir>/zabbix-spool. Survives restarts: nothing accepted is lost." },
  spoolMaxBytes: { type: "int", default: 1 << 30, min: 1 << 20, doc: "Disk the spool may use (1 GiB ≈ 8 million values, hours of a few hundred hypervisors' metrics). Past it the oldest values are dropped, counted and alerted." },
  senderBatchMax: { type: "int", default: 1000, min: 1, max: 10_000, doc: "Values per sender request (seed: ~1000 per packet; Zabbix processes 1000 in a few ms)." },
  senderBatchMs: { type: "duration", default: 1000, min: 0, max: 60_000, doc: "Longest a value waits for its batch to fill: bounds the added latency when values trickle in." },
  senderConnectTimeoutMs: { type: "duration", default: 5000, min: 100, doc: "Connect deadline per request; past it Zabbix counts as unreachable and values stay spooled." },
  senderReplyTimeoutMs: { type: "duration", default: 30_000, min: 100, doc: "Deadline for the server's reply. Generous: a timed-out request is sent again, and a slow server is better waited for than sent duplicates." },
  senderBackoffMaxMs: { type: "duration", default: 5000, min: 100, doc: "Longest pause between retries while Zabbix is unreachable (starts at 100 ms, doubles): replay starts within this after Zabbix is back." },
  senderUnknownHoldMs: { type: "duration", default: 600_000, min: 0, doc: "How long values of items Zabbix does not know yet are kept while the configuration sync creates them (LLD, cache refresh), before they are dropped and counted." },
  senderCompress: { type: "bool", default: false, doc: "zlib-compress sender requests. Off: on a LAN it halved throughput (CPU on both ends, measured); on for a slow or remote link." },
  // ---- HTTP API and web UI (cma/src/http)
  httpListen: { type: "string", default: "127.0.0.1:1984", allowEmpty: true, doc: "TCP host:port of the HTTP API and web UI (TCP, so sharing 1984 with the UDP channel is fine). Every /api route but /api/health needs a user or an API token (users in <dataDir>/access.json). Loopback by default; beyond it, set httpsCert/httpsKey. Port 0: any free port (logged). Empty or \"off\": no HTTP server." },
  httpsCert: { type: "path", default: "", doc: "PEM certificate (chain) for HTTPS, with httpsKey; both or neither. Empty: plain HTTP (keep it on loopback or behind a TLS proxy). Session cookies are Secure under HTTPS." },
  httpsKey: { type: "path", default: "", doc: "PEM private key of httpsCert (readable by the CMA only)." },
  adminPasswordFile: { type: "path", default: "", doc: "First start only (no user yet): the password of the first user, admin, from this file's first line. Empty: a random password is generated and printed once to stderr and the log. Never a fixed default." },
  httpSessionMaxAgeMs: { type: "duration", default: 43_200_000, min: 60_000, max: 2_592_000_000, doc: "A console session ends this long after sign-in (12 h: a working day), whatever happens; sooner when the user's password changes or the user is removed." },
  httpSignInMaxFailures: { type: "int", default: 5, min: 1, max: 1000, doc: "Failed sign-ins for one user from one address within httpSignInWindowMs before further attempts get 429: slows password guessing to a crawl, while a person who mistypes a few times is not locked out for long." },
  httpSignInWindowMs: { type: "duration", default: 900_000, min: 1000, max: 86_400_000, doc: "The window of httpSignInMaxFailures (15 min, as the OWASP examples)." },
  httpQueryTimeoutMs: { type: "duration", default: 10_000, min: 100, max: 600_000, doc: "Longest a graph query run over HTTP may take, and the most a caller may ask for: a runaway ad-hoc query must not hold the store." },
  httpMaxRows: { type: "int", default: 10_000, min: 1, max: 1_000_000, doc: "Most rows one query over HTTP returns, and the most a caller may ask for: bounds one answer's memory and size (the answer says when rows were cut)." },
  httpMaxBodyBytes: { type: "int", default: 65_536, min: 1024, max: 16_777_216, doc: "Largest request body accepted (413 above, refused before parsing): a Cypher query and its parameters fit easily." },
  // ---- Zabbix API: configuration sync and the bridge (cma/src/zabbix/config/config-sync.ts, bridge.ts)
  zabbixApiUrl: { type: "string", default: "", doc: "Zabbix API endpoint, e.g. https://zabbix.example/api_jsonrpc.php (6.0 LTS or later). Empty: no Zabbix." },
  zabbixApiToken: { type: "string", default: "", doc: "Zabbix API token (Users → API tokens); wins over user/password. Prefer zabbixApiTokenFile: environments and config files leak." },
  zabbixApiTokenFile: { type: "path", default: "", doc: "File holding the API token (first line)." },
  zabbixUser: { type: "string", default: "", doc: "Zabbix user for user.login when no token is given (needs write access to the host group and template group)." },
  zabbixPassword: { type: "string", default: "", doc: "Password of zabbixUser. Prefer zabbixPasswordFile." },
  zabbixPasswordFile: { type: "path", default: "", doc: "File holding the password of zabbixUser (first line)." },
  zabbixApiTimeoutMs: { type: "duration", default: 15_000, min: 100, doc: "Timeout of one API call (a host.get over hundreds of hosts takes well under a second; a busy frontend more)." },
  zabbixHostGroup: { type: "string", default: "ringwatch", doc: "Host group of the hypervisor hosts (guest hosts, when enabled, go to <group>/guests). Created if missing." },
  zabbixTemplateGroup: { type: "string", default: "Templates/ringwatch", doc: "Group of the two ringwatch templates (a template group on Zabbix 6.2+, a host group on 6.0)." },
  zabbixHypervisorTemplate: { type: "string", default: "Ringwatch libvirt hypervisor", doc: "Name of the template with the host-level items (membership state, discovery errors, guest counts)." },
  zabbixGuestTemplate: { type: "string", default: "Ringwatch libvirt guests", doc: "Name of the template with the guest discovery rules and their item/trigger prototypes." },
  zabbixCmaTemplate: { type: "string", default: "Ringwatch CMA", doc: "Name of the template of the CMA's own host (heartbeat, CMA-side monitoring errors)." },
  zabbixCmaHost: { type: "string", default: "ringwatch-cma", doc: "The CMA's own Zabbix host (in zabbixHostGroup): its heartbeat makes a CMA outage one problem, on which every hypervisor's host-down trigger depends; CMA-side monitoring errors go there too." },
  zabbixScriptsCmaUrl: { type: "string", default: "", doc: "The CMA's HTTP API as the Zabbix server reaches it (e.g. http://cma.example:1984): the config sync then creates global scripts 'ringwatch: soft reboot VM', 'hard reset VM', 'start VM' (manual event actions on guests' problems) that call it with an operator API token the CMA makes and keeps in <dataDir>/zabbix-scripts.token. Empty: no scripts. Needs zabbixApiUrl and httpListen." },
  zabbixCreateActions: { type: "bool", default: false, doc: "Also create the Zabbix action 'ringwatch: guest recovery (seed 001)' on guests' unhealthy problems: notify zabbixActionNotifyGroup, then the escalation-step scripts soft reboot and hard reset, then page zabbixActionEscalateGroup (steps 2-4 only while the problem is unacknowledged; paused in maintenance). Needs zabbixScriptsCmaUrl. Refused with an actionPolicyFile in mode act: one of the two ladders acts, never both." },
  zabbixActionWaits: { type: "string", default: "2m,3m,5m", doc: "The action's waits after notify, after the soft reboot and after the hard reset (Zabbix time units; each 60 s to 1 week: Zabbix's escalation steps last at least 60 s). Seed 001's story." },
  zabbixActionNotifyGroup: { type: "string", default: "Zabbix administrators", doc: "Zabbix user group the action notifies first and tells of the recovery (must exist)." },
  zabbixActionEscalateGroup: { type: "string", default: "Zabbix administrators", doc: "Zabbix user group the action pages at its last step (must exist): the on-call people." },
  zabbixHostPerDomain: { type: "bool", default: false, doc: "One Zabbix host per guest (vm-<uuid>) instead of discovering guests on the hypervisor's host: for teams that own VMs, at the cost of one host per guest." },
  zabbixSyncDebounceMs: { type: "duration", default: 2000, min: 0, doc: "Configuration changes (hosts joining, guests appearing) are synced this long after the first one: a full inventory of 30 guests is one sync." },
  zabbixSyncRetryMs: { type: "duration", default: 30_000, min: 100, doc: "A failed sync (API down, permission) is retried this often." },
  zabbixTemplateRecheckMs: { type: "duration", default: 600_000, min: 1000, doc: "The templates are compared with the definitions this often (repairs hand edits; host changes sync at once)." },
  zabbixStateRefreshMs: { type: "duration", default: 60_000, min: 1000, doc: "Every host's membership state is re-sent this often, then the CMA's own heartbeat: the host-down trigger's nodata backstop ({$RINGWATCH.STATE.NODATA}, 5 m) fires only when the CMA stops reporting, and then the CMA's 'not reporting' problem ({$RINGWATCH.CMA.NODATA}, 3 m) stands for it. Keep it well below both." },
  zabbixConfigCacheDelayMs: { type: "duration", default: 65_000, min: 0, doc: "Hosts and items just created are usable after the server's next configuration cache update (CacheUpdateFrequency, 60 s by default) plus LLD time: their values are held this long, keeping their clocks. Set to your CacheUpdateFrequency + 5 s." },
  zabbixMaxHeldValues: { type: "int", default: 2_000_000, min: 0, doc: "Values held for not-yet-usable hosts/items beyond this go to the sender at once (bounds memory; nothing is dropped)." },
  zabbixMaxHoldMs: { type: "duration", default: 600_000, min: 0, doc: "A held value goes to the sender after this long even if its host/item never appeared (the sender reports what Zabbix refuses)." },
  // ---- monitoring errors (cma/src/monitoring-errors)
  senderDropClearMs: { type: "duration", default: 600_000, min: 1000, doc: "A Zabbix sender drop stays an active monitoring error until no value was dropped for this long: drops are one-shot, and a problem that flickers off between two drops would hide a steady loss." },
  // ---- metric history (cma/src/history): what the nanoprobes send, for charts
  historyStore: { type: "string", default: "sqlite", oneOf: ["sqlite", "none"], doc: "Where each series' min/avg/max per report interval is kept for charts (GET /api/series): sqlite (embedded, on disk; chosen over DuckDB by measurement, BENCHMARKS.md) or none (no history; /api/series answers 503)." },
  historyDir: { type: "path", default: "", doc: "Directory of the history store. Empty: <dataDir>/history. ~60 KB per series-day at full resolution (BENCHMARKS.md): 60,000 series for 7 days ≈ 25 GB." },
  historyFullDays: { type: "int", default: 7, min: 1, max: 366, doc: "Days each report interval is kept at full resolution; older ranges are charted from the hourly rollups." },
  historyHourlyDays: { type: "int", default: 90, min: 1, max: 3650, doc: "Days the hourly min/avg/max rollups are kept (at least historyFullDays; 24 rows per series-day)." },
  historyRollupMs: { type: "duration", default: 300_000, min: 1000, max: 3_600_000, doc: "How often the hourly rollups are brought up to date and expired history is deleted (and once at start): the hour under way reaches the rollups at most this late; each pass costs ~20 ms of CPU per host-hour (BENCHMARKS.md)." },
  // ---- recovery actions (cma/src/actions)
  actionPolicyFile: { type: "path", allowEmpty: true, default: "", doc: "JSON file of the escalation ladder (steps such as notify, wait, reboot, reset, escalate; per guest or default; limits; webhooks; dry-run): README 'Actions on guests'. Empty: no guest is ever acted on automatically (people and scripts still can, through the API)." },
  ladderTickMs: { type: "duration", default: 1000, min: 50, max: 60_000, doc: "How often due ladder steps are looked for: a wait lasts up to this much longer than configured." },
  historyMaxPoints: { type: "int", default: 5000, min: 10, max: 100_000, doc: "Most rows one /api/series answer may hold (the points a caller asks for; default 1000 or this if lower): bounds one answer's size." },
  // ---- graph (topology store, ingestion, root-cause queries)
  graphStore: { type: "string", default: "kuzu", oneOf: ["kuzu", "neo4j", "none"], doc: "The topology graph: kuzu (embedded, on disk at <dataDir>/graph, no server to run), neo4j (also chosen whenever NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD are set; credentials stay in the environment), none (no graph and no root-cause queries)." },
  graphBufferPoolMb: { type: "int", default: 256, min: 16, max: 1_048_576, doc: "Kuzu's page cache, once for ingestion and once for queries (a read-only copy). 256 MiB caches a few thousand hosts; 10,000 hosts with 300,000 guests are ~0.4 GB on disk (BENCHMARKS.md: 1,024 MiB)." },
  graphFlushMs: { type: "duration", default: 200, min: 10, max: 60_000, doc: "Ingestion gathers changes this long into one write: one transaction per flush rather than one per event keeps a join storm cheap." },
  graphFlushItems: { type: "int", default: 2000, min: 1, doc: "Write sooner once this many changes wait (a join storm, a full discovery resend)." },
  graphStatementRows: { type: "int", default: 5000, min: 1, max: 1_000_000, doc: "Rows per batched write statement (one UNWIND); a bigger flush is split into several statements: bounds one statement's parameters and how long one statement holds the store." },
  graphRetryMaxMs: { type: "duration", default: 30_000, min: 100, doc: "Longest wait between retries of a failed graph write; changes wait in memory meanwhile, newer ones replacing older." },
} satisfies Schema;

export type CmaConfig = { [K in keyof typeof cmaSchema]: (typeof cmaSchema)[K]["default"] };

export function cmaConfig(over: Partial<CmaConfig>): CmaConfig {
  const c = Object.fromEntries(Object.entries(cmaSchema).map(([k, s]) => [k, s.default])) as CmaConfig;
  return { ...c, ...over };
}

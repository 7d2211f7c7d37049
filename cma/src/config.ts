/** CMA configuration: every option, its default and why. */
import type { Schema } from "@ringwatch/shared";

export const cmaSchema = {
  identity: { type: "string", default: "cma", doc: "Name the CMA uses on the wire." },
  cluster: { type: "string", default: "ringwatch", doc: "Cluster name; frames from another cluster are dropped and counted." },
  clusterKeyFile: { type: "path", default: "/etc/ringwatch/cluster.key", doc: "Cluster key file (line 1: key to send with; line 2: another accepted key, for rotation)." },
  commandKeyFile: { type: "path", default: "/etc/ringwatch/cma-command.key", doc: "The CMA's Ed25519 private key; every command to a nanoprobe is signed with it." },
  dataDir: { type: "path", default: "/var/lib/ringwatch", doc: "Where the CMA keeps its state (the membership snapshot a restarted CMA starts from)." },
  bindAddress: { type: "string", default: "0.0.0.0", doc: "Address the UDP socket binds to (0.0.0.0 to hear the multicast group)." },
  port: { type: "port", default: 1984, doc: "UDP port for the channel; also the multicast group's port." },
  multicastGroup: { type: "string", default: "224.0.2.5", doc: "Group nanoprobes announce to (Assimilation's IANA-reserved address). Empty: unicast only." },
  multicastInterface: { type: "string", default: "", doc: "Local address of the interface to join the group on. Default: the system's choice." },
  heartbeatMs: { type: "duration", default: 1000, min: 50, max: 60_000, doc: "Heartbeat interval told to nanoprobes (memberlist probes every 1 s too)." },
  warntimeMs: { type: "duration", default: 5000, min: 100, doc: "Silence after which a nanoprobe reports a neighbour late." },
  deadtimeMs: { type: "duration", default: 10_000, min: 100, doc: "Silence after which a nanoprobe reports a neighbour dead (Assimilation: 30 s)." },
  ringsPerSegment: { type: "int", default: 1, min: 1, max: 2, doc: "Rings per segment: 1 (two neighbours each) or 2 (four: survives two adjacent deaths)." },
  segmentPrefixLength: { type: "int", default: 24, min: 0, max: 32, doc: "Hosts whose addresses share this many leading bits form one segment (one ring, one switch)." },
  probeAttempts: { type: "int", default: 3, min: 1, max: 20, doc: "Direct probes before a silent host counts as not answering." },
  probeIntervalMs: { type: "duration", default: 300, min: 10, doc: "Time between direct probes (3 × 300 ms: a verdict in about a second)." },
  reannounceGraceMs: { type: "duration", default: 30_000, min: 0, doc: "After a CMA restart, how long hosts have to re-announce before the silent ones are probed." },
  segmentRecheckMs: { type: "duration", default: 5000, min: 100, doc: "While a segment is silent, one of its hosts is probed this often to notice its return." },
  statusIntervalMs: { type: "duration", default: 60_000, min: 0, doc: "How often to log a one-line status (0: never)." },
  // ---- graph (topology store, ingestion, root-cause queries)
  graphStore: { type: "string", default: "kuzu", oneOf: ["kuzu", "neo4j", "none"], doc: "The topology graph: kuzu (embedded, on disk at <dataDir>/graph, no server to run), neo4j (also chosen whenever NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD are set; credentials stay in the environment), none (no graph and no root-cause queries)." },
  graphBufferPoolMb: { type: "int", default: 256, min: 16, max: 1_048_576, doc: "Kuzu's page cache, once for ingestion and once for queries (a read-only copy). 256 MiB caches a few thousand hosts; 10,000 hosts with 300,000 guests are ~0.4 GB on disk (BENCHMARKS.md: 1,024 MiB)." },
  graphFlushMs: { type: "duration", default: 200, min: 10, max: 60_000, doc: "Ingestion gathers changes this long into one write: one transaction per flush rather than one per event keeps a join storm cheap." },
  graphFlushItems: { type: "int", default: 2000, min: 1, doc: "Write sooner once this many changes wait (a join storm, a full discovery resend)." },
  graphRetryMaxMs: { type: "duration", default: 30_000, min: 100, doc: "Longest wait between retries of a failed graph write; changes wait in memory meanwhile, newer ones replacing older." },
} satisfies Schema;

export type CmaConfig = { [K in keyof typeof cmaSchema]: (typeof cmaSchema)[K]["default"] };

export function cmaConfig(over: Partial<CmaConfig>): CmaConfig {
  const c = Object.fromEntries(Object.entries(cmaSchema).map(([k, s]) => [k, s.default])) as CmaConfig;
  return { ...c, ...over };
}

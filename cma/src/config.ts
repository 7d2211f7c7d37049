/** CMA configuration: every option, its default and why. */
import type { Schema } from "@ringwatch/shared";

export const cmaSchema = {
  identity: { type: "string", default: "cma", doc: "Name the CMA uses on the wire." },
  cluster: { type: "string", default: "ringwatch", doc: "Cluster name; frames from another cluster are dropped and counted." },
  clusterKeyFile: { type: "path", default: "/etc/ringwatch/cluster.key", doc: "Cluster key file (line 1: key to send with; line 2: another accepted key, for rotation)." },
  commandKeyFile: { type: "path", default: "/etc/ringwatch/cma-command.key", doc: "The CMA's Ed25519 private key; every command to a nanoprobe is signed with it." },
  bindAddress: { type: "string", default: "0.0.0.0", doc: "Address the UDP socket binds to." },
  port: { type: "port", default: 1984, doc: "UDP port nanoprobes announce themselves to." },
  heartbeatMs: { type: "duration", default: 1000, min: 50, max: 60_000, doc: "Heartbeat interval told to nanoprobes (memberlist probes every 1 s too)." },
  statusIntervalMs: { type: "duration", default: 10_000, min: 0, doc: "How often to log a one-line status (0: never)." },
} satisfies Schema;

export type CmaConfig = { [K in keyof typeof cmaSchema]: (typeof cmaSchema)[K]["default"] };

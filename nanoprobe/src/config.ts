/** Nanoprobe configuration: every option, its default and why. */
import { hostname } from "node:os";
import type { Schema } from "@ringwatch/shared";

export const nanoprobeSchema = {
  identity: { type: "string", default: hostname(), doc: "Host name this nanoprobe reports (the Zabbix host name later). Default: the system host name." },
  cluster: { type: "string", default: "ringwatch", doc: "Cluster name; frames from another cluster are dropped and counted." },
  clusterKeyFile: { type: "path", default: "/etc/ringwatch/cluster.key", doc: "Cluster key file (line 1: key to send with; line 2: another accepted key, for rotation)." },
  cmaPublicKeyFile: { type: "path", default: "/etc/ringwatch/cma-command.pub", doc: "The CMA's Ed25519 public key: commands not signed by it are refused." },
  cma: { type: "string", default: "", doc: "CMA address host:port. Required until zero-configuration (multicast) join lands." },
  bindAddress: { type: "string", default: "0.0.0.0", doc: "Address the UDP socket binds to." },
  port: { type: "port", default: 1984, doc: "UDP port for the channel and heartbeats (1984: Assimilation's port, kept by convention)." },
  helloRetryMs: { type: "duration", default: 2000, min: 100, doc: "How long to wait before announcing again when the CMA did not acknowledge." },
  heartbeatMs: { type: "duration", default: 1000, min: 50, max: 60_000, doc: "Heartbeat interval until the CMA says otherwise (memberlist probes every 1 s too)." },
  statusIntervalMs: { type: "duration", default: 10_000, min: 0, doc: "How often to log a one-line status (0: never)." },
} satisfies Schema;

export type NanoprobeConfig = { [K in keyof typeof nanoprobeSchema]: (typeof nanoprobeSchema)[K]["default"] };

/**
 * Options the CMA and the nanoprobe share: the cluster they belong to and its key, where they meet
 * (multicast group, bind address, UDP port), the heartbeat timing and the status line. Declared once
 * so that names, types, defaults, bounds and environment names cannot drift apart between the two
 * processes; each schema composes them in its own order. A process may reword an option's sentence
 * where the option means something slightly different to it (the CMA tells nanoprobes the timing, a
 * nanoprobe uses it until told), never its name, default or bounds.
 */
import { ConfigError } from "./config.js";
import type { OptionSpec, Schema } from "./config.js";
import { parseHostPort } from "./cli.js";

export const clusterOptions = {
  cluster: { type: "string", default: "ringwatch", doc: "Cluster name; frames from another cluster are dropped and counted." },
  clusterKeyFile: { type: "path", default: "/etc/ringwatch/cluster.key", doc: "Cluster key file (line 1: key to send with; line 2: another accepted key, for rotation)." },
  multicastGroup: { type: "string", default: "224.0.2.5", allowEmpty: true, doc: "Multicast group nanoprobes announce to and the CMA listens on (Assimilation's IANA-reserved address). Empty: no multicast." },
  multicastInterface: { type: "string", default: "", doc: "Local address of the interface the multicast group is used on. Default: the system's choice." },
  bindAddress: { type: "string", default: "0.0.0.0", doc: "Address the UDP socket binds to." },
  /** the CMA's channel port is also the multicast group's port, so a nanoprobe's multicastPort is this option too */
  port: { type: "port", default: 1984, doc: "UDP port for the channel (1984: Assimilation's port, kept by convention)." },
  heartbeatMs: { type: "duration", default: 1000, min: 50, max: 60_000, doc: "Heartbeat interval (memberlist probes every 1 s too)." },
  warntimeMs: { type: "duration", default: 5000, min: 100, doc: "A neighbour silent this long is reported late." },
  deadtimeMs: { type: "duration", default: 10_000, min: 100, doc: "A neighbour silent this long is reported dead (Assimilation: 30 s; we use 10 s)." },
  statusIntervalMs: { type: "duration", default: 60_000, min: 0, doc: "How often to log a one-line status (0: never)." },
  logFormat: { type: "string", default: "auto", oneOf: ["auto", "json", "pretty"], doc: "Log lines: json (one object per line, for daemons, journald and files), pretty (for a person reading), auto: pretty when stdout is a terminal." },
} satisfies Schema;

/** A shared option with the sentence one process shows for it; name, type, default and bounds unchanged. */
export function withDoc<S extends OptionSpec>(spec: S, doc: string): S {
  return { ...spec, doc };
}

/** CMAs of one cluster a host knows at most: one leader and its standbys (a longer list is a mistake, and each announcement goes to every one) */
export const MAX_CMA_ADDRESSES = 8;

/**
 * A list of CMA addresses ("host:port" each, at most MAX_CMA_ADDRESSES): the nanoprobe's `cma`
 * option, the CMAs registered in etcd, the list a leader signs into assignments. Throws a
 * ConfigError naming the bad entry.
 */
export function parseCmaAddressList(items: readonly string[], what: string): { address: string; port: number }[] {
  if (items.length > MAX_CMA_ADDRESSES) throw new ConfigError(`${what}: ${items.length} addresses, at most ${MAX_CMA_ADDRESSES}`);
  return items.map((p) => parseHostPort(p, what));
}

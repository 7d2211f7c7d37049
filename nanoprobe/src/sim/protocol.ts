/**
 * What the simulator (parent process) and its worker processes say to each other over the IPC
 * channel: the parent starts a share of the hosts in each worker and acts on them by name; each
 * worker sends back what its hosts know (views) every VIEW_INTERVAL_MS.
 */

import type { CompactedSeries, StatsBatch } from "@ringwatch/shared";

export type HostFate = "running" | "killed" | "left" | "paused" | "partitioned" | "slowed";

/** one simulated host as a worker starts it */
export interface WorkerHost {
  name: string;
  address: string;
  segment: number;
}

/** what a worker needs to run its hosts */
export interface RunnerOptions {
  keysDir: string;
  port: number;
  /** the nanoprobes' cma option: the CMA address, or each CMA's (high availability) */
  cma: string;
  heartbeatMs: number;
  warntimeMs: number;
  deadtimeMs: number;
  loss: number;
  seed: number;
  startBatch: number;
  /** each host reports this stats batch (times moved to now) every everyMs, as a hypervisor would its guests' (benchmarks of the CMA's ingest); absent: no stats */
  stats?: { everyMs: number; batch: StatsBatch<CompactedSeries> };
  /** false: the hosts send no heartbeats and judge no neighbour (deaths come as injected reports) */
  heartbeats: boolean;
  /** how often the worker sends its hosts' views */
  viewIntervalMs: number;
  /** the hosts' joinBackoffMaxMs (unanswered announcements repeat at most this far apart) */
  joinBackoffMaxMs: number;
}

/** a DEAD report a host sends as if it had found its neighbour silent (heartbeats off) */
export interface InjectedReport {
  reporter: string;
  subject: string;
  subjectAddress: string;
  silentMs: number;
}

/** what one host knows, as its worker last saw it */
export interface HostView {
  name: string;
  /** its nanoprobe is running (not killed or left) */
  running: boolean;
  registered: boolean;
  /** the CMA it registered with last ("address:port"), null before the first */
  cma: string | null;
  /** names of the neighbours it watches */
  neighbours: string[];
  heartbeatsSent: number;
  heartbeatsReceived: number;
  announcesSent: number;
  reportsSent: number;
  alertsSent: number;
  stalls: number;
  /** its endpoint's drop counters that are not zero */
  drops: Record<string, number>;
}

/** Views are pushed this often: fresh enough for tests that poll, cheap at 2,500 hosts per worker... */
export const VIEW_INTERVAL_MS = 250;
/** ...and no more often than every this many ms per host in a worker (25,000 hosts: every 2.5 s), so that sending them stays a small share of a worker's loop */
export const VIEW_MS_PER_HOST = 0.1;

export type ToWorker =
  | { type: "start"; id: number; opts: RunnerOptions; hosts: WorkerHost[] }
  | { type: "kill" | "leave" | "restart" | "pause" | "resume" | "partition"; id: number; names: string[] }
  | { type: "slow"; id: number; names: string[]; delayMs: number }
  | { type: "report"; id: number; reports: InjectedReport[] }
  | { type: "stop"; id: number };

export type FromWorker =
  | { type: "done"; id: number; error?: string }
  | { type: "views"; views: HostView[]; lagMs: number };

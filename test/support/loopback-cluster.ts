/**
 * A cluster of real ringwatch processes on loopback for system tests: its keys, a port, and the
 * environment of its CMA and of each nanoprobe (the ring timing given; no multicast, no discovery
 * scripts, libvirt's test driver). Each nanoprobe gets an address of its own, 127.0.0.(i+2).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CMA_CLI, runToExit } from "./processes.js";

export interface RingTiming {
  heartbeatMs: number;
  warntimeMs: number;
  deadtimeMs: number;
}

export interface LoopbackCluster {
  port: number;
  /** the CMA's environment (state in dir/cma-state), with extra settings over it */
  cmaEnv(extra?: Record<string, string>): Record<string, string>;
  /** the environment of the i-th nanoprobe (0-based), named id */
  nanoprobeEnv(id: string, i: number, extra?: Record<string, string>): Record<string, string>;
}

export async function loopbackCluster(dir: string, cluster: string, timing: RingTiming, libvirtUri: string): Promise<LoopbackCluster> {
  const keys = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
  assert.equal(keys.code, 0, keys.stderr);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const common = {
    RINGWATCH_CLUSTER: cluster, RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0",
    RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_PORT: String(port),
  };
  return {
    port,
    cmaEnv: (extra = {}) => ({
      ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_DATA_DIR: join(dir, "cma-state"),
      RINGWATCH_HEARTBEAT_MS: String(timing.heartbeatMs), RINGWATCH_WARNTIME_MS: String(timing.warntimeMs), RINGWATCH_DEADTIME_MS: String(timing.deadtimeMs), ...extra,
    }),
    nanoprobeEnv: (id, i, extra = {}) => ({
      ...common, RINGWATCH_IDENTITY: id, RINGWATCH_BIND_ADDRESS: `127.0.0.${i + 2}`, RINGWATCH_CMA: `127.0.0.1:${port}`, RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"),
      RINGWATCH_JOIN_INTERVAL_MS: "300", RINGWATCH_LIBVIRT_URI: libvirtUri, RINGWATCH_DISCOVERY_DIR: "", ...extra,
    }),
  };
}

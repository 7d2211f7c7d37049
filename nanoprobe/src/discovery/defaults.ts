// Discovery defaults, all in one place: how often each script runs and the limits on a run.
import { join } from "node:path";
import type { DiscoveryScript } from "./types.js";

export const DISCOVERY_DEFAULTS = {
  /** Scripts without their own interval: the seed's "at start and every 10 minutes". */
  intervalMs: 10 * 60_000,
  /** A run taking longer is killed (SIGKILL to its process group). */
  timeoutMs: 20_000,
  /** Larger stdout is an error: a discovery document is kilobytes, rarely a megabyte. */
  maxOutputBytes: 4 * 1024 * 1024,
  /** Scripts running at once: discovery must not compete with sampling for the CPU. */
  concurrency: 2,
  /** How much of a failing script's stderr an error event carries. */
  stderrTailBytes: 2048,
} as const;

/**
 * Per-script intervals of the scripts shipped in @ringwatch/discovery-scripts. Everything is
 * inventory that changes rarely, except client connections and listeners (tcp-services, and the
 * guests' own in guest-flows), which are what dependency discovery is about.
 */
export const DEFAULT_SCRIPT_INTERVALS_MS: Readonly<Record<string, number>> = {
  "os": 10 * 60_000,
  "cpu-memory": 10 * 60_000,
  "nics": 10 * 60_000,
  "tcp-services": 60_000,
  "libvirt-domains": 10 * 60_000,
  "lldp": 10 * 60_000,
  // captures handshakes for guestFlowsWindowMs of every minute; entries last an hour (README)
  "guest-flows": 60_000,
};

/** The shipped scripts as runner entries, given the directory holding their executables (discovery-scripts/bin). */
export function defaultDiscoveryScripts(binDir: string, env: Readonly<Record<string, string>> = {}): DiscoveryScript[] {
  return Object.entries(DEFAULT_SCRIPT_INTERVALS_MS).map(([name, intervalMs]) => ({
    name, command: join(binDir, name), intervalMs, env: { ...env },
  }));
}

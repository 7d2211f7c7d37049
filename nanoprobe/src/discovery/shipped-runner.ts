// The discovery runner a nanoprobe runs: the shipped scripts, each at its own random point of
// its interval as the configuration spreads them (so at start they do not all run at once).
// guest-flows runs only on a hypervisor (libvirtUri set) with guestFlowsWindowMs > 0: it keeps
// its state beside the host's identity key, and is given its window plus time to start and read.
import { dirname, join } from "node:path";
import type { NanoprobeConfig } from "../config.js";
import { spread } from "../config.js";
import { defaultDiscoveryScripts } from "./defaults.js";
import { DiscoveryRunner } from "./runner.js";

type ShippedRunnerConfig = Pick<NanoprobeConfig, "discoveryDir" | "libvirtUri" | "scheduleSpread" | "scheduleStartWindowMs" | "guestFlowsWindowMs" | "identityKeyFile">;

/** Beyond the capture window: node's start, the libvirt inventory, the conntrack table. */
const GUEST_FLOWS_SLACK_MS = 15_000;

export function shippedDiscoveryRunner(cfg: ShippedRunnerConfig): DiscoveryRunner {
  const env: Record<string, string> = cfg.libvirtUri ? { LIBVIRT_URI: cfg.libvirtUri } : {};
  const scripts = defaultDiscoveryScripts(cfg.discoveryDir, env).flatMap((s) => {
    if (s.name !== "guest-flows") return [s];
    if (!cfg.libvirtUri || cfg.guestFlowsWindowMs === 0) return [];
    return [{
      ...s,
      env: { ...s.env, GUEST_FLOWS_WINDOW_MS: String(cfg.guestFlowsWindowMs), GUEST_FLOWS_STATE: join(dirname(cfg.identityKeyFile), "guest-flows.json") },
      timeoutMs: cfg.guestFlowsWindowMs + GUEST_FLOWS_SLACK_MS,
    }];
  });
  return new DiscoveryRunner({ scripts, spread: spread(cfg) });
}

// The discovery runner a nanoprobe runs: the shipped scripts, each at its own random point of
// its interval as the configuration spreads them (so at start they do not all run at once).
import type { NanoprobeConfig } from "../config.js";
import { spread } from "../config.js";
import { defaultDiscoveryScripts } from "./defaults.js";
import { DiscoveryRunner } from "./runner.js";

export function shippedDiscoveryRunner(cfg: Pick<NanoprobeConfig, "discoveryDir" | "libvirtUri" | "scheduleSpread" | "scheduleStartWindowMs">): DiscoveryRunner {
  return new DiscoveryRunner({ scripts: defaultDiscoveryScripts(cfg.discoveryDir, cfg.libvirtUri ? { LIBVIRT_URI: cfg.libvirtUri } : {}), spread: spread(cfg) });
}

/** discovertype "os": the host's OS release, kernel and boot time. */
import { mergeNodes } from "../write-batch.js";
import type { DiscoveryIngest } from "./discovery-ingest.js";
import { text } from "./input.js";
import { phased } from "./phased.js";

export const osIngest: DiscoveryIngest = {
  discovertype: "os",
  build(host, data, at) {
    const pretty = text(data.prettyName) ?? ([text(data.name), text(data.version)].filter(Boolean).join(" ") || null);
    const boot = text(data.bootTime) ? Date.parse(data.bootTime as string) : NaN;
    return phased({
      nodes: mergeNodes("Host", [{ name: host, os: pretty, kernel: text(data.kernelRelease), bootTime: Number.isFinite(boot) ? boot : null, updatedAt: at }]),
    });
  },
};

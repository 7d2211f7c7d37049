/**
 * Local analytics thresholds, every default with its reason. Configurable per nanoprobe: the
 * analytics* options of the config file (nanoprobe/src/config.ts, ranges checked there).
 */
export interface AnalyticsThresholds {
  /** a vCPU this busy (CPUs per vCPU, from vcpu.N.time) counts as saturated: 0.9 leaves room for sampling noise */
  vcpuSaturation: number;
  /** saturation must last this long to be abuse, not a compile job: 3 min (seed: "for minutes") */
  abuseSustainMs: number;
  /** other domains suffer when their vCPUs wait this much for a physical CPU (vcpu.N.delay, s/s): 5% steal is felt */
  neighbourSteal: number;
  /** memory growth: the least-squares slope of RSS/balloon over the window, KiB per minute (1 MiB/min = 1.4 GiB/day) */
  leakSlopeKiBPerMin: number;
  /** the host's own memory growth (MemTotal − MemAvailable − the guests' RSS), KiB per minute: 4 MiB/min, kernel slabs and host daemons move more than one guest */
  hostLeakSlopeKiBPerMin: number;
  /** window the slope is fitted over: 30 min ignores caches filling after boot */
  leakWindowMs: number;
  /** the fit must explain this share of the variance (R²): steady growth, not noise */
  leakMinR2: number;
  /** a sample above this many times the window's median rate is a burst... */
  burstFactor: number;
  /** ...if it is also above this rate (bytes/s): 10 MB/s, so an idle NIC's blips are not bursts */
  burstMinBytesPerSec: number;
  /** and if it is short: a burst is gone within this long (longer is just load) */
  burstMaxDurationMs: number;
}

export const DEFAULT_THRESHOLDS: Readonly<AnalyticsThresholds> = Object.freeze({
  vcpuSaturation: 0.9,
  abuseSustainMs: 180_000,
  neighbourSteal: 0.05,
  leakSlopeKiBPerMin: 1024,
  hostLeakSlopeKiBPerMin: 4096,
  leakWindowMs: 30 * 60_000,
  leakMinR2: 0.8,
  burstFactor: 5,
  burstMinBytesPerSec: 10_000_000,
  burstMaxDurationMs: 1000,
});

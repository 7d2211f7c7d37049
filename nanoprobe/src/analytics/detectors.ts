/**
 * The detectors, pure functions of sample windows (time-ordered points), so each can be tested on
 * constructed series. Each returns the evidence that justifies an alert, or undefined.
 */
import type { AnalyticsThresholds } from "./thresholds.js";

export interface Point {
  at: number;
  value: number;
}

/** Least-squares slope (per ms) and R² of value over time. */
export function linearFit(points: readonly Point[]): { slopePerMs: number; r2: number } {
  const n = points.length;
  if (n < 3) return { slopePerMs: 0, r2: 0 };
  const t0 = points[0].at;
  let sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
  for (const p of points) {
    const x = p.at - t0;
    sx += x; sy += p.value; sxx += x * x; sxy += x * p.value; syy += p.value * p.value;
  }
  const vx = n * sxx - sx * sx;
  const vy = n * syy - sy * sy;
  if (vx <= 0) return { slopePerMs: 0, r2: 0 };
  const slope = (n * sxy - sx * sy) / vx;
  const r2 = vy <= 0 ? 0 : ((n * sxy - sx * sy) ** 2) / (vx * vy);
  return { slopePerMs: slope, r2 };
}

/** The points of the last windowMs before now, if they cover at least 95% of it (else undefined). */
export function covering(points: readonly Point[], windowMs: number, now: number): Point[] | undefined {
  const w = points.filter((p) => p.at >= now - windowMs && p.at <= now);
  if (w.length < 2 || w[w.length - 1].at - w[0].at < windowMs * 0.95) return undefined;
  return w;
}

/** Every point of the window at or above the level, and the points cover the window. */
export function sustainedAbove(points: readonly Point[], level: number, sustainMs: number, now: number): boolean {
  const w = covering(points, sustainMs, now);
  return w !== undefined && w.every((p) => p.value >= level);
}

export interface AbuseEvidence {
  vcpuBusy: number; // mean CPUs per vCPU over the window
  victims: { domain: string; steal: number }[];
}

/**
 * A domain whose every vCPU stayed saturated for the sustain window, while other domains' vCPUs
 * waited for physical CPUs (steal) more than the threshold: the classic miner on a shared host.
 */
export function detectVcpuAbuse(
  vcpuBusy: readonly Point[], // the suspect's mean busy fraction per vCPU
  othersSteal: ReadonlyMap<string, readonly Point[]>, // other domains' mean vCPU delay (s/s)
  t: AnalyticsThresholds,
  now: number,
): AbuseEvidence | undefined {
  if (!sustainedAbove(vcpuBusy, t.vcpuSaturation, t.abuseSustainMs, now)) return undefined;
  const from = now - t.abuseSustainMs;
  const mean = (ps: readonly Point[]): number => {
    const w = ps.filter((p) => p.at >= from);
    return w.length ? w.reduce((s, p) => s + p.value, 0) / w.length : 0;
  };
  const victims = [...othersSteal].map(([domain, ps]) => ({ domain, steal: mean(ps) })).filter((v) => v.steal >= t.neighbourSteal);
  if (victims.length === 0) return undefined;
  return { vcpuBusy: mean(vcpuBusy), victims: victims.sort((a, b) => b.steal - a.steal) };
}

export interface LeakEvidence {
  slopeKiBPerMin: number;
  r2: number;
  fromKiB: number;
  toKiB: number;
  windowMs: number;
}

/** Memory (KiB) growing steadily over the window: a slope above the threshold that fits well. */
export function detectLeak(memKiB: readonly Point[], t: AnalyticsThresholds, now: number): LeakEvidence | undefined {
  const w = covering(memKiB, t.leakWindowMs, now);
  if (!w || w.length < 10) return undefined;
  const { slopePerMs, r2 } = linearFit(w);
  const slopeKiBPerMin = slopePerMs * 60_000;
  if (slopeKiBPerMin < t.leakSlopeKiBPerMin || r2 < t.leakMinR2) return undefined;
  return { slopeKiBPerMin, r2, fromKiB: w[0].value, toKiB: w[w.length - 1].value, windowMs: w[w.length - 1].at - w[0].at };
}

export interface BurstEvidence {
  peakBytesPerSec: number;
  medianBytesPerSec: number;
  meanBytesPerSec: number;
  durationMs: number;
  at: number;
}

/**
 * Micro-bursts: short runs of samples far above the window's median and above an absolute floor,
 * over within burstMaxDurationMs. At 1-minute resolution their bytes vanish into the average;
 * at sub-second sampling they stand out.
 */
export function detectBursts(rate: readonly Point[], t: AnalyticsThresholds): BurstEvidence[] {
  if (rate.length < 5) return [];
  // every burst sample is at or above the floor: an idle NIC (most of them) needs no sort
  if (!rate.some((p) => p.value >= t.burstMinBytesPerSec)) return [];
  const sorted = rate.map((p) => p.value).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  const level = Math.max(t.burstMinBytesPerSec, median * t.burstFactor);
  const out: BurstEvidence[] = [];
  let run: Point[] = [];
  const close = (next: Point | undefined): void => {
    if (run.length === 0) return;
    const end = next?.at ?? run[run.length - 1].at;
    const durationMs = end - run[0].at;
    if (durationMs <= t.burstMaxDurationMs) {
      out.push({ peakBytesPerSec: Math.max(...run.map((p) => p.value)), medianBytesPerSec: median, meanBytesPerSec: mean, durationMs, at: run[0].at });
    }
    run = [];
  };
  for (const p of rate) {
    if (p.value >= level) run.push(p);
    else close(p);
  }
  close(undefined);
  return out;
}

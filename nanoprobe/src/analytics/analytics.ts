/**
 * Local analytics on the nanoprobe: keeps short rolling windows of the samples the detectors need
 * (per domain: mean vCPU busy and mean vCPU delay per pass, memory; per NIC: byte rates; the host's
 * own memory use), runs the detectors every `evaluateMs`, and turns findings into alerts — raised
 * once, cleared when the condition no longer holds; bursts are one-shot. Memory is bounded by the
 * windows.
 */
import { EventEmitter } from "node:events";
import type { Alert } from "@ringwatch/shared";
import { detectBursts, detectLeak, detectVcpuAbuse, sustainedAbove } from "./detectors.js";
import type { HostMemory } from "../hypervisor/host-memory.js";
import type { Point } from "./detectors.js";
import type { AnalyticsThresholds } from "./thresholds.js";

type Window = Point[];

/** What a series is to the detectors. */
const enum Role { None, VcpuTime, VcpuDelay, Rss, BalloonCurrent, NicBytes }

/** Series key → role: the sampler passes the same few hundred keys every second, matched once each. */
const ROLES = new Map<string, Role>();
/** Past this many distinct keys the cache stops growing (keys are per device name: hotplug churn must not grow it forever). */
const MAX_ROLES = 100_000;

function roleOf(key: string): Role {
  let r = ROLES.get(key);
  if (r !== undefined) return r;
  const vc = /^vcpu\.\d+\.(time|delay)$/.exec(key);
  if (vc) r = vc[1] === "time" ? Role.VcpuTime : Role.VcpuDelay;
  else if (key === "balloon.rss") r = Role.Rss;
  else if (key === "balloon.current") r = Role.BalloonCurrent;
  else if (/^net\..+\.(rx|tx)\.bytes$/.test(key)) r = Role.NicBytes;
  else r = Role.None;
  if (ROLES.size < MAX_ROLES) ROLES.set(key, r);
  return r;
}

/**
 * A memory window keeps at most about this many points: the leak fit over 30 min needs no more
 * than one point per 9 s, and 1 s sampling would otherwise hold 1,980 objects per domain, filling
 * for half an hour (a heap that grows for 33 minutes after start).
 */
const MEMORY_WINDOW_POINTS = 200;

/** How many entries each per-domain and per-series structure holds: bounded by the live domains (and the windows). */
export interface AnalyticsRetained {
  /** domains with a vCPU-busy / vCPU-delay / memory window */
  vcpuBusy: number;
  vcpuDelay: number;
  memory: number;
  /** NIC series with a rate window */
  nicRates: number;
  names: number;
  hasRss: number;
  activeAlerts: number;
  burstsSeen: number;
  /** points over all windows, the host's included */
  points: number;
}

function trim(w: Window, keepFrom: number): void {
  let i = 0;
  while (i < w.length && w[i].at < keepFrom) i++;
  if (i > 0) w.splice(0, i);
}

export class Analytics extends EventEmitter<{ alert: [Alert] }> {
  private readonly vcpuBusy = new Map<string, Window>(); // uuid → mean busy per vCPU, per pass
  private readonly vcpuDelay = new Map<string, Window>(); // uuid → mean delay per vCPU, per pass
  private readonly memory = new Map<string, Window>(); // uuid → KiB (balloon.rss, else balloon.current)
  private readonly nicRates = new Map<string, Window>(); // uuid/net.X.rx.bytes → B/s
  private readonly names = new Map<string, string>();
  private readonly hasRss = new Set<string>();
  /** this pass's per-vCPU sums per domain: busy and delay, and how many vCPUs each */
  private readonly pass = new Map<string, { busy: number; busyN: number; delay: number; delayN: number }>();
  private readonly active = new Set<string>(); // kind|subject
  private readonly burstsSeen = new Map<string, number>(); // series → last burst start reported
  private readonly hostMemory: Window = []; // KiB the host uses for itself (see hostSample)
  private lastHost: { totalKiB: number; availableKiB: number; guestRssKiB: number } | undefined;

  /** Subject of host-level alerts. */
  static readonly HOST = "host";

  constructor(readonly thresholds: Readonly<AnalyticsThresholds>) {
    super();
  }

  setName(uuid: string, name: string): void {
    this.names.set(uuid, name);
  }

  /** One sample from the sampler; seriesKey is "<uuid>/<key>" (the sampler has it made already). */
  sample(uuid: string, key: string, at: number, value: number, seriesKey = `${uuid}/${key}`): void {
    const role = roleOf(key);
    if (role === Role.VcpuTime || role === Role.VcpuDelay) {
      let p = this.pass.get(uuid);
      if (!p) this.pass.set(uuid, (p = { busy: 0, busyN: 0, delay: 0, delayN: 0 }));
      if (role === Role.VcpuTime) {
        p.busy += value;
        p.busyN++;
      } else {
        p.delay += value;
        p.delayN++;
      }
      return;
    }
    // the process's RSS when libvirt reports it (QEMU), the balloon size otherwise (test driver)
    if (role === Role.Rss || (role === Role.BalloonCurrent && !this.hasRss.has(uuid))) {
      if (role === Role.Rss && !this.hasRss.has(uuid)) {
        this.hasRss.add(uuid);
        this.memory.delete(uuid); // drop balloon points mixed in before the first RSS sample
      }
      // points at least leakWindowMs / MEMORY_WINDOW_POINTS apart; the last one is always the newest
      // sample (the host's leak measure takes the guests' current RSS from it)
      const w = this.memory.get(uuid);
      const n = w?.length ?? 0;
      if (w && n >= 2 && at - w[n - 2].at < this.thresholds.leakWindowMs / MEMORY_WINDOW_POINTS) w[n - 1] = { at, value };
      else push(this.memory, uuid, { at, value });
      return;
    }
    if (role === Role.NicBytes) push(this.nicRates, seriesKey, { at, value });
  }

  /**
   * One reading of the host's memory. What the host uses for itself is MemTotal − MemAvailable minus
   * the RSS of the guests (when libvirt reports it): a guest starting or touching its memory is not
   * a host leak, libvirtd or a kernel slab growing for half an hour is.
   */
  hostSample(at: number, m: HostMemory): void {
    let guestRssKiB = 0;
    for (const uuid of this.hasRss) {
      const w = this.memory.get(uuid);
      if (w && w.length > 0) guestRssKiB += w[w.length - 1].value;
    }
    this.lastHost = { totalKiB: m.totalKiB, availableKiB: m.availableKiB, guestRssKiB };
    this.hostMemory.push({ at, value: m.totalKiB - m.availableKiB - guestRssKiB });
  }

  /** End of a sampling pass: fold the per-vCPU samples into per-domain means. */
  endPass(at: number): void {
    for (const [uuid, p] of this.pass) {
      if (p.busyN) push(this.vcpuBusy, uuid, { at, value: p.busy / p.busyN });
      if (p.delayN) push(this.vcpuDelay, uuid, { at, value: p.delay / p.delayN });
    }
    this.pass.clear();
  }

  evaluate(now: number): void {
    const t = this.thresholds;
    for (const w of this.vcpuBusy.values()) trim(w, now - t.abuseSustainMs * 1.1);
    for (const w of this.vcpuDelay.values()) trim(w, now - t.abuseSustainMs * 1.1);
    for (const w of this.memory.values()) trim(w, now - t.leakWindowMs * 1.1);
    for (const w of this.nicRates.values()) trim(w, now - 60_000);
    trim(this.hostMemory, now - t.leakWindowMs * 1.1);
    // a miner: this domain saturated, others stealing
    for (const [uuid, busy] of this.vcpuBusy) {
      // the others' steal matters only once this domain is saturated: building it for every domain is O(domains²)
      if (!sustainedAbove(busy, t.vcpuSaturation, t.abuseSustainMs, now)) {
        this.set("vcpuAbuse", uuid, undefined);
        continue;
      }
      const others = new Map([...this.vcpuDelay].filter(([u]) => u !== uuid).map(([u, w]) => [this.names.get(u) ?? u, w] as const));
      this.set("vcpuAbuse", uuid, detectVcpuAbuse(busy, others, t, now));
    }
    for (const [uuid, mem] of this.memory) this.set("memoryLeak", uuid, detectLeak(mem, t, now));
    const hostLeak = detectLeak(this.hostMemory, { ...t, leakSlopeKiBPerMin: t.hostLeakSlopeKiBPerMin }, now);
    this.set("hostMemoryLeak", Analytics.HOST, hostLeak && { ...hostLeak, now: this.lastHost, measure: "MemTotal − MemAvailable − guests' RSS (KiB)" });
    for (const [series, w] of this.nicRates) {
      const last = this.burstsSeen.get(series) ?? -Infinity;
      for (const b of detectBursts(w, t)) {
        if (b.at <= last) continue;
        this.burstsSeen.set(series, b.at);
        const uuid = series.split("/")[0];
        this.emit("alert", { kind: "microBurst", subject: uuid, subjectName: `${this.names.get(uuid) ?? uuid} ${series.split("/")[1]}`, active: true, evidenceJson: JSON.stringify(b), atMs: now });
      }
    }
  }

  /** Raise once, clear once. */
  private set(kind: string, uuid: string, evidence: object | undefined): void {
    const key = `${kind}|${uuid}`;
    const was = this.active.has(key);
    if (!!evidence === was) return;
    if (evidence) this.active.add(key);
    else this.active.delete(key);
    this.emit("alert", { kind, subject: uuid, subjectName: this.names.get(uuid) ?? uuid, active: !!evidence, evidenceJson: evidence ? JSON.stringify(evidence) : "{}", atMs: Date.now() });
  }

  /** Forget a domain that is gone. */
  forget(uuid: string): void {
    for (const m of [this.vcpuBusy, this.vcpuDelay, this.memory]) m.delete(uuid);
    this.hasRss.delete(uuid);
    this.pass.delete(uuid);
    for (const k of this.nicRates.keys()) if (k.startsWith(`${uuid}/`)) this.nicRates.delete(k);
    for (const k of this.burstsSeen.keys()) if (k.startsWith(`${uuid}/`)) this.burstsSeen.delete(k);
    for (const k of [...this.active]) if (k.endsWith(`|${uuid}`)) this.set(k.split("|")[0], uuid, undefined);
    this.names.delete(uuid); // after the clearing alerts, which carry the name
  }

  /** Entries held now (tests: bounded by the live domains, whatever ran before). */
  retainedSizes(): AnalyticsRetained {
    let points = this.hostMemory.length;
    for (const m of [this.vcpuBusy, this.vcpuDelay, this.memory, this.nicRates]) for (const w of m.values()) points += w.length;
    return {
      vcpuBusy: this.vcpuBusy.size, vcpuDelay: this.vcpuDelay.size, memory: this.memory.size, nicRates: this.nicRates.size,
      names: this.names.size, hasRss: this.hasRss.size, activeAlerts: this.active.size, burstsSeen: this.burstsSeen.size, points,
    };
  }
}

function push(m: Map<string, Window>, key: string, p: Point): void {
  const w = m.get(key);
  if (w) w.push(p);
  else m.set(key, [p]);
}

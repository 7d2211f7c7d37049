/**
 * Local analytics on the nanoprobe: keeps short rolling windows of the samples the detectors need
 * (per domain: mean vCPU busy and mean vCPU delay per pass, memory; per NIC: byte rates; the host's
 * own memory use), runs the detectors every `evaluateMs`, and turns findings into alerts — raised
 * once, cleared when the condition no longer holds; bursts are one-shot. Memory is bounded by the
 * windows.
 */
import { EventEmitter } from "node:events";
import type { Alert } from "@ringwatch/shared";
import { detectBursts, detectLeak, detectVcpuAbuse } from "./detectors.js";
import type { HostMemory } from "../hypervisor/host-memory.js";
import type { Point } from "./detectors.js";
import type { AnalyticsThresholds } from "./thresholds.js";

type Window = Point[];

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
  private readonly pass = new Map<string, { busy: number[]; delay: number[] }>();
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

  /** One sample from the sampler. */
  sample(uuid: string, key: string, at: number, value: number): void {
    const vc = /^vcpu\.\d+\.(time|delay)$/.exec(key);
    if (vc) {
      const p = this.pass.get(uuid) ?? { busy: [], delay: [] };
      this.pass.set(uuid, p);
      (vc[1] === "time" ? p.busy : p.delay).push(value);
      return;
    }
    // the process's RSS when libvirt reports it (QEMU), the balloon size otherwise (test driver)
    if (key === "balloon.rss" || (key === "balloon.current" && !this.hasRss.has(uuid))) {
      if (key === "balloon.rss" && !this.hasRss.has(uuid)) {
        this.hasRss.add(uuid);
        this.memory.delete(uuid); // drop balloon points mixed in before the first RSS sample
      }
      push(this.memory, uuid, { at, value });
      return;
    }
    if (/^net\..+\.(rx|tx)\.bytes$/.test(key)) push(this.nicRates, `${uuid}/${key}`, { at, value });
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
      if (p.busy.length) push(this.vcpuBusy, uuid, { at, value: p.busy.reduce((s, v) => s + v, 0) / p.busy.length });
      if (p.delay.length) push(this.vcpuDelay, uuid, { at, value: p.delay.reduce((s, v) => s + v, 0) / p.delay.length });
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
    for (const k of this.nicRates.keys()) if (k.startsWith(`${uuid}/`)) this.nicRates.delete(k);
    for (const k of [...this.active]) if (k.endsWith(`|${uuid}`)) this.set(k.split("|")[0], uuid, undefined);
  }
}

function push(m: Map<string, Window>, key: string, p: Point): void {
  const w = m.get(key);
  if (w) w.push(p);
  else m.set(key, [p]);
}

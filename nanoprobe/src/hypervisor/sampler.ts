/**
 * Sampling: one bulk stats pass every `sampleMs` (never two at once: a slow pass delays the next
 * instead of piling up), counters turned into per-second rates (exact above 2^53: the difference is
 * taken in BigInt), gauges passed through. Each series' samples are kept until the report interval
 * ends. A domain that is hung or migrating is skipped by the NOWAIT flag and simply has no sample in
 * that pass; the others are unaffected.
 */
import { counterDelta } from "@ringwatch/libvirt";
import type { DomainStatsRecord, LibvirtConnection, StatParams, StatValue } from "@ringwatch/libvirt";
import { seriesName } from "@ringwatch/shared";
import type { SeriesPattern } from "@ringwatch/shared";

// The series each libvirt stat feeds are named by the metric catalogue (shared/src/metrics/catalogue.ts).
const VCPU_SERIES: Record<string, SeriesPattern> = { time: "vcpu.<n>.time", wait: "vcpu.<n>.wait", delay: "vcpu.<n>.delay" };
const BLOCK_SERIES: Record<string, SeriesPattern> = {
  "rd.bytes": "block.<dev>.rd.bytes", "wr.bytes": "block.<dev>.wr.bytes", "rd.reqs": "block.<dev>.rd.reqs", "wr.reqs": "block.<dev>.wr.reqs",
};
const NET_SERIES: Record<string, SeriesPattern> = {
  "rx.bytes": "net.<dev>.rx.bytes", "rx.pkts": "net.<dev>.rx.pkts", "rx.drop": "net.<dev>.rx.drop",
  "tx.bytes": "net.<dev>.tx.bytes", "tx.pkts": "net.<dev>.tx.pkts", "tx.drop": "net.<dev>.tx.drop",
};

/** Counters become rates; the series key names the device, not its index (indexes move on hotplug). */
const COUNTERS: { re: RegExp; key: (m: RegExpMatchArray, p: StatParams) => string | undefined; scale: number }[] = [
  { re: /^cpu\.time$/, key: () => seriesName("cpu"), scale: 1e-9 }, // ns per s → CPUs busy
  { re: /^vcpu\.(\d+)\.(time|wait|delay)$/, key: (m) => seriesName(VCPU_SERIES[m[2]], m[1]), scale: 1e-9 },
  { re: /^block\.(\d+)\.(rd|wr)\.(bytes|reqs)$/, key: (m, p) => deviceKey(BLOCK_SERIES[`${m[2]}.${m[3]}`], p[`block.${m[1]}.name`]), scale: 1 },
  { re: /^net\.(\d+)\.(rx|tx)\.(bytes|pkts|drop)$/, key: (m, p) => deviceKey(NET_SERIES[`${m[2]}.${m[3]}`], p[`net.${m[1]}.name`]), scale: 1 },
];
const GAUGES: Record<string, string> = { "balloon.current": seriesName("balloon.current"), "balloon.rss": seriesName("balloon.rss") };

function deviceKey(series: SeriesPattern, name: StatValue | undefined): string | undefined {
  return typeof name === "string" && name ? seriesName(series, name) : undefined;
}

function asBig(v: StatValue): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return BigInt(v);
  return undefined;
}

export interface SamplePoint {
  at: number;
  value: number;
}

export interface SamplerStats {
  passes: number;
  skippedPasses: number;
  failedPasses: number;
  lastPassMs: number;
}

export class Sampler {
  /** "<uuid>/<series>" → samples since the last take() */
  private series = new Map<string, SamplePoint[]>();
  private prev = new Map<string, { at: number; counters: Map<string, bigint> }>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  readonly stats: SamplerStats = { passes: 0, skippedPasses: 0, failedPasses: 0, lastPassMs: 0 };

  constructor(
    private readonly conn: LibvirtConnection,
    private readonly sampleMs: number,
    private readonly onPass?: (records: DomainStatsRecord[]) => void,
    private readonly onError?: (e: Error) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.pass(), this.sampleMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass; exported for tests. Returns false when skipped because the previous one still runs. */
  async pass(now = Date.now()): Promise<boolean> {
    if (this.running) {
      this.stats.skippedPasses++;
      return false;
    }
    this.running = true;
    const t0 = performance.now();
    try {
      const records = await this.conn.allDomainStats();
      this.ingest(records, now);
      this.onPass?.(records);
      this.stats.passes++;
      return true;
    } catch (e) {
      this.stats.failedPasses++;
      this.onError?.(e as Error);
      return false;
    } finally {
      this.stats.lastPassMs = performance.now() - t0;
      this.running = false;
    }
  }

  /** Turn one pass into samples: rates against the previous pass of the same domain, gauges as they are. */
  ingest(records: DomainStatsRecord[], now: number): void {
    const seen = new Set<string>();
    for (const r of records) {
      seen.add(r.uuid);
      const counters = new Map<string, bigint>();
      const prev = this.prev.get(r.uuid);
      const dt = prev ? (now - prev.at) / 1000 : 0;
      for (const [name, v] of Object.entries(r.params)) {
        const g = GAUGES[name];
        if (g !== undefined) {
          const n = typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : NaN;
          if (Number.isFinite(n)) this.push(r.uuid, g, now, n);
          continue;
        }
        for (const c of COUNTERS) {
          const m = name.match(c.re);
          if (!m) continue;
          const key = c.key(m, r.params);
          const big = asBig(v);
          if (key === undefined || big === undefined) break;
          counters.set(key, big);
          const before = prev?.counters.get(key);
          if (before !== undefined && dt > 0) {
            const d = counterDelta(before, big);
            if (!d.reset) this.push(r.uuid, key, now, (Number(d.delta) * c.scale) / dt); // a reset has no honest rate
          }
          break;
        }
      }
      this.prev.set(r.uuid, { at: now, counters });
    }
    for (const uuid of this.prev.keys()) if (!seen.has(uuid)) this.prev.delete(uuid);
  }

  /** Called with every sample as it is made (local analytics watch these). */
  onSample: ((uuid: string, key: string, at: number, value: number) => void) | undefined;

  private push(uuid: string, key: string, at: number, value: number): void {
    this.onSample?.(uuid, key, at, value);
    const k = `${uuid}/${key}`;
    const l = this.series.get(k);
    if (l) l.push({ at, value });
    else this.series.set(k, [{ at, value }]);
  }

  /** Hand over everything sampled since the last call (the report interval ended). */
  take(): Map<string, SamplePoint[]> {
    const out = this.series;
    this.series = new Map();
    return out;
  }

  get pending(): number {
    let n = 0;
    for (const l of this.series.values()) n += l.length;
    return n;
  }
}

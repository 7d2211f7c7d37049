/**
 * Sampling: one bulk stats pass every `sampleMs` (never two at once: a slow pass delays the next
 * instead of piling up), counters turned into per-second rates (exact above 2^53: the difference is
 * taken in BigInt), gauges passed through. Each series' samples are kept until the report interval
 * ends. A domain that is hung or migrating is skipped by the NOWAIT flag and simply has no sample in
 * that pass; the others are unaffected. While libvirt is away (detached) there are no samples at all,
 * not zeros; a new connection re-bases every counter, so no rate spans the outage.
 */
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
const COUNTERS: { re: RegExp; key: (m: RegExpMatchArray, p: StatParams) => string | undefined; scale: number; nameParam?: (m: RegExpMatchArray) => string }[] = [
  { re: /^cpu\.time$/, key: () => seriesName("cpu"), scale: 1e-9 }, // ns per s → CPUs busy
  { re: /^vcpu\.(\d+)\.(time|wait|delay)$/, key: (m) => seriesName(VCPU_SERIES[m[2]], m[1]), scale: 1e-9 },
  { re: /^block\.(\d+)\.(rd|wr)\.(bytes|reqs)$/, key: (m, p) => deviceKey(BLOCK_SERIES[`${m[2]}.${m[3]}`], p[`block.${m[1]}.name`]), scale: 1, nameParam: (m) => `block.${m[1]}.name` },
  { re: /^net\.(\d+)\.(rx|tx)\.(bytes|pkts|drop)$/, key: (m, p) => deviceKey(NET_SERIES[`${m[2]}.${m[3]}`], p[`net.${m[1]}.name`]), scale: 1, nameParam: (m) => `net.${m[1]}.name` },
];
const GAUGES: Record<string, string> = { "balloon.current": seriesName("balloon.current"), "balloon.rss": seriesName("balloon.rss") };

function deviceKey(series: SeriesPattern, name: StatValue | undefined): string | undefined {
  return typeof name === "string" && name ? seriesName(series, name) : undefined;
}

/** A stat that feeds no series (a slot with nothing to do). */
const NO_SLOT: Slot = { series: undefined, gauge: false, scale: 0, nameParam: undefined, device: undefined };
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

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
  /** passes due while no connection was attached (libvirt away): no samples, not zeros */
  detachedPasses: number;
  lastPassMs: number;
}

/** One series' samples of a report interval, as two lists of numbers (time, value). */
export interface SeriesSamples {
  at: number[];
  values: number[];
}

/** One series of one domain: its names, built once, and the counter's previous value. */
interface SeriesState {
  key: string;
  /** "<uuid>/<key>", the key take() hands over */
  seriesKey: string;
  /** the counter's value in pass `prevPass` of its domain (counters only) */
  prev: bigint;
  prevPass: number;
  /**
   * This report interval's samples as two lists of plain numbers (made afresh after each take():
   * `generation` says whose they are). Not one object per sample: those would live a whole interval,
   * and hundreds a second promoted to the old generation cost more garbage collection than the rest.
   */
  at: number[];
  values: number[];
  generation: number;
}

/**
 * What one libvirt stat name of one domain feeds, worked out once (regexes, the device's name, the
 * series key) and reused every pass while the name means the same: a device stat is re-read when the
 * device name at its index changes (hotplug moves names between indexes).
 */
interface Slot {
  /** undefined: the stat feeds nothing (state.*, names, paths …) or its device has no name */
  series: SeriesState | undefined;
  gauge: boolean;
  scale: number;
  /** the stat naming the device (block.N.name / net.N.name) and the name this slot was made for */
  nameParam: string | undefined;
  device: StatValue | undefined;
}

/** A domain's sampling state, dropped when a pass no longer lists it. */
interface DomainState {
  /** passes of this domain so far, and the time of the last one */
  pass: number;
  at: number;
  slots: Map<string, Slot>;
  series: Map<string, SeriesState>;
}

/** How much a sampler holds: bounded by the live domains (and one report interval of samples). */
export interface SamplerRetained {
  /** series with samples since the last take() */
  series: number;
  /** those samples */
  samples: number;
  /** domains with counters kept for the next rate */
  domains: number;
}

export class Sampler {
  /** "<uuid>/<series>" → the series with samples since the last take() */
  private series = new Map<string, SeriesState>();
  /** bumped by take(): a series whose `generation` differs starts a new list */
  private generation = 0;
  private domains = new Map<string, DomainState>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  readonly stats: SamplerStats = { passes: 0, skippedPasses: 0, failedPasses: 0, detachedPasses: 0, lastPassMs: 0 };

  constructor(
    private conn: LibvirtConnection | undefined,
    private readonly sampleMs: number,
    private readonly onPass?: (records: DomainStatsRecord[]) => void,
    /** a pass failed on `conn` (the connection it was made on) */
    private readonly onError?: (e: Error, conn: LibvirtConnection) => void,
  ) {}

  /**
   * Sample this connection from the next pass on (undefined: libvirt is away). Every counter is
   * re-based: the first pass on a new connection is a baseline only, so no rate spans the gap and a
   * counter reset during it (a guest restarted, libvirtd reattached) cannot show as a spike.
   */
  attach(conn: LibvirtConnection | undefined): void {
    this.conn = conn;
    this.domains.clear();
  }

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
    const conn = this.conn;
    if (!conn) {
      this.stats.detachedPasses++;
      return false;
    }
    this.running = true;
    const t0 = performance.now();
    try {
      const records = await conn.allDomainStats();
      if (conn !== this.conn) return false; // detached or re-based meanwhile: this pass belongs to no baseline
      this.ingest(records, now);
      this.onPass?.(records);
      this.stats.passes++;
      return true;
    } catch (e) {
      this.stats.failedPasses++;
      this.onError?.(e as Error, conn);
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
      let dom = this.domains.get(r.uuid);
      if (!dom) this.domains.set(r.uuid, (dom = { pass: 0, at: now, slots: new Map(), series: new Map() }));
      const dt = dom.pass > 0 ? (now - dom.at) / 1000 : 0;
      const pass = ++dom.pass;
      dom.at = now;
      const params = r.params;
      for (const name in params) {
        const v = params[name];
        let slot = dom.slots.get(name);
        if (slot === undefined || (slot.nameParam !== undefined && params[slot.nameParam] !== slot.device)) {
          slot = this.slot(r.uuid, dom, name, params);
          dom.slots.set(name, slot);
        }
        const st = slot.series;
        if (st === undefined) continue;
        if (slot.gauge) {
          const n = typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : NaN;
          if (Number.isFinite(n)) this.push(r.uuid, st, now, n);
          continue;
        }
        const big = asBig(v);
        if (big === undefined) continue;
        // a rate needs this counter's value from the domain's previous pass; a reset has no honest rate
        if (st.prevPass === pass - 1 && dt > 0 && big >= st.prev) {
          const delta = big <= MAX_SAFE ? Number(big) - Number(st.prev) : Number(big - st.prev); // exact either way
          this.push(r.uuid, st, now, (delta * slot.scale) / dt);
        }
        st.prev = big;
        st.prevPass = pass;
      }
    }
    for (const uuid of this.domains.keys()) if (!seen.has(uuid)) this.domains.delete(uuid);
  }

  /** Work out what a stat name of this domain feeds (the slow path: once per name, and after a device moved). */
  private slot(uuid: string, dom: DomainState, name: string, params: StatParams): Slot {
    const g = GAUGES[name];
    if (g !== undefined) return { series: this.seriesState(uuid, dom, g), gauge: true, scale: 1, nameParam: undefined, device: undefined };
    for (const c of COUNTERS) {
      const m = name.match(c.re);
      if (!m) continue;
      const nameParam = c.nameParam?.(m);
      const key = c.key(m, params);
      return { series: key === undefined ? undefined : this.seriesState(uuid, dom, key), gauge: false, scale: c.scale, nameParam, device: nameParam === undefined ? undefined : params[nameParam] };
    }
    return NO_SLOT;
  }

  private seriesState(uuid: string, dom: DomainState, key: string): SeriesState {
    let st = dom.series.get(key);
    if (!st) dom.series.set(key, (st = { key, seriesKey: `${uuid}/${key}`, prev: 0n, prevPass: -1, at: [], values: [], generation: -1 }));
    return st;
  }

  /** Called with every sample as it is made (local analytics watch these); seriesKey is "<uuid>/<key>". */
  onSample: ((uuid: string, key: string, at: number, value: number, seriesKey: string) => void) | undefined;

  private push(uuid: string, st: SeriesState, at: number, value: number): void {
    this.onSample?.(uuid, st.key, at, value, st.seriesKey);
    if (st.generation !== this.generation) {
      // first sample of this interval for this state; the series may have samples already from a
      // state dropped meanwhile (a reconnection, the domain missing from one pass)
      st.generation = this.generation;
      const had = this.series.get(st.seriesKey);
      st.at = had ? had.at : [];
      st.values = had ? had.values : [];
      this.series.set(st.seriesKey, st);
    }
    st.at.push(at);
    st.values.push(value);
  }

  /** Hand over everything sampled since the last call (the report interval ended). */
  take(): Map<string, SamplePoint[]> {
    const out = new Map<string, SamplePoint[]>();
    for (const [k, l] of this.takeSeries()) out.set(k, l.values.map((value, i) => ({ at: l.at[i], value })));
    return out;
  }

  /** take() as the sampler holds them, numbers, without an object per sample (the stats report's way). */
  takeSeries(): Map<string, SeriesSamples> {
    const out = new Map<string, SeriesSamples>();
    for (const [k, st] of this.series) out.set(k, { at: st.at, values: st.values });
    this.series = new Map();
    this.generation++;
    return out;
  }

  get pending(): number {
    let n = 0;
    for (const st of this.series.values()) n += st.values.length;
    return n;
  }

  retainedSizes(): SamplerRetained {
    return { series: this.series.size, samples: this.pending, domains: this.domains.size };
  }
}

/**
 * The CMA's metric history store (issue 13): SQLite (better-sqlite3 12) and DuckDB
 * (@duckdb/node-api) side by side, in one run, on the same synthetic data, each with one row per
 * point (series, interval start, count, min, avg, max): SQLite in two layouts (keyed by host and
 * time, or by series and time), DuckDB appended in arrival order:
 *
 *  1. ingest: --hosts hypervisors × --guests guests × 20 series (cpu, balloon, 2 vCPUs' time/wait/
 *     delay, disk rd/wr bytes/reqs, NIC rx/tx bytes/pkts/drop: catalogue names), one batch per
 *     host per minute for --minutes minutes, each batch one transaction as the CMA writes it: CPU
 *     ms per batch (this process's user + system time, the engines' threads included), p50/p99;
 *  2. --subset-hosts hosts go on for --subset-days days in all (the other hosts stop after
 *     --minutes): 7-day ranges are queried on those;
 *  3. disk bytes after a checkpoint, per series-day written;
 *  4. chart queries, --queries per run, --runs runs (the figure is the median of the runs' p50 and
 *     p99): 24 hours of one series, and of a host page's 10 series, bucketed to 300 points
 *     (cma-store: its own round bucket lengths, 288 for a day)
 *     (count-weighted avg, min of mins, max of maxes); and 7 days of one subset series.
 *
 *   node bench/dist/history-store.bench.js [--hosts 100] [--guests 30] [--minutes 1440] [--subset-hosts 1] [--subset-days 7] [--queries 200] [--runs 5] [--only sqlite-host,sqlite-series,duckdb,cma-store] [--dir DIR]
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { DuckDBInstance } from "@duckdb/node-api";
import type { DuckDBConnection } from "@duckdb/node-api";
import { seededRandom, silentLogger } from "@ringwatch/shared";
import { HistoryStore, querySeries } from "@ringwatch/cma";
import type { HistoryPoint } from "@ringwatch/cma";

const { values: args } = parseArgs({
  options: {
    hosts: { type: "string", default: "100" }, guests: { type: "string", default: "30" }, minutes: { type: "string", default: "1440" },
    "subset-hosts": { type: "string", default: "1" }, "subset-days": { type: "string", default: "7" },
    queries: { type: "string", default: "200" }, runs: { type: "string", default: "5" }, only: { type: "string" }, dir: { type: "string" },
  },
});
const HOSTS = Number(args.hosts), GUESTS = Number(args.guests), MINUTES = Number(args.minutes);
const SUBSET = Math.min(Number(args["subset-hosts"]), HOSTS), SUBSET_MINUTES = Number(args["subset-days"]) * 1440;
const QUERIES = Number(args.queries), RUNS = Number(args.runs);
const MIN = 60_000, DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1);
const CHART_POINTS = 300;

const GUEST_SERIES = [
  "cpu", "balloon.current", "balloon.rss",
  ...[0, 1].flatMap((n) => [`vcpu.${n}.time`, `vcpu.${n}.wait`, `vcpu.${n}.delay`]),
  "block.vda.rd.bytes", "block.vda.wr.bytes", "block.vda.rd.reqs", "block.vda.wr.reqs", "block.vdb.rd.bytes",
  ...["rx", "tx"].flatMap((d) => [`net.tap0.${d}.bytes`, `net.tap0.${d}.pkts`, `net.tap0.${d}.drop`]),
];
const PER_HOST = GUESTS * GUEST_SERIES.length;
const SERIES = HOSTS * PER_HOST;

/** One point: a series' compacted interval, values in their units. */
type Rows = { series: Int32Array; count: Int32Array; min: Float64Array; avg: Float64Array; max: Float64Array };

/** A host's minute: PER_HOST points of series ids host·PER_HOST … ; values like the sampler's (quantized units, noisy). */
function hostMinute(host: number, minute: number, rand: () => number): Rows {
  const r: Rows = { series: new Int32Array(PER_HOST), count: new Int32Array(PER_HOST), min: new Float64Array(PER_HOST), avg: new Float64Array(PER_HOST), max: new Float64Array(PER_HOST) };
  for (let i = 0; i < PER_HOST; i++) {
    const metric = GUEST_SERIES[i % GUEST_SERIES.length];
    const scale = metric.startsWith("cpu") || metric.startsWith("vcpu") ? 0.001 : 1;
    const level = metric.startsWith("balloon") ? 1_048_576 : metric.endsWith("bytes") ? 20_000 : metric.startsWith("cpu") || metric.startsWith("vcpu") ? 40 : 30;
    const lo = Math.round(level * (0.5 + 0.3 * Math.sin((minute + i) / 90)) * rand());
    const hi = lo + Math.round(level * rand() * (rand() < 0.1 ? 5 : 0.5));
    r.series[i] = host * PER_HOST + i;
    r.count[i] = 60;
    r.min[i] = lo * scale;
    r.max[i] = hi * scale;
    r.avg[i] = hi === lo ? lo * scale : (lo + (hi - lo) * ((1 + Math.floor(rand() * 58)) / 60)) * scale;
  }
  return r;
}

interface Candidate {
  name: string;
  ingest(t: number, rows: Rows): Promise<void>;
  /** bucketed chart query: [bucket, count, min, avg, max] rows */
  chart(series: number[], from: number, to: number, bucketMs: number): Promise<unknown[]>;
  /** roll up one host's hour (layouts that build rollups by a job) */
  rollup?(host: number, hour: number): Promise<void>;
  checkpoint(): Promise<void>;
  close(): Promise<void>;
}

/**
 * SQLite keyed (host, t, series): a batch's rows are contiguous at the end of its host's range (a
 * few pages per batch instead of one per series); a series' range is read by one seek per interval
 * (the host's intervals table, CROSS JOIN forcing that order); hourly rollups by a job per host-hour.
 */
async function sqliteByHost(dir: string): Promise<Candidate> {
  const db = new Database(join(dir, "history.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("cache_size = -262144"); // 256 MiB
  db.exec(`CREATE TABLE points (host INTEGER NOT NULL, t INTEGER NOT NULL, series INTEGER NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, avg REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (host, t, series)) WITHOUT ROWID;
    CREATE TABLE intervals (host INTEGER NOT NULL, t INTEGER NOT NULL, PRIMARY KEY (host, t)) WITHOUT ROWID;
    CREATE TABLE hourly (series INTEGER NOT NULL, t INTEGER NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, avg REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, t)) WITHOUT ROWID;`);
  const ins = db.prepare("INSERT OR IGNORE INTO points VALUES (?, ?, ?, ?, ?, ?, ?)");
  const insInterval = db.prepare("INSERT OR IGNORE INTO intervals VALUES (?, ?)");
  const write = db.transaction((t: number, r: Rows) => {
    const host = Math.floor(r.series[0] / PER_HOST);
    insInterval.run(host, t);
    for (let i = 0; i < r.series.length; i++) ins.run(host, t, r.series[i], r.count[i], r.min[i], r.avg[i], r.max[i]);
  });
  const roll = db.prepare("INSERT OR REPLACE INTO hourly SELECT series, ? AS t, sum(count), min(min), sum(avg * count) / sum(count), max(max) FROM points WHERE host = ? AND t >= ? AND t < ? GROUP BY series");
  const charts = new Map<number, Database.Statement>();
  const chartStmt = (n: number): Database.Statement => {
    let s = charts.get(n);
    if (!s) {
      s = db.prepare(`SELECT p.series, CAST((p.t - ?) / ? AS INTEGER) AS b, sum(p.count), min(p.min), sum(p.avg * p.count) / sum(p.count), max(p.max) FROM intervals i CROSS JOIN points p ON p.host = i.host AND p.t = i.t AND p.series IN (${Array(n).fill("?").join(",")}) WHERE i.host = ? AND i.t >= ? AND i.t < ? GROUP BY p.series, b ORDER BY p.series, b`).raw(true);
      charts.set(n, s);
    }
    return s;
  };
  return {
    name: "SQLite 3.53 (better-sqlite3 12), WITHOUT ROWID, key (host, t, series), hourly rollup job",
    ingest: async (t, r) => { write(t, r); },
    rollup: async (host, hour) => { roll.run(hour, host, hour, hour + 3_600_000); },
    chart: async (series, from, to, bucketMs) => chartStmt(series.length).all(from, bucketMs, ...series, Math.floor(series[0] / PER_HOST), from, to),
    checkpoint: async () => { db.pragma("wal_checkpoint(TRUNCATE)"); },
    close: async () => { db.close(); },
  };
}

/** The CMA's own HistoryStore class (cma/src/history): its writes, its rollups, its query (round buckets). */
async function cmaStore(dir: string): Promise<Candidate> {
  const store = new HistoryStore(dir, silentLogger());
  const ref = (id: number) => {
    const host = Math.floor(id / PER_HOST), i = id % PER_HOST;
    return { host: `hv${host}`, domain: `guest-${host}-${Math.floor(i / GUEST_SERIES.length)}`, metric: GUEST_SERIES[i % GUEST_SERIES.length] };
  };
  return {
    name: "the CMA's HistoryStore (SQLite, key (host, t, series), pending_rollups, querySeries)",
    ingest: async (t, r) => {
      const points: HistoryPoint[] = [];
      for (let i = 0; i < r.series.length; i++) {
        const { domain, metric } = ref(r.series[i]);
        points.push({ domain, metric, kind: metric.includes("cpu") ? "cpu" : metric.startsWith("balloon") ? "memory" : "rate", count: r.count[i], min: r.min[i], avg: r.avg[i], max: r.max[i] });
      }
      store.write({ host: ref(r.series[0]).host, intervalStart: t, intervalMs: MIN, points });
      if (store.counters.writeErrors > 0) throw new Error("history write failed");
    },
    rollup: async (host, hour) => {
      for (const p of store.pendingRollups()) if (p.hour === hour && p.host === host + 1) store.rollup(p, true);
    },
    chart: async (series, from, to) => series.flatMap((id) => querySeries(store, { ...ref(id), from, to, points: CHART_POINTS }, { fullDays: 7, hourlyDays: 90 }, to)!.rows),
    checkpoint: async () => undefined,
    close: async () => { store.close(); },
  };
}

async function sqlite(dir: string): Promise<Candidate> {
  const db = new Database(join(dir, "history.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("cache_size = -262144"); // 256 MiB
  db.exec("CREATE TABLE points (series INTEGER NOT NULL, t INTEGER NOT NULL, count INTEGER NOT NULL, min REAL NOT NULL, avg REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, t)) WITHOUT ROWID");
  const ins = db.prepare("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?)");
  const write = db.transaction((t: number, r: Rows) => {
    for (let i = 0; i < r.series.length; i++) ins.run(r.series[i], t, r.count[i], r.min[i], r.avg[i], r.max[i]);
  });
  const charts = new Map<number, Database.Statement>();
  const chartStmt = (n: number): Database.Statement => {
    let s = charts.get(n);
    if (!s) {
      s = db.prepare(`SELECT series, CAST((t - ?) / ? AS INTEGER) AS b, sum(count) AS count, min(min) AS min, sum(avg * count) / sum(count) AS avg, max(max) AS max FROM points WHERE series IN (${Array(n).fill("?").join(",")}) AND t >= ? AND t < ? GROUP BY series, b ORDER BY series, b`).raw(true);
      charts.set(n, s);
    }
    return s;
  };
  return {
    name: "SQLite 3.53 (better-sqlite3 12), WITHOUT ROWID, key (series, t)",
    ingest: async (t, r) => { write(t, r); },
    chart: async (series, from, to, bucketMs) => chartStmt(series.length).all(from, bucketMs, ...series, from, to),
    checkpoint: async () => { db.pragma("wal_checkpoint(TRUNCATE)"); },
    close: async () => { db.close(); },
  };
}

async function duckdb(dir: string): Promise<Candidate> {
  const inst = await DuckDBInstance.create(join(dir, "history.duckdb"), { threads: "2" });
  const c: DuckDBConnection = await inst.connect();
  await c.run("CREATE TABLE points (series INTEGER NOT NULL, t BIGINT NOT NULL, count INTEGER NOT NULL, min DOUBLE NOT NULL, avg DOUBLE NOT NULL, max DOUBLE NOT NULL)");
  const prepared = new Map<number, Awaited<ReturnType<DuckDBConnection["prepare"]>>>();
  return {
    name: "DuckDB 1.5.6 (@duckdb/node-api), appender, no index (zone maps)",
    ingest: async (t, r) => {
      const a = await c.createAppender("points");
      for (let i = 0; i < r.series.length; i++) {
        a.appendInteger(r.series[i]); a.appendBigInt(BigInt(t)); a.appendInteger(r.count[i]);
        a.appendDouble(r.min[i]); a.appendDouble(r.avg[i]); a.appendDouble(r.max[i]);
        a.endRow();
      }
      a.closeSync();
    },
    chart: async (series, from, to, bucketMs) => {
      let p = prepared.get(series.length);
      if (!p) {
        p = await c.prepare(`SELECT series, (t - $1) // $2 AS b, sum(count), min(min), sum(avg * count) / sum(count), max(max) FROM points WHERE series IN (${series.map((_, i) => `$${i + 5}`).join(",")}) AND t >= $3 AND t < $4 GROUP BY series, b ORDER BY series, b`);
        prepared.set(series.length, p);
      }
      p.bindBigInt(1, BigInt(from)); p.bindBigInt(2, BigInt(bucketMs)); p.bindBigInt(3, BigInt(from)); p.bindBigInt(4, BigInt(to));
      series.forEach((s, i) => p.bindInteger(i + 5, s));
      return (await p.runAndReadAll()).getRows();
    },
    checkpoint: async () => { await c.run("CHECKPOINT"); },
    close: async () => { c.closeSync(); inst.closeSync(); },
  };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs: number[]): number => pct(xs, 50);
const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
const dirBytes = (d: string): number => readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0);

async function measure(make: (dir: string) => Promise<Candidate>, root: string): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(root, "hist-"));
  const c = await make(dir);
  console.error(`${c.name}: ingesting ${HOSTS} hosts × ${MINUTES} min (+ ${SUBSET} hosts to ${SUBSET_MINUTES} min) …`);
  const rand = seededRandom(13); // the same numbers for both engines
  const perBatch: number[] = [];
  const perRollup: number[] = [];
  const wall0 = performance.now();
  let points = 0;
  const lastMinute = Math.max(MINUTES, SUBSET_MINUTES);
  for (let m = 0; m < lastMinute; m++) {
    const hosts = m < MINUTES ? HOSTS : SUBSET;
    for (let h = 0; h < hosts; h++) {
      const rows = hostMinute(h, m, rand);
      const c0 = process.cpuUsage();
      await c.ingest(T0 + m * MIN, rows);
      perBatch.push(cpuMs(process.cpuUsage(c0)));
      points += rows.series.length;
    }
    if (c.rollup && m % 60 === 59) {
      for (let h = 0; h < hosts; h++) {
        const c0 = process.cpuUsage();
        await c.rollup(h, T0 + (m - 59) * MIN);
        perRollup.push(cpuMs(process.cpuUsage(c0)));
      }
    }
    if (m % 60 === 59) console.error(`  minute ${m + 1}: ${points} points, ${((performance.now() - wall0) / 1000).toFixed(0)} s`);
  }
  const ingestWallS = (performance.now() - wall0) / 1000;
  await c.checkpoint();
  const bytes = dirBytes(dir);
  const seriesDays = points / 1440;
  // queries: random series of the full day; 7-day ones from the subset
  const qrand = seededRandom(99);
  const pick = (n: number): number => Math.floor(qrand() * n);
  const dayFrom = T0, dayTo = T0 + Math.min(MINUTES * MIN, DAY);
  const bucket = (from: number, to: number): number => Math.ceil((to - from) / CHART_POINTS);
  const runs: Record<string, { p50: number[]; p99: number[]; rows: number }> = {};
  const kinds: [string, () => number[], number, number][] = [
    ["24 h, 1 series", () => [pick(SERIES)], dayFrom, dayTo],
    ["24 h, a host page's 10 series", () => { const g = pick(HOSTS * GUESTS); const base = Math.floor(g / GUESTS) * PER_HOST + (g % GUESTS) * GUEST_SERIES.length; return Array.from({ length: 10 }, (_, i) => base + i); }, dayFrom, dayTo],
    [`${SUBSET_MINUTES / 1440} days, 1 subset series`, () => [pick(SUBSET * PER_HOST)], T0, T0 + SUBSET_MINUTES * MIN],
  ];
  for (const [what, series, from, to] of kinds) {
    for (let w = 0; w < 5; w++) await c.chart(series(), from, to, bucket(from, to)); // warm-up
    const r = (runs[what] = { p50: [] as number[], p99: [] as number[], rows: 0 });
    for (let run = 0; run < RUNS; run++) {
      const lat: number[] = [];
      for (let q = 0; q < QUERIES; q++) {
        const s = series();
        const t0 = performance.now();
        const out = await c.chart(s, from, to, bucket(from, to));
        lat.push(performance.now() - t0);
        r.rows = out.length;
      }
      r.p50.push(pct(lat, 50));
      r.p99.push(pct(lat, 99));
    }
  }
  await c.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    store: c.name,
    points,
    ingestWallS: +ingestWallS.toFixed(1),
    batchCpuMsMean: +(perBatch.reduce((s, x) => s + x, 0) / perBatch.length).toFixed(3),
    batchCpuMsP50: +pct(perBatch, 50).toFixed(3),
    batchCpuMsP99: +pct(perBatch, 99).toFixed(3),
    ...(perRollup.length > 0 ? { rollupCpuMsPerHostHourP50: +pct(perRollup, 50).toFixed(2), rollupCpuMsPerHostHourP99: +pct(perRollup, 99).toFixed(2) } : {}),
    diskBytes: bytes,
    bytesPerPoint: +(bytes / points).toFixed(1),
    bytesPerSeriesDay: Math.round(bytes / seriesDays),
    extrapolated7d60kSeriesGB: +((bytes / seriesDays) * 60_000 * 7 / 1e9).toFixed(2),
    queries: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, { p50ms: +median(v.p50).toFixed(2), p99ms: +median(v.p99).toFixed(2), bucketsReturned: v.rows }])),
  };
}

const root = args.dir ?? tmpdir();
console.error(`${new Date().toISOString()}: ${HOSTS} hosts × ${GUESTS} guests × ${GUEST_SERIES.length} series = ${SERIES} series; ${MINUTES} min for all, ${SUBSET_MINUTES} min for ${SUBSET} host(s); ${RUNS} runs × ${QUERIES} queries`);
const results: Record<string, unknown>[] = [];
const candidates: Record<string, (dir: string) => Promise<Candidate>> = { "sqlite-host": sqliteByHost, "sqlite-series": sqlite, duckdb, "cma-store": cmaStore };
for (const name of (args.only ?? Object.keys(candidates).join(",")).split(",")) results.push(await measure(candidates[name], root));
console.log(JSON.stringify({ date: new Date().toISOString(), hosts: HOSTS, guests: GUESTS, series: SERIES, minutes: MINUTES, subsetHosts: SUBSET, subsetMinutes: SUBSET_MINUTES, runs: RUNS, queriesPerRun: QUERIES, results }, null, 2));

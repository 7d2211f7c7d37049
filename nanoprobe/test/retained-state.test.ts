/**
 * Memory that stays flat: after an hour of sampling 30 domains at 1 s, with guests created and deleted all
 * along and the CMA away for a while, every per-domain and per-series structure the nanoprobe keeps
 * holds no more than the live domains (and their windows) need. Counts, not bytes.
 *
 * Synthetic time: a HypervisorMonitor (its sampler feeding its analytics, its report making batches)
 * is driven pass by pass with the clock the test chooses; the records are the libvirt test driver's
 * own (real parameter names and shapes), given new UUIDs as guests come and go and counters that
 * follow the synthetic clock. A departed guest is forgotten as the monitor does when its domain
 * tracker says so. Batches go into the stats stream, drained while the CMA is there; alerts into a
 * keyed outbox, sent while it is there.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatsBatchSender, silentLogger } from "@ringwatch/shared";
import type { Alert } from "@ringwatch/shared";
import type { DomainStatsRecord, StatParams } from "@ringwatch/libvirt";
import { useTestDriver } from "@ringwatch/libvirt/test-driver-connection";
import { DEFAULT_THRESHOLDS, HypervisorMonitor } from "../src/index.js";
import { KeyedOutbox } from "../src/outbox/keyed-outbox.js";

const HOURS = 1;
const LIVE = 30;
const SAMPLE_MS = 1000;
const REPORT_MS = 60_000;
const EVALUATE_MS = 10_000; // the monitor's detector period
/** every CHURN_MS, CHURN_COUNT of the first CHURN_SLOTS guests are deleted and as many created (the others live on: leaks and abuse take half an hour to show) */
const CHURN_MS = 2 * 60_000;
const CHURN_COUNT = 2;
const CHURN_SLOTS = 10;
const RETAIN = 30;

describe("nanoprobe: retained state is bounded by the live domains", function () {
  this.timeout(120_000);
  const td = useTestDriver(LIVE);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "rw-retained-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`${HOURS} simulated hour(s), 30 domains, ${CHURN_COUNT} guests replaced every ${CHURN_MS / 60_000} min, the CMA away for 40 min: counts bounded by the live domains`, async () => {
    const templates = (await td.conn.allDomainStats()).filter((r) => "cpu.time" in r.params);
    assert.ok(templates.length >= 10, "running domains in the fixture");
    const meminfo = join(dir, "meminfo");
    writeFileSync(meminfo, "MemTotal:       33554432 kB\nMemFree:         1000000 kB\nMemAvailable:   30000000 kB\n");
    const monitor = new HypervisorMonitor({ uri: td.fx.uri, sampleMs: SAMPLE_MS, reportIntervalMs: REPORT_MS, inventoryResendMs: 600_000, reconnectMs: 1000, meminfoPath: meminfo }, silentLogger(), { ...DEFAULT_THRESHOLDS, leakSlopeKiBPerMin: 512 });
    // what the outbox does with the monitor's output (outbox/cma-outbox.ts), with a CMA the test switches on and off
    const cma = { here: true };
    const stream = new StatsBatchSender({ exact: true, retain: RETAIN });
    monitor.on("stats", (s) => stream.add(s.batch));
    const alerts = new KeyedOutbox<Alert>({ ready: () => cma.here, send: () => Promise.resolve() });
    const raised = new Map<string, number>();
    monitor.on("alert", (a) => {
      raised.set(a.kind, (raised.get(a.kind) ?? 0) + 1);
      alerts.add(`${a.kind}|${a.subject}`, a, a.atMs);
    });

    // guest slot i of generation g: its own UUID, a fixture domain's parameters
    const uuid = (slot: number, gen: number): string => `${String(gen).padStart(8, "0")}-0000-4000-8000-${String(slot).padStart(12, "0")}`;
    const gens = Array.from({ length: LIVE }, () => 0);
    let created = LIVE;
    const t0 = 1_800_000_000_000;
    // per fixture domain, how each parameter moves with the clock (worked out once: the test's own cost stays small)
    const plans = templates.map((tpl) => {
      const params: StatParams = { ...tpl.params };
      // QEMU reports each vCPU's wait for a physical CPU; the test driver does not
      for (const k of Object.keys(tpl.params)) if (/^vcpu\.\d+\.time$/.test(k)) params[k.replace(/time$/, "delay")] = 0n;
      return Object.entries(params).map(([k, base]) => {
        if (typeof base !== "bigint") return { k, base, step: 0n, burst: false };
        if (/^(cpu|vcpu\.\d+)\.time$/.test(k)) return { k, base, step: 950_000_000n, burst: false }; // busy vCPUs
        if (/^vcpu\.\d+\.delay$/.test(k)) return { k, base, step: 100_000_000n, burst: false }; // waiting: 10 % steal
        if (/^net\.\d+\.rx\.bytes$/.test(k)) return { k, base, step: 1_000_000n, burst: true }; // and a micro-burst every 97 s
        if (k === "balloon.rss") return { k, base, step: -1n, burst: false }; // half of the guests leak (below)
        return { k, base, step: 4096n, burst: false };
      });
    });
    const record = (slot: number, t: number): DomainStatsRecord => {
      const s = BigInt((t - t0) / 1000);
      const params: StatParams = {};
      for (const p of plans[slot % plans.length]) {
        if (typeof p.base !== "bigint") params[p.k] = p.base;
        else if (p.step === -1n) params[p.k] = p.base + (slot % 2 === 0 ? s * 20n : 0n); // 1.2 MiB/min
        else params[p.k] = p.base + s * p.step + (p.burst ? (s / 97n) * 100_000_000n : 0n);
      }
      return { uuid: uuid(slot, gens[slot]), name: `g${slot}-${gens[slot]}`, source: "bulk", params };
    };
    const live = (): Set<string> => new Set(gens.map((g, slot) => uuid(slot, g)));

    // what a live set may hold: every count below is a function of it and of the windows, never of time run
    const t = DEFAULT_THRESHOLDS;
    const slack = EVALUATE_MS / SAMPLE_MS; // windows are trimmed at each evaluation
    const vcpuPoints = Math.ceil((1.1 * t.abuseSustainMs) / SAMPLE_MS) + slack + 1;
    const memoryPoints = Math.ceil(1.1 * 200) + 2;
    const nicPoints = 60_000 / SAMPLE_MS + slack + 1;
    const hostPoints = Math.ceil((1.1 * t.leakWindowMs) / EVALUATE_MS) + 1;
    const seriesOfTemplate = (p: StatParams): number => Object.keys(p).filter((k) => /^(cpu\.time|vcpu\.\d+\.(time|wait|delay)|block\.\d+\.(rd|wr)\.(bytes|reqs)|net\.\d+\.(rx|tx)\.(bytes|pkts|drop)|balloon\.(current|rss))$/.test(k)).length;
    const nicSeriesOf = (slots: number[]): number => slots.reduce((n, slot) => n + Object.keys(templates[slot % templates.length].params).filter((k) => /^net\.\d+\.(rx|tx)\.bytes$/.test(k)).length, 0);
    const allSlots = gens.map((_, i) => i);
    // a batch holds the live guests' series and those of the guests replaced in its interval
    const maxBatchSeries = (LIVE + CHURN_COUNT) * Math.max(...plans.map((p) => seriesOfTemplate(Object.fromEntries(p.map((x) => [x.k, x.base])))));

    const checkpoints: string[] = [];
    const check = (at: number): void => {
      const n = live().size;
      const a = monitor.analytics.retainedSizes();
      const s = monitor.sampler.retainedSizes();
      const st = stream.retainedSizes();
      const o = alerts.retainedSizes();
      const nics = nicSeriesOf(allSlots);
      const where = `at ${(at - t0) / 3_600_000} h`;
      assert.equal(n, LIVE);
      assert.ok(s.domains <= n, `${where}: sampler counters of ${s.domains} domains, ${n} live`);
      assert.equal(s.samples, 0, `${where}: the report took every sample`);
      for (const k of ["vcpuBusy", "vcpuDelay", "memory", "names"] as const) assert.ok(a[k] <= n, `${where}: analytics ${k} holds ${a[k]} domains, ${n} live`);
      assert.ok(a.nicRates <= nics && a.burstsSeen <= nics, `${where}: NIC series ${a.nicRates}, bursts marked ${a.burstsSeen}, ${nics} live`);
      assert.ok(a.activeAlerts <= 2 * n + 1, `${where}: ${a.activeAlerts} active alerts`);
      const maxPoints = n * 2 * vcpuPoints + n * memoryPoints + nics * nicPoints + hostPoints;
      assert.ok(a.points <= maxPoints, `${where}: ${a.points} window points, at most ${maxPoints} for ${n} live domains`);
      assert.ok(st.batches <= RETAIN && st.tables <= st.batches, `${where}: ${st.batches} batches, ${st.tables} key tables held`);
      assert.ok(st.series <= st.batches * maxBatchSeries, `${where}: ${st.series} series held in ${st.batches} batches`);
      assert.ok(o.pending <= alerts.maxKeys && o.latest <= alerts.maxKeys, `${where}: alerts outbox ${o.pending} pending, ${o.latest} keys`);
      checkpoints.push(`${where}: sampler ${s.domains} domains; analytics ${a.memory} memory windows, ${a.names} names, ${a.burstsSeen} bursts, ${a.points} points; stream ${st.batches} batches, ${st.tables} tables; alerts ${o.pending}`);
    };

    const end = t0 + HOURS * 3_600_000;
    for (let now = t0 + SAMPLE_MS; now <= end; now += SAMPLE_MS) {
      const el = now - t0;
      if (el % CHURN_MS === 0) {
        // CHURN_COUNT guests deleted, as many created, spread over the slots
        for (let k = 0; k < CHURN_COUNT; k++) {
          const slot = (created + k) % CHURN_SLOTS;
          monitor.analytics.forget(uuid(slot, gens[slot])); // what the monitor does when its tracker says a domain disappeared
          gens[slot]++;
          monitor.analytics.setName(uuid(slot, gens[slot]), `g${slot}-${gens[slot]}`);
        }
        created += CHURN_COUNT;
      }
      const records = gens.map((_, slot) => record(slot, now));
      monitor.sampler.ingest(records, now);
      monitor.analytics.endPass(now); // the sampler's end-of-pass hook, as the monitor wires it
      if (el % EVALUATE_MS === 0) await monitor.evaluate(now);
      if (el % REPORT_MS === 0) {
        monitor.report(now);
        cma.here = el < 10 * 60_000 || el >= 50 * 60_000; // away for 40 min: longer than the stream retains
        if (cma.here) {
          stream.drain();
          alerts.flush();
        }
      }
      if (el % (15 * 60_000) === 0) check(now);
    }
    // the run went through what makes state pile up
    assert.equal(created - LIVE, ((HOURS * 60) / (CHURN_MS / 60_000)) * CHURN_COUNT, "guests replaced");
    assert.ok(stream.counters.dropped > 0, "the CMA stayed away longer than the stream retains");
    assert.ok((raised.get("microBurst") ?? 0) > 0 && (raised.get("memoryLeak") ?? 0) > 0 && (raised.get("vcpuAbuse") ?? 0) > 0, `alerts raised: ${JSON.stringify([...raised])}`);
    assert.equal(checkpoints.length, HOURS * 4);
  });
});

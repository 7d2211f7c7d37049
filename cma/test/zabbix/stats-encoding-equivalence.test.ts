/**
 * The stats batch encoding changed (version 3, issue 18): the same samples sent the old way
 * (version 2, frozen in @ringwatch/shared/testing) and the new way (the nanoprobe's sender into the
 * CMA's StatsStore) must give the bridge's stats translator the same Zabbix values, value for value.
 */
import assert from "node:assert/strict";
import { StatsBatchSender, compactSamples, metricKind, quantize, seededRandom, silentLogger } from "@ringwatch/shared";
import type { StatsBatch } from "@ringwatch/shared";
import { decodeStatsBatchV2, encodeStatsBatchV2 } from "@ringwatch/shared/testing";
import { StatsStore } from "../../src/index.js";
import type { StatsEvent } from "../../src/index.js";
import { StatsTranslator } from "../../src/zabbix/translators/stats.js";
import type { BridgeCounters, TranslatorContext } from "../../src/zabbix/translators/translator-context.js";
import type { ZabbixValue } from "../../src/zabbix/sender/zabbix-value.js";

const rand = seededRandom(0x5e18);
const GUESTS = Array.from({ length: 6 }, (_, i) => `${String(i + 1).padStart(8, "0")}-1111-4222-8333-444455556666`);

/**
 * Twelve minutes of 1 s samples from six guests, with what real hypervisors do to a stream: noisy
 * and idle series, a walking RSS, a cpu above its vCPUs, a guest that misses passes (fewer samples,
 * other times), a guest that appears late and one that goes away.
 */
function minutes(): StatsBatch[] {
  const out: StatsBatch[] = [];
  let rss = 400_000;
  for (let m = 0; m < 12; m++) {
    const start = 1_700_000_000_000 + m * 60_000;
    const series: StatsBatch["series"] = [];
    for (const [g, domain] of GUESTS.entries()) {
      if ((g === 4 && m < 5) || (g === 5 && m > 7)) continue;
      const skip = g === 2 && m % 3 === 1 ? 7 : 0; // missed passes: 53 samples, a later first one
      const n = 60 - skip;
      const first = start + skip * 1000 + 37;
      const vcpus = Array.from({ length: 1 + (g % 2) }, () => Array.from({ length: n }, () => 0.01 + rand() * 0.02 + (rand() < 0.03 ? 0.5 : 0)));
      const put = (metric: string, xs: number[]): void => {
        series.push({ domain, metric, kind: metricKind(metric), data: compactSamples(xs.map((x) => quantize(metricKind(metric), x)), first, first + (n - 1) * 1000) });
      };
      vcpus.forEach((xs, v) => {
        put(`vcpu.${v}.time`, xs);
        put(`vcpu.${v}.delay`, xs.map(() => (rand() < 0.5 ? 0.001 : 0)));
        put(`vcpu.${v}.wait`, xs.map(() => 0));
      });
      put("cpu", Array.from({ length: n }, (_, i) => vcpus.reduce((s, xs) => s + xs[i], 0) + 0.003 + rand() * 0.002));
      put("balloon.current", Array.from({ length: n }, () => 1_048_576));
      put("balloon.rss", Array.from({ length: n }, () => (rss += Math.round((rand() - 0.5) * 128))));
      put("block.vda.rd.bytes", Array.from({ length: n }, () => (rand() < 0.05 ? 4096 * (1 + Math.floor(rand() * 16)) : 0)));
      put("block.vda.wr.reqs", Array.from({ length: n }, () => (rand() < 0.2 ? 1 + Math.floor(rand() * 3) : 0)));
      put("net.tap0.rx.bytes", Array.from({ length: n }, () => 300 + rand() * 900));
      put("net.tap0.tx.pkts", Array.from({ length: n }, () => rand() * 12));
    }
    out.push({ intervalStart: start, intervalMs: 60_000, series });
  }
  return out;
}

/** The bridge's stats translator, collecting what it would send. */
function translator(): { t: StatsTranslator; values: ZabbixValue[][] } {
  const values: ZabbixValue[][] = [];
  const counters = { statValues: 0, unmappedSeries: 0 } as BridgeCounters;
  const ctx = { counters, hostPerDomain: false, stopped: () => false, emit: (_h: string, _g: string | undefined, v: ZabbixValue[]) => values.push(v) } as unknown as TranslatorContext;
  return { t: new StatsTranslator(ctx), values };
}

describe("cma/zabbix stats: encoding version 3 against version 2", () => {
  for (const exact of [true, false]) {
    it(`the translator sends the same Zabbix values from both encodings (${exact ? "exact sums" : "averages to the unit"})`, () => {
      const data = minutes();
      const before = translator();
      let tx2: ReturnType<typeof encodeStatsBatchV2>["state"] | undefined;
      let rx2: ReturnType<typeof decodeStatsBatchV2>["state"] | undefined;
      data.forEach((b, i) => {
        const e = encodeStatsBatchV2(b, { stream: 9, seq: i + 1, prevSeq: i, chain: 1, includeTable: true, base: tx2, exact });
        tx2 = e.state;
        const d = decodeStatsBatchV2(e.bytes, rx2);
        rx2 = d.state;
        before.t.onEvent({ host: "hv1", stream: 9, seq: i + 1, batch: d });
      });

      const after = translator();
      const store = new StatsStore(silentLogger());
      store.on("event", (e: StatsEvent) => after.t.onEvent(e));
      const sender = new StatsBatchSender({ exact });
      for (const b of data) {
        sender.add(b);
        for (const d of sender.drain()) assert.equal(store.apply("hv1", d.bytes), true);
      }
      assert.equal(store.counters.batches, data.length);
      assert.equal(store.counters.selfContained, 1, "one self-contained start, then deltas");
      assert.ok(before.values.flat().length > 3000);
      assert.deepEqual(after.values, before.values);
    });
  }

  it("the CMA refuses a version 2 batch with a clear error and counts it", () => {
    const [b] = minutes();
    const old = encodeStatsBatchV2(b, { stream: 9, seq: 1, prevSeq: 0, chain: 1, includeTable: true, exact: true });
    const store = new StatsStore(silentLogger());
    const refusals: string[] = [];
    store.on("refused", (r) => refusals.push(r.error));
    assert.equal(store.apply("hv1", old.bytes), false);
    assert.equal(store.counters.refused, 1);
    assert.match(refusals[0], /version 2 not supported \(this end speaks 3\)/);
  });
});

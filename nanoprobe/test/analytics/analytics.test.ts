import assert from "node:assert/strict";
import type { Alert } from "@ringwatch/shared";
import { Analytics, DEFAULT_THRESHOLDS } from "../../src/index.js";

describe("nanoprobe/analytics/analytics", () => {
  it("raises a vCPU-abuse alert once with its evidence, and clears it once when the miner stops", () => {
    const a = new Analytics({ ...DEFAULT_THRESHOLDS, abuseSustainMs: 60_000 });
    a.setName("m", "miner");
    a.setName("v", "victim");
    const alerts: Alert[] = [];
    a.on("alert", (x) => alerts.push(x));
    const passAt = (at: number, minerBusy: number, victimDelay: number): void => {
      a.sample("m", "vcpu.0.time", at, minerBusy);
      a.sample("m", "vcpu.1.time", at, minerBusy);
      a.sample("m", "vcpu.0.delay", at, 0.01);
      a.sample("v", "vcpu.0.time", at, 0.3);
      a.sample("v", "vcpu.0.delay", at, victimDelay);
      a.endPass(at);
    };
    let t = 0;
    for (; t <= 120_000; t += 1000) {
      passAt(t, 0.99, 0.12);
      if (t % 10_000 === 0) a.evaluate(t);
    }
    assert.equal(alerts.length, 1);
    assert.deepEqual([alerts[0].kind, alerts[0].subjectName, alerts[0].active], ["vcpuAbuse", "miner", true]);
    const ev = JSON.parse(alerts[0].evidenceJson) as { victims: { domain: string }[] };
    assert.deepEqual(ev.victims.map((v) => v.domain), ["victim"]);
    for (; t <= 200_000; t += 1000) {
      passAt(t, 0.1, 0.0);
      if (t % 10_000 === 0) a.evaluate(t);
    }
    assert.deepEqual(alerts.map((x) => `${x.kind}:${x.active}`), ["vcpuAbuse:true", "vcpuAbuse:false"]);
  });

  it("reports each micro-burst once", () => {
    const a = new Analytics(DEFAULT_THRESHOLDS);
    const alerts: Alert[] = [];
    a.on("alert", (x) => alerts.push(x));
    for (let i = 0; i < 300; i++) {
      a.sample("d", "net.tap0.rx.bytes", i * 100, i >= 150 && i < 153 ? 90e6 : 1e6);
      if (i % 50 === 49) a.evaluate(i * 100);
    }
    assert.equal(alerts.filter((x) => x.kind === "microBurst").length, 1);
  });
});

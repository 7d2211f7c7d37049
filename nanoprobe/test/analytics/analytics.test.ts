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

  it("raises hostMemoryLeak with evidence when the host's own memory grows steadily, and clears it when growth stops", () => {
    const a = new Analytics({ ...DEFAULT_THRESHOLDS, leakWindowMs: 30 * 60_000 });
    const alerts: Alert[] = [];
    a.on("alert", (x) => alerts.push(x));
    const totalKiB = 64 * 1024 * 1024;
    let t = 0;
    // 30 min flat (noise only): nothing
    for (; t <= 30 * 60_000; t += 10_000) {
      a.hostSample(t, { totalKiB, availableKiB: 40 * 1024 * 1024 + ((t / 10_000) % 7) * 300 });
      a.evaluate(t);
    }
    assert.equal(alerts.length, 0);
    // then 8 MiB/min for 40 min (above the 4 MiB/min default)
    const grownAt = t;
    for (; t <= grownAt + 40 * 60_000; t += 10_000) {
      a.hostSample(t, { totalKiB, availableKiB: 40 * 1024 * 1024 - ((t - grownAt) / 60_000) * 8192 });
      a.evaluate(t);
    }
    assert.deepEqual(alerts.map((x) => [x.kind, x.subject, x.active]), [["hostMemoryLeak", "host", true]]);
    const ev = JSON.parse(alerts[0].evidenceJson) as { slopeKiBPerMin: number; r2: number; now: { totalKiB: number; guestRssKiB: number } };
    // raised as soon as the window's fit crosses the threshold (the window still holds flat minutes)
    assert.ok(ev.slopeKiBPerMin >= DEFAULT_THRESHOLDS.hostLeakSlopeKiBPerMin && ev.slopeKiBPerMin <= 8192, `slope ${ev.slopeKiBPerMin}`);
    assert.ok(ev.r2 >= DEFAULT_THRESHOLDS.leakMinR2);
    assert.equal(ev.now.totalKiB, totalKiB);
    // growth stops: cleared once the window no longer shows it
    const stoppedAt = t;
    const level = 40 * 1024 * 1024 - ((stoppedAt - grownAt) / 60_000) * 8192;
    for (; t <= stoppedAt + 31 * 60_000; t += 10_000) {
      a.hostSample(t, { totalKiB, availableKiB: level });
      a.evaluate(t);
    }
    assert.deepEqual(alerts.map((x) => `${x.kind}:${x.active}`), ["hostMemoryLeak:true", "hostMemoryLeak:false"]);
  });

  it("a guest growing its RSS is that guest's leak, not the host's", () => {
    const a = new Analytics(DEFAULT_THRESHOLDS);
    a.setName("g", "guest");
    const alerts: Alert[] = [];
    a.on("alert", (x) => alerts.push(x));
    const totalKiB = 64 * 1024 * 1024;
    for (let t = 0; t <= 40 * 60_000; t += 10_000) {
      const rss = 1024 * 1024 + (t / 60_000) * 8192; // 8 MiB/min, and the host's used memory with it
      a.sample("g", "balloon.rss", t, rss);
      a.hostSample(t, { totalKiB, availableKiB: 40 * 1024 * 1024 - rss });
      a.evaluate(t);
    }
    assert.deepEqual(alerts.map((x) => [x.kind, x.subjectName, x.active]), [["memoryLeak", "guest", true]]);
  });
});

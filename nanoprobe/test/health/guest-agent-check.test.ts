/**
 * Agent checks (`"agent": true`) on libvirt's test driver, which has no guest agent: a guest
 * without an agent channel in its XML is never pinged, one with a channel gets libvirt's "not
 * supported" (no agent here), and neither is ever unhealthy for it; while libvirt is away the
 * check is the monitor's own failure. The agent answering and not answering are tested on a real
 * libvirtd with a real guest (test/guest-agent.test.ts).
 */
import assert from "node:assert/strict";
import { ConfigError, silentLogger } from "@ringwatch/shared";
import type { Alert } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import type { Fixture } from "@ringwatch/libvirt/test-driver-fixture";
import { HypervisorMonitor } from "../../src/index.js";
import { GuestHealth } from "../../src/health/guest-health.js";
import { parseGuestChecks } from "../../src/health/guest-checks-file.js";

describe("nanoprobe/health: guest agent checks (test driver)", function () {
  this.timeout(30_000);
  let fx: Fixture;
  before(() => { fx = writeFixture(10); });
  after(() => fx.cleanup());

  it("a guest without an agent (no channel, or a driver with none) is never unhealthy for its agent check; logged, counted", async () => {
    const withChannel = fx.domains.find((d) => d.agentChannel && d.state === "running")!;
    const without = fx.domains.find((d) => !d.agentChannel && d.state === "running")!;
    const checks = parseGuestChecks({ defaults: { intervalMs: 150, timeoutMs: 100, failures: 1 }, checks: [{ guest: withChannel.name, agent: true }, { guest: without.uuid, agent: true }] }, "test");
    assert.deepEqual(checks.map((c) => [c.kind, c.target]), [["agent", "guest-agent"], ["agent", "guest-agent"]]);
    const m = new HypervisorMonitor({ uri: fx.uri, sampleMs: 1000, reportIntervalMs: 600_000, inventoryResendMs: 600_000, reconnectMs: 1000, guestChecks: checks }, silentLogger());
    const alerts: Alert[] = [];
    m.on("alert", (a) => { if (a.kind === "guestUnhealthy") alerts.push(a); });
    await m.start();
    try {
      await waitUntil(() => m.health.counters.agentNoChannel >= 10, 10_000, "agent checks finding no agent");
      assert.equal(alerts.length, 0);
      assert.equal(m.health.counters.checksFailed, 0);
      assert.equal(m.health.counters.checksRun, 0, "no ping answered or failed");
      // the guest with a channel was pinged once (the driver has no agent: remembered), the other never
      assert.equal(m.health.agentPings, 1);
      assert.equal(m.health.agentAnswered(withChannel.uuid), false);
    } finally {
      await m.stop();
    }
  });

  it("while libvirt is away the agent check is the monitor's own failure, never the guest's", async () => {
    const g = fx.domains.find((d) => d.agentChannel && d.state === "running")!;
    const h = new GuestHealth(parseGuestChecks({ checks: [{ guest: g.name, agent: true, intervalMs: 100, timeoutMs: 50, failures: 1 }] }, "t"), silentLogger(), () => undefined);
    const alerts: Alert[] = [];
    h.on("alert", (a) => alerts.push(a));
    h.setGuests([{ uuid: g.uuid, name: g.name, state: "running" }]);
    try {
      await waitUntil(() => h.counters.checksOwnErrors >= 3, 5000, "own errors counted");
      assert.deepEqual([alerts.length, h.counters.checksFailed], [0, 0]);
    } finally {
      h.stop();
    }
  });

  it("the checks file: agent must be true, alone, without expectStatus", () => {
    const bad: [unknown, RegExp][] = [
      [{ checks: [{ guest: "a", agent: "yes" }] }, /agent must be true/],
      [{ checks: [{ guest: "a", agent: true, tcp: "x:1" }] }, /exactly one of tcp \(host:port\), http \(URL\), agent \(true\) or discovered/],
      [{ checks: [{ guest: "a", agent: true, expectStatus: 200 }] }, /expectStatus must be an HTTP status/],
    ];
    for (const [doc, re] of bad) assert.throws(() => parseGuestChecks(doc, "f"), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(doc));
    assert.deepEqual(parseGuestChecks({ checks: [{ guest: "web1", agent: true, failures: 2 }] }, "f"), [{ guest: "web1", kind: "agent", target: "guest-agent", expectStatus: 200, intervalMs: 10_000, timeoutMs: 2000, failures: 2 }]);
  });
});

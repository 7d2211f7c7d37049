/**
 * Guest health from the hypervisor (issue 14, item 2) on a real libvirt (the test driver) with real
 * services on loopback standing for a guest's (an HTTP server whose status the test sets, a TCP
 * listener it closes): a check failing its count in a row raises guestUnhealthy with the evidence,
 * its recovery clears it; a guest shut off on purpose is never unhealthy and its checks stop.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import { ConfigError, silentLogger } from "@ringwatch/shared";
import type { Alert } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import type { Fixture } from "@ringwatch/libvirt/test-driver-fixture";
import { HypervisorMonitor } from "../../src/index.js";
import { parseGuestChecks } from "../../src/health/guest-checks-file.js";
import { lifecycleVerdict } from "../../src/health/lifecycle-verdict.js";
import { GuestHealth } from "../../src/health/guest-health.js";

const listen = (s: Server | ReturnType<typeof createTcpServer>): Promise<number> => new Promise((r) => s.listen(0, "127.0.0.1", () => r((s.address() as AddressInfo).port)));
const close = (s: Server | ReturnType<typeof createTcpServer>): Promise<void> => new Promise((r) => s.close(() => r()));

describe("nanoprobe/health: guests unhealthy from the hypervisor's side", function () {
  this.timeout(30_000);
  let fx: Fixture, http: Server, status = 200, httpPort: number;
  before(async () => {
    fx = writeFixture(4);
    http = createServer((_req, res) => { res.statusCode = status; res.end("ok"); });
    httpPort = await listen(http);
  });
  after(async () => {
    await close(http);
    fx.cleanup();
  });

  it("HTTP and TCP checks: unhealthy after the failures in a row, with evidence; healthy again when they pass; a guest shut off is not checked and never unhealthy", async () => {
    const [web, db] = fx.domains.filter((d) => d.state === "running");
    const tcp = createTcpServer((s) => s.end());
    const tcpPort = await listen(tcp);
    const checks = parseGuestChecks({ defaults: { intervalMs: 150, timeoutMs: 100, failures: 2 }, checks: [
      { guest: web.name, http: `http://127.0.0.1:${httpPort}/health` },
      { guest: db.uuid, tcp: `127.0.0.1:${tcpPort}`, failures: 3 },
      { guest: "not-on-this-host", tcp: "127.0.0.1:9" },
    ] }, "test");
    const m = new HypervisorMonitor({ uri: fx.uri, sampleMs: 1000, reportIntervalMs: 600_000, inventoryResendMs: 600_000, reconnectMs: 1000, guestChecks: checks }, silentLogger());
    const alerts: Alert[] = [];
    m.on("alert", (a) => { if (a.kind === "guestUnhealthy") alerts.push(a); });
    await m.start();
    try {
      await waitUntil(() => m.health.counters.checksRun >= 6, 10_000, "checks running");
      assert.equal(alerts.length, 0, "healthy services: no alert");
      assert.ok(m.health.counters.checksSkipped > 0, "the check of a guest not here is skipped");

      status = 503;
      await waitUntil(() => alerts.length === 1, 10_000, "web unhealthy");
      const raised = alerts[0];
      assert.deepEqual([raised.subject, raised.subjectName, raised.active], [web.uuid, web.name, true]);
      const ev = JSON.parse(raised.evidenceJson) as { causes: { cause: string; check: string; target: string; failures: number; lastError: string }[] };
      assert.deepEqual(ev.causes.map((c) => [c.cause, c.check, c.target, c.failures, c.lastError]), [["check", "http", `http://127.0.0.1:${httpPort}/health`, 2, "HTTP 503, expected 200"]]);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(alerts.length, 1, "one alert while it stays unhealthy, not one per interval");
      status = 200;
      await waitUntil(() => alerts.length === 2, 10_000, "web healthy again");
      assert.deepEqual([alerts[1].subject, alerts[1].active], [web.uuid, false]);

      await close(tcp); // db's service down: three failures in a row
      await waitUntil(() => alerts.length === 3, 10_000, "db unhealthy");
      assert.deepEqual([alerts[2].subject, alerts[2].active], [db.uuid, true]);
      assert.match(alerts[2].evidenceJson, /ECONNREFUSED/);
      // the operator shuts db off: not a fault; its alert clears, its check stops
      await m.conn!.action(db.uuid, "destroy");
      await waitUntil(() => alerts.length === 4, 10_000, "db's alert cleared by the shutdown");
      assert.deepEqual([alerts[3].subject, alerts[3].active], [db.uuid, false]);
      assert.match(alerts[3].evidenceJson, /stopped on purpose \(stopped\/destroyed\)|the guest is shutoff/);
      const skipped = m.health.counters.checksSkipped;
      await waitUntil(() => m.health.counters.checksSkipped > skipped + 3, 10_000, "db's check skipped while it is off");
      assert.equal(alerts.length, 4, "a guest shut off is never unhealthy, its service down or not");
      assert.deepEqual([...m.health.unhealthy().keys()], []);
    } finally {
      await m.stop();
    }
  });

  it("lifecycle: a crash, a panic, a watchdog or an I/O-error pause is unhealthy; a shutdown from inside, a destroy or a pause is not", () => {
    const v = (event: string, detailName: string) => lifecycleVerdict({ event: event as never, detailName });
    assert.deepEqual([v("crashed", "panicked"), v("stopped", "crashed"), v("suspended", "watchdog"), v("suspended", "ioerror")].map((x) => x && "unhealthy" in x && x.unhealthy), ["panicked", "crashed", "watchdog", "ioError"]);
    for (const [e, d] of [["shutdown", "guest"], ["shutdown", "finished"], ["stopped", "shutdown"], ["stopped", "destroyed"]]) assert.deepEqual(v(e, d), { stoppedOnPurpose: true }, `${e}/${d}`);
    assert.equal(v("suspended", "paused"), undefined);
    assert.equal(v("stopped", "migrated"), undefined);
    assert.deepEqual(v("started", "booted"), { runs: true });
  });

  it("a watchdog that fired: unhealthy (pause is the suspended event's); a watchdog reset is recorded and over; a watchdog poweroff holds until the guest runs, a reset by ringwatch ends a hung guest's", () => {
    const v = (detailName: string) => lifecycleVerdict({ event: "watchdog", detailName });
    assert.equal(v("pause"), undefined);
    for (const action of ["none", "reset", "poweroff", "shutdown", "debug", "inject-nmi"]) {
      const x = v(action);
      assert.deepEqual(x && "unhealthy" in x ? [x.unhealthy, x.watchdogAction] : x, ["watchdog", action]);
    }
    const h = new GuestHealth([], silentLogger());
    const alerts: { active: boolean; evidenceJson: string; subject: string }[] = [];
    h.on("alert", (a) => alerts.push(a));
    const g = (n: number) => ({ uuid: `33333333-0000-4000-8000-00000000000${n}`, name: `g${n}`, state: "running" });
    h.setGuests([g(1), g(2), g(3)]);
    const ev = (n: number, event: string, detailName: string) => h.lifecycle({ uuid: g(n).uuid, name: g(n).name, event: event as never, eventCode: 0, detail: 0, detailName });
    // reset by the watchdog: raised, then cleared at once, saying why
    ev(1, "watchdog", "reset");
    assert.deepEqual(alerts.map((a) => [a.subject, a.active]), [[g(1).uuid, true], [g(1).uuid, false]]);
    assert.match(alerts[0].evidenceJson, /watchdog fired, action reset/);
    assert.match(alerts[1].evidenceJson, /the watchdog reset the guest/);
    // powered off by the watchdog: the stop that follows is nobody's purpose; starting it ends it
    ev(2, "watchdog", "poweroff");
    ev(2, "stopped", "destroyed");
    assert.deepEqual([...h.unhealthy().keys()], [g(2).uuid]);
    ev(2, "started", "booted");
    assert.deepEqual([...h.unhealthy().keys()], []);
    // hung (action none): holds until a reset (no lifecycle event comes with one)
    ev(3, "watchdog", "none");
    assert.deepEqual([...h.unhealthy().keys()], [g(3).uuid]);
    h.wasReset(g(3).uuid.toUpperCase());
    assert.deepEqual([...h.unhealthy().keys()], []);
    assert.match(alerts.at(-1)!.evidenceJson, /the guest was reset/);
    h.stop();
  });

  it("a bad checks file is refused whole, naming the entry", () => {
    const bad: [unknown, RegExp][] = [
      [[], /expected a JSON object/],
      [{ checks: [{ guest: "a", tcp: "x:1", http: "http://x/" }] }, /checks\[0\]: give exactly one of tcp/],
      [{ checks: [{ guest: "a", tcp: "x:70000" }] }, /port 1–65535/],
      [{ checks: [{ guest: "a", http: "ftp://x/" }] }, /http:\/\/ or https:\/\/ URL/],
      [{ checks: [{ guest: "a", tcp: "x:1", expectStatus: 200 }] }, /expectStatus must be an HTTP status \(100–599\), with http/],
      [{ checks: [{ guest: "a", tcp: "x:1", timeoutMs: 5000, intervalMs: 1000 }] }, /timeoutMs \(5000\) must be below intervalMs/],
      [{ checks: [{ guest: "a", tcp: "x:1", failures: 0 }] }, /failures must be an integer from 1 to 100/],
      [{ checks: [{ guest: "", tcp: "x:1" }] }, /guest must be/],
      [{ checks: [{ guest: "a", tcp: "x:1", colour: 1 }] }, /unknown key "colour"/],
      [{ checks: [], extra: 1 }, /unknown key "extra"/],
      [{ defaults: { intervalMs: 10 }, checks: [] }, /intervalMs must be an integer from 100/],
      [{ checks: Array.from({ length: 1001 }, () => ({ guest: "a", tcp: "x:1" })) }, /at most 1000/],
    ];
    for (const [doc, re] of bad) assert.throws(() => parseGuestChecks(doc, "f"), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(doc).slice(0, 80));
    assert.deepEqual(parseGuestChecks({ checks: [{ guest: "web1", http: "https://10.0.0.5/health" }] }, "f"), [{ guest: "web1", kind: "http", target: "https://10.0.0.5/health", expectStatus: 200, intervalMs: 10_000, timeoutMs: 2000, failures: 3 }]);
  });
});

/**
 * Checks by tag: one check per guest carrying the tag, its target naming the guest ({name},
 * {uuid}); made and dropped as guests and tags change. Real HTTP service on loopback (the path
 * names the guest), real libvirt test driver for the tags read from the domains' metadata.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, silentLogger } from "@ringwatch/shared";
import type { Alert } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { HypervisorMonitor } from "../../src/index.js";
import { parseGuestChecks } from "../../src/health/guest-checks-file.js";
import { GuestHealth } from "../../src/health/guest-health.js";
import type { GuestView } from "../../src/health/guest-health.js";

describe("nanoprobe/health: checks by tag", function () {
  this.timeout(30_000);
  let http: Server, port: number;
  /** status per path: /<guest name> */
  const status = new Map<string, number>();
  const asked = new Set<string>();
  before(async () => {
    http = createServer((req, res) => { asked.add(req.url!); res.statusCode = status.get(req.url!) ?? 200; res.end(); });
    port = await new Promise<number>((r) => http.listen(0, "127.0.0.1", () => r((http.address() as AddressInfo).port)));
  });
  after(() => new Promise<void>((r) => http.close(() => r())));

  it("one check per tagged guest, its target naming the guest; an untagged guest is never checked; losing the tag drops the check and what it found", async () => {
    const specs = parseGuestChecks({ defaults: { intervalMs: 100, timeoutMs: 80, failures: 2 }, checks: [{ tag: "web", http: `http://127.0.0.1:${port}/{name}?id={uuid}` }] }, "test");
    const h = new GuestHealth(specs, silentLogger());
    const alerts: Alert[] = [];
    h.on("alert", (a) => alerts.push(a));
    const web1: GuestView = { uuid: "11111111-0000-4000-8000-000000000001", name: "web1", state: "running", tags: ["web"] };
    const web2: GuestView = { uuid: "11111111-0000-4000-8000-000000000002", name: "web 2", state: "running", tags: ["prod", "web"] };
    const db: GuestView = { uuid: "11111111-0000-4000-8000-000000000003", name: "db", state: "running", tags: ["database"] };
    try {
      h.setGuests([web1, web2, db]);
      assert.deepEqual(h.checkCount(), { byGuest: 0, byTag: 2, byDiscovery: 0 });
      await waitUntil(() => asked.has(`/web1?id=${web1.uuid}`) && asked.has(`/web%202?id=${web2.uuid}`), 5000, "both tagged guests checked");
      assert.ok(![...asked].some((u) => u.startsWith("/db")), "the untagged guest is not checked");

      status.set(`/web1?id=${web1.uuid}`, 503);
      await waitUntil(() => alerts.length === 1, 5000, "web1 unhealthy");
      const ev = JSON.parse(alerts[0].evidenceJson) as { causes: { target: string; tag: string }[] };
      assert.deepEqual([alerts[0].subject, alerts[0].active, ev.causes[0].target, ev.causes[0].tag], [web1.uuid, true, `http://127.0.0.1:${port}/web1?id=${web1.uuid}`, "web"]);

      // web1 loses its tag: its check goes, and with it the cause it found
      h.setGuests([{ ...web1, tags: [] }, web2, db]);
      assert.deepEqual(h.checkCount(), { byGuest: 0, byTag: 1, byDiscovery: 0 });
      assert.deepEqual([alerts.length, alerts[1]?.subject, alerts[1]?.active], [2, web1.uuid, false]);
      // db gets it: checked from then on
      h.setGuests([{ ...web1, tags: [] }, web2, { ...db, tags: ["web"] }]);
      await waitUntil(() => asked.has(`/db?id=${db.uuid}`), 5000, "db checked once tagged");
      // a guest gone takes its check with it
      h.setGuests([web2]);
      assert.deepEqual(h.checkCount(), { byGuest: 0, byTag: 1, byDiscovery: 0 });
    } finally {
      h.stop();
      status.clear();
    }
  });

  it("the tags come from the domains' libvirt metadata", async () => {
    const fx = writeFixture(4);
    const [a, b] = fx.domains.filter((d) => d.state === "running");
    const tag = (name: string, words: string) => `<name>${name}</name><metadata><rw:tags xmlns:rw="urn:ringwatch:tags">${words}</rw:tags></metadata>`;
    writeFileSync(fx.file, readFileSync(fx.file, "utf8").replace(`<name>${a.name}</name>`, tag(a.name, "web")).replace(`<name>${b.name}</name>`, tag(b.name, "db")));
    const specs = parseGuestChecks({ checks: [{ tag: "web", tcp: `127.0.0.1:${port}` }, { tag: "db", tcp: "{name}.invalid:5432" }, { tag: "none", tcp: "127.0.0.1:9" }] }, "test");
    const m = new HypervisorMonitor({ uri: fx.uri, sampleMs: 1000, reportIntervalMs: 600_000, inventoryResendMs: 600_000, reconnectMs: 1000, guestChecks: specs }, silentLogger());
    await m.start();
    try {
      await waitUntil(() => m.health.checkCount().byTag === 2, 5000, "a check for each tagged guest");
    } finally {
      await m.stop();
      fx.cleanup();
    }
  });

  it("the checks file: guest or tag, one of them; a tag is a word; a target template must make a valid target", () => {
    const bad: [unknown, RegExp][] = [
      [{ tcp: "127.0.0.1:80" }, /give exactly one of guest .* or tag/],
      [{ guest: "a", tag: "web", tcp: "127.0.0.1:80" }, /give exactly one of guest .* or tag/],
      [{ tag: "web servers", tcp: "127.0.0.1:80" }, /tag must be a ringwatch tag/],
      [{ tag: "web", tcp: "{name}" }, /tcp must be host:port/],
      [{ tag: "web", http: "ftp://{name}/" }, /http must be an http/],
    ];
    for (const [c, re] of bad) assert.throws(() => parseGuestChecks({ checks: [c] }, "f"), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(c));
    const [s] = parseGuestChecks({ checks: [{ tag: "web", http: "http://{name}.guests.example:8080/health" }] }, "f");
    assert.deepEqual([s.tag, s.guest, s.target], ["web", undefined, "http://{name}.guests.example:8080/health"]);
  });
});

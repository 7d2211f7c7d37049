/**
 * Checks of discovered services: one TCP check per service guest-flows saw a guest answer on, for
 * the guests an entry names (by guest or tag). Real TCP listeners on loopback stand for the
 * guests' services; the documents are guest-flows' shape, malformed parts included.
 */
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { ConfigError, silentLogger } from "@ringwatch/shared";
import type { Alert } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { parseGuestChecks } from "../../src/health/guest-checks-file.js";
import { discoveredServices } from "../../src/health/discovered-services.js";
import { GuestHealth } from "../../src/health/guest-health.js";
import type { GuestView } from "../../src/health/guest-health.js";

const listen = (): Promise<net.Server> => new Promise((r) => { const s = net.createServer((c) => c.destroy()); s.listen(0, "127.0.0.1", () => r(s)); });
const portOf = (s: net.Server): number => (s.address() as AddressInfo).port;
const close = (s: net.Server): Promise<void> => new Promise((r) => s.close(() => r()));
const doc = (guests: { uuid: string; listeners: unknown }[]): unknown => ({ guests: guests.map((g) => ({ name: "x", clients: [], ...g })), capture: {}, conntrack: {}, state: {} });

describe("nanoprobe/health: checks of the services discovered on a guest", function () {
  this.timeout(30_000);
  const web: GuestView = { uuid: "22222222-0000-4000-8000-000000000001", name: "web", state: "running", tags: ["web"] };
  const db: GuestView = { uuid: "22222222-0000-4000-8000-000000000002", name: "db", state: "running", tags: ["db"] };

  it("the file: discovered must be \"tcp\", for a guest or a tag, and alone", () => {
    const [s] = parseGuestChecks({ checks: [{ tag: "web", discovered: "tcp", failures: 2 }] }, "test");
    assert.deepEqual([s.kind, s.discovered, s.tag, s.failures], ["tcp", true, "web", 2]);
    assert.throws(() => parseGuestChecks({ checks: [{ tag: "web", discovered: "udp" }] }, "f"), (e: Error) => e instanceof ConfigError && /discovered must be "tcp"/.test(e.message));
    assert.throws(() => parseGuestChecks({ checks: [{ tag: "web", discovered: "tcp", tcp: "a:1" }] }, "f"), /exactly one of tcp \(host:port\), http \(URL\), agent \(true\) or discovered/);
  });

  it("a document's bad parts are left out and counted, the rest is read", () => {
    const d = discoveredServices(doc([
      { uuid: web.uuid.toUpperCase(), listeners: [{ ip: "10.0.0.5", port: 80 }, { ip: "2001:db8::5", port: 443 }, { ip: "10.0.0.5", port: 0 }, { ip: "nope", port: 80 }, null, "x"] },
      { uuid: "../etc", listeners: [] },
      { uuid: db.uuid, listeners: "all of them" },
    ]));
    assert.deepEqual([...d.byGuest], [[web.uuid, ["10.0.0.5:80", "[2001:db8::5]:443"]]]);
    assert.equal(d.malformed, 6);
    assert.deepEqual(discoveredServices("garbage"), { byGuest: new Map(), malformed: 1 });
  });

  it("one check per discovered service of a matching guest; a service that dies makes the guest unhealthy and stays checked after discovery forgets it, until it answers", async () => {
    const a = await listen(), b = await listen();
    const specs = parseGuestChecks({ defaults: { intervalMs: 100, timeoutMs: 80, failures: 2 }, checks: [{ tag: "web", discovered: "tcp" }] }, "test");
    const h = new GuestHealth(specs, silentLogger());
    const alerts: Alert[] = [];
    h.on("alert", (x) => alerts.push(x));
    try {
      h.setGuests([web, db]);
      assert.deepEqual(h.checkCount(), { byGuest: 0, byTag: 0, byDiscovery: 0 }, "nothing discovered yet: nothing checked");
      h.setDiscovered(discoveredServices(doc([{ uuid: web.uuid, listeners: [{ ip: "127.0.0.1", port: portOf(a) }, { ip: "127.0.0.1", port: portOf(b) }] }, { uuid: db.uuid, listeners: [{ ip: "127.0.0.1", port: portOf(a) }] }])));
      assert.deepEqual(h.checkCount(), { byGuest: 0, byTag: 0, byDiscovery: 2 }, "web's two services; db carries no web tag");
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(alerts.length, 0, "both services answer");

      const deadPort = portOf(b);
      await close(b);
      await waitUntil(() => alerts.length === 1, 5000, "web unhealthy");
      const ev = JSON.parse(alerts[0].evidenceJson) as { causes: { target: string; discovered: boolean; check: string }[] };
      assert.deepEqual([alerts[0].subject, alerts[0].active, ev.causes.map((c) => [c.check, c.target, c.discovered])], [web.uuid, true, [["tcp", `127.0.0.1:${deadPort}`, true]]]);

      // discovery forgets the dead service (it answers no SYN): its check stays, the guest stays unhealthy
      h.setDiscovered(discoveredServices(doc([{ uuid: web.uuid, listeners: [{ ip: "127.0.0.1", port: portOf(a) }] }])));
      assert.deepEqual(h.checkCount().byDiscovery, 2);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(alerts.length, 1, "still unhealthy, not cleared");

      // it comes back: healthy again, and then its check goes
      const back = net.createServer((c) => c.destroy());
      await new Promise<void>((r) => back.listen(deadPort, "127.0.0.1", () => r()));
      await waitUntil(() => alerts.length === 2, 5000, "web healthy again");
      assert.equal(alerts[1].active, false);
      assert.deepEqual(h.checkCount().byDiscovery, 1, "the forgotten service's check is gone once it answered");
      await close(back);

      // a guest that stops: its checks go with what they found
      h.setGuests([{ ...web, state: "shutoff" }, db]);
      h.setDiscovered(discoveredServices(doc([])));
      assert.deepEqual(h.checkCount().byDiscovery, 0);
    } finally {
      h.stop();
      await close(a).catch(() => undefined);
    }
  });
});

/**
 * The escalation ladder end to end, in one process over real UDP and HTTP: a real CMA with a ladder
 * policy (waits of a second), a real nanoprobe on libvirt's test driver whose guest check targets
 * a real HTTP server on loopback standing for the guest's service (the test sets its status), and
 * a real webhook receiver (support/ladder-cluster.ts). The service fails → guestUnhealthy → notify
 * → soft reboot → (kept down) → hard reset → escalate; the service answers → healthy → the ladder
 * ends. A reboot that helps ends it at that step. A CMA restart in the middle continues at the
 * right step without repeating one. Guards: a host in maintenance, and the fleet-wide limit (a storm escalates).
 * The test driver's guests have no OS: the test plays the guest's service, libvirt does the rest.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Keyring, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { waitUntil } from "@ringwatch/shared/testing";
import type { LadderState } from "@ringwatch/cma";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import type { Fixture } from "@ringwatch/libvirt/test-driver-fixture";
import { guestServices, ladderOf, startLadderCluster, startLadderCma } from "./support/ladder-cluster.js";
import type { GuestServices, LadderCluster } from "./support/ladder-cluster.js";
import { testHostKeys } from "./support/host-keys.js";

const listen = (s: Server): Promise<number> => new Promise((r) => s.listen(0, "127.0.0.1", () => r((s.address() as AddressInfo).port)));
const close = (s: Server): Promise<void> => new Promise((r) => s.close(() => r()));
const body = (req: IncomingMessage): Promise<string> => new Promise((r) => { let b = ""; req.on("data", (c: Buffer) => (b += c)); req.on("end", () => r(b)); });

describe("system: the escalation ladder (guest health → notify → reboot → reset → escalate)", function () {
  this.timeout(90_000);
  const keyring = new Keyring("ladder", makeClusterKey(randomBytes(32)));
  const keys = newKeyPair("ed25519");
  let fx: Fixture, services: GuestServices, webhook: Server, hookPort: number;
  /** the guests' service status, per guest name (the check's path names the guest) */
  let status: Map<string, number>;
  const notices: { event: string; guest: { name: string }; done?: string[] }[] = [];
  let web: { uuid: string; name: string }, app: { uuid: string; name: string };

  before(async () => {
    fx = writeFixture(4);
    [web, app] = fx.domains.filter((d) => d.state === "running");
    services = await guestServices();
    status = services.status;
    webhook = createServer((req, res) => void body(req).then((b) => { notices.push(JSON.parse(b)); res.end(); }));
    hookPort = await listen(webhook);
  });
  after(async () => {
    await services.close();
    await close(webhook);
    fx.cleanup();
  });

  /** a CMA with the policy (and the webhook receiver), and a nanoprobe checking both guests' services every 150 ms */
  const start = (policy: object, detection?: { warntimeMs: number; deadtimeMs: number }): Promise<LadderCluster> =>
    startLadderCluster({ cluster: "ladder", keyring, commandKey: keys.privateKey, cmaPublicKey: keys.publicKey, fx, guests: [web, app], services, policy: { webhooks: [`http://127.0.0.1:${hookPort}/hook`], ...policy }, detection });
  const steps = (l: LadderState | undefined) => l?.history.map((h) => `${h.what}:${h.outcome}`);

  it("kept down: notify → reboot → reset → escalate, each done once and audited; healthy again ends it and says so", async () => {
    notices.length = 0;
    status.set(web.name, 503);
    const { cma, np, stopAll } = await start({ default: ["notify", { wait: "1s" }, "reboot", { wait: "1s" }, "reset", { wait: "1s" }, "escalate"] });
    try {
      await waitUntil(() => ladderOf(cma, web.uuid)?.status === "escalated", 30_000, "the ladder escalated");
      assert.deepEqual(steps(ladderOf(cma, web.uuid)), ["notify:ok", "reboot:ok", "reset:ok", "escalate:ok"]);
      assert.equal(np.counters.domainActionsDone, 2, "one reboot, one reset, on the hypervisor");
      assert.deepEqual(notices.map((n) => [n.event, n.guest.name]), [["unhealthy", web.name], ["escalated", web.name]]);
      status.set(web.name, 200);
      await waitUntil(() => ladderOf(cma, web.uuid)?.status === "ended", 15_000, "healthy again");
      assert.equal(ladderOf(cma, web.uuid)!.endReason, "healthy again");
      await waitUntil(() => notices.length === 3, 5000, "the resolved notice");
      assert.equal(notices[2].event, "resolved");
      const audit = cma.audit.list({ actor: "ladder" }).reverse().map((e) => `${e.action}:${e.outcome}`);
      assert.deepEqual(audit, ["ladderStart:ok", "ladderNotify:ok", "ladderAction:ok", "ladderAction:ok", "ladderEscalate:ok", "ladderEnd:ok"]);
      assert.equal(ladderOf(cma, app.uuid), undefined, "the healthy guest never had a ladder");
    } finally {
      await stopAll();
    }
  });

  it("a soft reboot that brings the service back ends the ladder at that step (no reset)", async () => {
    status.set(web.name, 503);
    const { cma, np, stopAll } = await start({ default: ["notify", { wait: "500ms" }, "reboot", { wait: "3s" }, "reset", "escalate"] });
    try {
      await waitUntil(() => np.counters.domainActionsDone === 1, 20_000, "the reboot");
      status.set(web.name, 200); // the reboot helped
      await waitUntil(() => ladderOf(cma, web.uuid)?.status === "ended", 15_000, "healthy again");
      assert.deepEqual(steps(ladderOf(cma, web.uuid)), ["notify:ok", "reboot:ok"]);
      await new Promise((r) => setTimeout(r, 3500));
      assert.equal(np.counters.domainActionsDone, 1, "no reset after it ended");
    } finally {
      await stopAll();
    }
  });

  it("a CMA restart during a wait: the ladder goes on at the next step and repeats none", async () => {
    status.set(web.name, 503);
    const first = await start({ default: ["notify", { wait: "4s" }, "reboot", { wait: "500ms" }, "escalate"] });
    const port = first.cma.endpoint.address().port;
    await waitUntil(() => steps(ladderOf(first.cma, web.uuid))?.length === 1, 20_000, "notified");
    await first.cma.stop(); // the nanoprobe stays: it re-registers with the new CMA and reports its alert again
    const cma = await startLadderCma({ cluster: "ladder", keyring, commandKey: keys.privateKey, dataDir: first.dataDir, port });
    try {
      await waitUntil(() => ladderOf(cma, web.uuid)?.status === "escalated", 30_000, "escalated after the restart");
      assert.deepEqual(steps(ladderOf(cma, web.uuid)), ["notify:ok", "reboot:ok", "escalate:ok"], "one notify, one reboot");
      assert.equal(first.np.counters.domainActionsDone, 1);
    } finally {
      status.set(web.name, 200);
      await first.np.stop(false);
      await cma.stop();
    }
  });

  it("guards: nothing is done to the guests of a host in maintenance; past the fleet limit a storm escalates at once", async () => {
    status.set(web.name, 200);
    status.set(app.name, 200);
    const { cma, np, stopAll } = await start({ default: ["reboot", { wait: "300ms" }, "reset", { wait: "10s" }, "escalate"], limits: { fleet: 1, perHost: 5, window: "10m" } });
    try {
      cma.rings.control.startMaintenance("hv1", Date.now() + 3_600_000, "test: storage work");
      status.set(web.name, 503);
      await waitUntil(() => ladderOf(cma, web.uuid)?.history.length === 2, 20_000, "reboot and reset tried");
      assert.deepEqual(ladderOf(cma, web.uuid)!.history.map((h) => [h.what, h.outcome, h.detail?.split(":")[0]]), [["reboot", "refused", "host-in-maintenance"], ["reset", "refused", "host-in-maintenance"]]);
      assert.equal(np.counters.domainActionsDone, 0);
      cma.rings.control.endMaintenance("hv1");
      await waitUntil(() => cma.rings.membership.get("hv1")?.state === "alive", 10_000, "hv1 alive");
      status.set(web.name, 200);
      await waitUntil(() => ladderOf(cma, web.uuid)?.status === "ended", 15_000, "web healthy");

      // two guests fail: the first one's reboot is the fleet's one action in the window; the second escalates at once
      status.set(web.name, 503);
      await waitUntil(() => np.counters.domainActionsDone === 1, 20_000, "web rebooted");
      status.set(app.name, 503);
      await waitUntil(() => ladderOf(cma, app.uuid)?.status === "escalated", 20_000, "app escalated");
      assert.deepEqual(ladderOf(cma, app.uuid)!.history.map((h) => [h.what, h.outcome, h.detail?.split(":")[0]]), [["reboot", "refused", "fleet-limit"], ["escalate", "ok", "escalated"]]);
      assert.equal(np.counters.domainActionsDone, 1, "nothing done to app");
      const refusals = cma.audit.list({ actor: "ladder", action: "ladderAction" }).filter((e) => e.outcome === "denied").map((e) => String((e.detail as { detail: string }).detail).split(":")[0]);
      // app's reboot refused for the fleet limit; web's own reset, due after its reboot used the fleet's one action, is too
      // when web still counts as unhealthy then (the test driver's reboot may end its checks' run and start a new ladder)
      assert.equal(refusals.filter((r) => r === "host-in-maintenance").length, 2);
      assert.ok(refusals.includes("fleet-limit"), refusals.join(", "));
      assert.deepEqual([...new Set(refusals)].sort(), ["fleet-limit", "host-in-maintenance"]);
    } finally {
      status.set(web.name, 200);
      status.set(app.name, 200);
      await stopAll();
    }
  });

  it("a policy by tag: a guest tagged in its libvirt metadata gets its tag's steps (or none), the others the default", async () => {
    // tags as an operator sets them (virsh metadata --uri urn:ringwatch:tags), read by the nanoprobe from libvirt, carried to the CMA
    const tagged = writeFixture(4);
    const tag = (name: string, words: string) => `<name>${name}</name><metadata><rw:tags xmlns:rw="urn:ringwatch:tags">${words}</rw:tags></metadata>`;
    writeFileSync(tagged.file, readFileSync(tagged.file, "utf8").replace(`<name>${web.name}</name>`, tag(web.name, "batch web")).replace(`<name>${app.name}</name>`, tag(app.name, "database")));
    const { cma, stopAll } = await startLadderCluster({
      cluster: "ladder", keyring, commandKey: keys.privateKey, cmaPublicKey: keys.publicKey, fx: tagged, guests: [web, app], services,
      policy: { mode: "dry-run", default: ["notify", { wait: "1h" }, "reset"], tags: { database: "off", batch: ["notify", { wait: "1s" }, "escalate"] } },
    });
    try {
      assert.deepEqual(cma.inventory.domains("hv1").filter((d) => d.tags?.length).map((d) => [d.name, d.tags]).sort(), [[app.name, ["database"]], [web.name, ["batch", "web"]]].sort());
      status.set(web.name, 503);
      status.set(app.name, 503);
      await waitUntil(() => ladderOf(cma, web.uuid)?.status === "escalated", 20_000, "web's ladder (tag batch) escalated");
      assert.deepEqual(steps(ladderOf(cma, web.uuid)), ["notify:ok", "escalate:ok"]);
      await waitUntil(() => cma.alerts.active("hv1").some((a) => a.alert.kind === "guestUnhealthy" && a.alert.subject.toLowerCase() === app.uuid), 10_000, "app unhealthy");
      assert.equal(ladderOf(cma, app.uuid), undefined, "tag database: off, no ladder");
    } finally {
      status.set(web.name, 200);
      status.set(app.name, 200);
      await stopAll();
      tagged.cleanup();
    }
  });

  it("guards on a real ring: a segment with two hosts killed refuses the reboot and the reset; a guest's hypervisor killed mid-ladder refuses its reset; both recorded, nothing done", async () => {
    const { cma, np, stopAll } = await start({
      default: ["notify", { wait: "1s" }, "reboot", { wait: "1s" }, "reset", "escalate"],
      // app's wait leaves time to kill its hypervisor and have the ring declare it dead (deadtime 2 s, then the CMA's probe) before the reset is due
      guests: { [app.name]: ["notify", { wait: "8s" }, "reset", "escalate"] },
    }, { warntimeMs: 1000, deadtimeMs: 2000 });
    // three more hypervisors in hv1's segment (all on 127.0.0.1), rings only
    const others: Nanoprobe[] = [];
    for (const identity of ["hv2", "hv3", "hv4"]) others.push(await Nanoprobe.start(nanoprobeConfig({ identity, cluster: "ladder", cma: `127.0.0.1:${cma.endpoint.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 100, heartbeatMs: 200, libvirtUri: "", statusIntervalMs: 0, discoveryDir: "" }), { keyring, cmaPublicKey: keys.publicKey, log: silentLogger(), hostKeys: testHostKeys(identity) }));
    const state = (h: string) => cma.rings.membership.get(h)?.state;
    const history = (uuid: string) => ladderOf(cma, uuid)?.history.map((h) => (h.outcome === "refused" ? [h.what, h.outcome, h.detail?.split(":")[0]] : [h.what, h.outcome]));
    try {
      // in the ring: each acknowledged its neighbours (a host still joining is not judged on its silence)
      await waitUntil(() => ["hv1", "hv2", "hv3", "hv4"].every((h) => state(h) === "alive" && !cma.rings.membership.get(h)?.joining), 15_000, "four hosts in the ring");
      await others[1].stop(false);
      await others[2].stop(false);
      await waitUntil(() => state("hv3") === "dead" && state("hv4") === "dead", 30_000, "hv3 and hv4 declared dead");
      status.set(web.name, 503);
      await waitUntil(() => ladderOf(cma, web.uuid)?.status === "escalated", 20_000, "web's ladder escalated");
      assert.deepEqual(history(web.uuid), [["notify", "ok"], ["reboot", "refused", "segment-suspect"], ["reset", "refused", "segment-suspect"], ["escalate", "ok"]]);

      status.set(app.name, 503);
      await waitUntil(() => ladderOf(cma, app.uuid)?.history.length === 1, 20_000, "app notified");
      const killedAt = Date.now();
      await np.stop(false);
      await waitUntil(() => state("hv1") === "dead", 30_000, "hv1 declared dead");
      const deadAfterMs = Date.now() - killedAt;
      await waitUntil(() => ladderOf(cma, app.uuid)?.status === "escalated", 20_000, "app's ladder escalated");
      assert.deepEqual(history(app.uuid), [["notify", "ok"], ["reset", "refused", "host-not-alive"], ["escalate", "ok"]], `hv1 declared dead ${deadAfterMs} ms after it was killed`);
      assert.equal(np.counters.domainActionsDone, 0, "nothing was done to either guest");
      const refusals = cma.audit.list({ actor: "ladder", action: "ladderAction" }).filter((e) => e.outcome === "denied").map((e) => `${e.target === web.uuid ? "web" : "app"}:${String((e.detail as { detail: string }).detail).split(":")[0]}`);
      assert.deepEqual(refusals.sort(), ["app:host-not-alive", "web:segment-suspect", "web:segment-suspect"]);
    } finally {
      status.set(web.name, 200);
      status.set(app.name, 200);
      for (const o of others) await o.stop(false).catch(() => undefined);
      await stopAll();
    }
  });
});

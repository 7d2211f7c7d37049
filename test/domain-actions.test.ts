/**
 * Actions on guests end to end, in one process over real UDP and real HTTP: a real CMA with its
 * HTTP API, two nanoprobes reading libvirt's test driver (each its own fixture of domains). An
 * operator's token resets/destroys/starts a guest through the API: the CMA signs the command for
 * the hypervisor that runs that guest (found in the inventory), that nanoprobe does it, the answer
 * carries the domain's state and the audit log the request. Refused before anything is sent: a
 * viewer (403), an unknown guest (404), a guest whose hypervisor is in maintenance or dead (409).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { AccessStore, Cma, cmaConfig } from "@ringwatch/cma";
import { runActionCommand } from "@ringwatch/cma/dist/src/action-command.js";
import { newContext, screenshotPath, signInThroughForm } from "./support/browser.js";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import type { Fixture } from "@ringwatch/libvirt/test-driver-fixture";
import { testHostKeys } from "./support/host-keys.js";

describe("system: actions on guests through the CMA's API and the hypervisor's nanoprobe", function () {
  this.timeout(60_000);
  const keyring = new Keyring("act", makeClusterKey(randomBytes(32)));
  const keys = newKeyPair("ed25519");
  const fx: Fixture[] = [];
  const nps: Nanoprobe[] = [];
  let cma: Cma, url: string, operator: string, viewer: string;

  before(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-act-"));
    const access = AccessStore.open(dataDir);
    await access.addUser("ops", "admin", "a long enough password");
    await access.addUser("olga", "operator", "olga's long enough password");
    await access.addUser("vera", "viewer", "vera's long enough password");
    operator = access.createToken({ name: "test operator", role: "operator", expiresAt: null, createdBy: "test" }).token;
    viewer = access.createToken({ name: "test viewer", role: "viewer", expiresAt: null, createdBy: "test" }).token;
    cma = await Cma.start(cmaConfig({ cluster: "act", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", historyStore: "none", dataDir, httpListen: "127.0.0.1:0" }), { keyring, commandKey: keys.privateKey, log: silentLogger() });
    url = cma.http!.url;
    for (const name of ["hv1", "hv2"]) {
      const f = writeFixture(3);
      // each fixture numbers its domains alike: hv2's get their own UUIDs (a UUID is one guest fleet-wide)
      if (name === "hv2") writeFileSync(f.file, readFileSync(f.file, "utf8").replaceAll("5e1f0000-", "5e2f0000-"));
      fx.push(f);
      nps.push(await Nanoprobe.start(nanoprobeConfig({ identity: name, cluster: "act", cma: `127.0.0.1:${cma.endpoint.address().port}`, bindAddress: "127.0.0.1", port: 0, joinIntervalMs: 100, heartbeatMs: 200, libvirtUri: f.uri, statusIntervalMs: 0, discoveryDir: "" }), { keyring, cmaPublicKey: keys.publicKey, log: silentLogger(), hostKeys: testHostKeys(name) }));
    }
    await waitUntil(() => cma.inventory.domains("hv1").length === 3 && cma.inventory.domains("hv2").length === 3, 15_000, "both inventories at the CMA");
  });
  after(async () => {
    for (const np of nps) await np.stop(false);
    await cma?.stop();
    for (const f of fx) f.cleanup();
  });

  const act = (uuid: string, body: unknown, token = operator) => fetch(`${url}/api/domains/${uuid}/actions`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const guestOn = (host: string) => cma.inventory.domains(host).find((d) => d.state === "running")!;
  const stateOn = async (np: Nanoprobe, uuid: string) => (await np.hypervisor!.conn!.domainInfo(uuid)).state;

  it("an operator destroys and starts a guest on hv2: the command goes to hv2 only, each answer has the state after, each is audited", async () => {
    const g = guestOn("hv2");
    const [hv1, hv2] = nps;
    const r = await act(g.uuid, { action: "destroy", reason: "test: stuck guest" });
    assert.equal(r.status, 200, await r.clone().text());
    const body = await r.json() as Record<string, unknown>;
    assert.deepEqual({ ...body, commandId: typeof body.commandId }, { uuid: g.uuid, name: g.name, host: "hv2", action: "destroy", state: "shutoff", commandId: "string" });
    assert.equal(await stateOn(hv2, g.uuid), "shutoff");
    const s = await act(g.uuid.toUpperCase(), { action: "start" });
    assert.equal(s.status, 200);
    assert.equal((await s.json() as { state: string }).state, "running");
    assert.equal(await stateOn(hv2, g.uuid), "running");
    assert.deepEqual([hv1.counters.domainActionsDone, hv2.counters.domainActionsDone], [0, 2], "hv1 was never asked");
    const entries = cma.audit.list({ action: "domainAction" }).reverse();
    assert.deepEqual(entries.map((e) => [e.actor, e.target, e.outcome, (e.detail as { action: string }).action, (e.detail as { host: string }).host, (e.detail as { state: string }).state]), [
      ["token:" + operator.split("_")[1], g.uuid, "ok", "destroy", "hv2", "shutoff"], ["token:" + operator.split("_")[1], g.uuid.toUpperCase(), "ok", "start", "hv2", "running"],
    ]);
    assert.equal((entries[0].detail as { reason: string }).reason, "test: stuck guest");
  });

  it("a reboot's answer says how the guest was asked: by the ACPI power button, as no agent of its answered a ping (answer and audit)", async () => {
    const g = guestOn("hv2");
    const r = await act(g.uuid, { action: "reboot", reason: "test: reboot method" });
    assert.equal(r.status, 200, await r.clone().text());
    const body = await r.json() as { action: string; rebootMethod?: string; agentError?: string };
    assert.deepEqual([body.action, body.rebootMethod, body.agentError], ["reboot", "acpi", undefined]);
    const entry = cma.audit.list({ action: "domainAction" })[0];
    assert.deepEqual([(entry.detail as { action: string }).action, (entry.detail as { rebootMethod: string }).rebootMethod], ["reboot", "acpi"]);
    // any other action says nothing about a method
    const s = await act(g.uuid, { action: "suspend" });
    assert.equal(((await s.json()) as { rebootMethod?: string }).rebootMethod, undefined);
    await act(g.uuid, { action: "resume" });
  });

  it("ringwatch-cma action: by unique name with --yes (a token file), confirmation asked on a terminal, none without one", async () => {
    const g = guestOn("hv2");
    const dir = mkdtempSync(join(tmpdir(), "rw-act-cli-"));
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${operator}\n`, { mode: 0o600 });
    const run = async (positionals: string[], values: Record<string, unknown>, confirm?: (q: string) => Promise<boolean>) => {
      let stdout = "", stderr = "";
      const code = await runActionCommand({ values: { url, "token-file": tokenFile, ...values }, positionals, debug: false } as Parameters<typeof runActionCommand>[0], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), confirm });
      return { code, stdout, stderr };
    };
    const questions: string[] = [];
    const no = await run(["reset", g.uuid], {}, async (q) => { questions.push(q); return false; });
    assert.deepEqual([no.code, no.stderr], [1, "ringwatch-cma action: not confirmed; nothing done\n"]);
    assert.match(questions[0], new RegExp(`^reset guest ${g.name} \\(${g.uuid}, running\\) on hv2\\? \\[y/N\\] $`));
    await assert.rejects(run(["reset", g.uuid], {}), /no terminal to confirm on; give --yes/);
    const done0 = nps[1].counters.domainActionsDone;
    assert.equal(nps[1].counters.domainActionsDone, done0, "nothing sent unconfirmed");
    // hv1 and hv2 both have guests named like the fixture's: a name held twice needs the UUID
    const twice = await run(["reset", g.name], { yes: true });
    assert.deepEqual([twice.code, /2 guests are named/.test(twice.stderr)], [1, true], twice.stderr);
    const ok = await run(["suspend", g.uuid], { yes: true, reason: "cli test" });
    assert.deepEqual([ok.code, ok.stdout], [0, `${g.name} on hv2: suspend done, now paused\n`], ok.stderr);
    const back = await run(["resume", g.uuid], { yes: true }, async () => { throw new Error("--yes must not ask"); });
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await stateOn(nps[1], g.uuid), "running");
    await assert.rejects(run(["explode", g.uuid], { yes: true }), /give one of reboot, shutdown, reset, destroy, start, suspend, resume/);
  });

  it("in the console: an operator suspends a guest from its page after confirming (cancel sends nothing); a viewer gets no actions", async () => {
    const g = guestOn("hv2");
    const WAIT = { timeout: 20_000 };
    const signIn = async (user: string, password: string) => {
      const context = await newContext();
      const page = await context.newPage();
      await signInThroughForm(page, url, { user, password });
      await page.goto(`${url}/console/#/host/hv2/guest/${g.uuid}`);
      await page.locator("#guest-facts").filter({ hasText: "state running" }).waitFor(WAIT);
      return { context, page };
    };
    const done0 = nps[1].counters.domainActionsDone;
    const { context, page } = await signIn("olga", "olga's long enough password");
    try {
      await page.click("#guest-actions button[data-action=suspend]");
      await page.locator("#guest-action-confirm").filter({ hasText: `suspend ${g.name}` }).waitFor(WAIT);
      await page.click("#guest-action-confirm .confirm-no");
      assert.equal(nps[1].counters.domainActionsDone, done0, "a cancelled action sends nothing");
      await page.fill("#guest-action-reason", "console test");
      await page.click("#guest-actions button[data-action=suspend]");
      await page.click("#guest-action-confirm .confirm-yes");
      await page.locator("#guest-action-result[data-state=paused]").filter({ hasText: "suspend done on hv2: now paused" }).waitFor(WAIT);
      assert.equal(await stateOn(nps[1], g.uuid), "paused");
      await page.locator("#guest-facts").filter({ hasText: "state paused" }).waitFor(WAIT); // the page re-read the inventory
      await page.screenshot({ path: screenshotPath("console-guest-actions") });
      await page.click("#guest-actions button[data-action=resume]");
      await page.click("#guest-action-confirm .confirm-yes");
      await page.locator("#guest-action-result[data-state=running]").waitFor(WAIT);
      const last = cma.audit.list({ action: "domainAction", limit: 2 });
      assert.deepEqual(last.map((e) => [e.actor, e.via, (e.detail as { action: string }).action, e.outcome]), [["olga", "session", "resume", "ok"], ["olga", "session", "suspend", "ok"]]);
      assert.equal((last[1].detail as { reason: string }).reason, "console test");
    } finally {
      await context.close();
    }
    const viewer = await signIn("vera", "vera's long enough password");
    try {
      assert.equal(await viewer.page.locator("#guest-actions").count(), 0, "no actions for a viewer");
    } finally {
      await viewer.context.close();
    }
  });

  it("refuses before sending anything: a viewer, an unknown guest or action, a guest whose host is in maintenance or dead", async () => {
    const g = guestOn("hv1");
    const hv1 = nps[0];
    const done0 = hv1.counters.domainActionsDone;
    assert.equal((await act(g.uuid, { action: "reset" }, viewer)).status, 403);
    const unknown = await act("00000000-0000-4000-8000-00000000beef", { action: "reset" });
    assert.deepEqual([unknown.status, (await unknown.json() as { error: string }).error], [404, "unknown-domain"]);
    assert.equal((await act(g.uuid, { action: "format" })).status, 400);
    assert.equal((await act(g.uuid, { action: "reset", extra: 1 })).status, 400);
    assert.equal((await act("not-a-uuid", { action: "reset" })).status, 400);

    cma.rings.control.startMaintenance("hv1", Date.now() + 3_600_000, "test: firmware");
    const m = await act(g.uuid, { action: "reset" });
    assert.deepEqual([m.status, (await m.json() as { error: string }).error], [409, "host-in-maintenance"]);
    cma.rings.control.endMaintenance("hv1");
    await waitUntil(() => cma.rings.membership.get("hv1")?.state === "alive", 10_000, "hv1 alive again");

    await hv1.stop(false); // dies without a goodbye: its ring neighbour reports it, the CMA confirms
    await waitUntil(() => cma.rings.membership.get("hv1")?.state === "dead", 30_000, "hv1 declared dead");
    const d = await act(g.uuid, { action: "reset" });
    assert.deepEqual([d.status, (await d.json() as { error: string }).error], [409, "host-not-alive"]);
    assert.equal(hv1.counters.domainActionsDone, done0, "nothing reached hv1");
    const outcomes = cma.audit.list({ action: "domainAction" }).filter((e) => e.outcome !== "ok").map((e) => (e.detail as { error?: string }).error);
    assert.deepEqual(outcomes.sort(), ["host-in-maintenance", "host-not-alive", "unknown-domain"]);
  });
});

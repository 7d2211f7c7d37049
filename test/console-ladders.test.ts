/**
 * The console's escalation ladders in a real browser (Debian's Chromium through playwright-core,
 * the shared browser of support/browser.ts): a CMA without a policy says so on #/ladders; a CMA
 * with a dry-run policy, a nanoprobe on libvirt's test driver and a real HTTP server standing for
 * the guests' services (support/ladder-cluster.ts, as test/ladder.test.ts) — a guest's service
 * fails, its ladder shows on the page with its steps (a dry-run reboot) and on the guest's page as
 * a banner; a second guest's reboot refused (its host in maintenance) shows the refusal's reason;
 * the first guest's service answers again and its ladder shows as ended, its banner gone.
 * The page refreshes every 300 ms here (the console's test hook), so no wait is for a refresh.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { AccessStore, Cma, cmaConfig } from "@ringwatch/cma";
import { Keyring, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { waitUntil } from "@ringwatch/shared/testing";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import type { Fixture } from "@ringwatch/libvirt/test-driver-fixture";
import { newContext, screenshotPath, signInThroughForm } from "./support/browser.js";
import { guestServices, ladderOf, startLadderCluster } from "./support/ladder-cluster.js";
import type { GuestServices, LadderCluster } from "./support/ladder-cluster.js";

const VIEWER = { user: "lena", password: "viewer password for the ladders page test" };
const WAIT = { timeout: 20_000 };

/** a data directory with the viewer in it */
async function dataDirWithViewer(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), "rw-console-ladders-"));
  await AccessStore.open(dataDir).addUser(VIEWER.user, "viewer", VIEWER.password);
  return dataDir;
}

/** a signed-in page that refreshes itself every 300 ms */
async function signedIn(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.addInitScript(() => { (globalThis as { __ringwatchRefreshMs?: number }).__ringwatchRefreshMs = 300; });
  await signInThroughForm(page, url, VIEWER);
  return page;
}

describe("console: the escalation ladders page and the guest page's banner in a real browser (Chromium, playwright-core)", function () {
  this.timeout(60_000);
  const keyring = new Keyring("consoleladders", makeClusterKey(randomBytes(32)));
  const keys = newKeyPair("ed25519");
  let context: BrowserContext;

  beforeEach(async () => { context = await newContext(); });
  afterEach(async () => { await context.close(); });

  it("without a policy the page says there is none and how to set one", async () => {
    const cma = await Cma.start(cmaConfig({ cluster: "consoleladders", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", historyStore: "none", dataDir: await dataDirWithViewer(), httpListen: "127.0.0.1:0", controlSocket: "off" }), {
      keyring, commandKey: keys.privateKey, log: silentLogger(),
    });
    try {
      const page = await signedIn(context, cma.http!.url);
      await page.click("#nav-ladders");
      await page.locator("#ladders-no-policy").filter({ hasText: "No ladder policy is configured" }).waitFor(WAIT);
      assert.match(await page.locator("#page").innerText(), /set actionPolicyFile/);
      assert.equal(await page.locator("#ladders").count(), 0, "no table of ladders");
    } finally {
      await cma.stop();
    }
  });

  describe("with a dry-run policy", () => {
    let fx: Fixture, services: GuestServices, cluster: LadderCluster, url: string;
    let web: { uuid: string; name: string }, app: { uuid: string; name: string };

    before(async () => {
      fx = writeFixture(4);
      [web, app] = fx.domains.filter((d) => d.state === "running");
      services = await guestServices();
      cluster = await startLadderCluster({
        cluster: "consoleladders", keyring, commandKey: keys.privateKey, cmaPublicKey: keys.publicKey, fx, guests: [web, app], services, http: true, dataDir: await dataDirWithViewer(),
        policy: { mode: "dry-run", default: ["notify", { wait: "500ms" }, "reboot", { wait: "1h" }, "escalate"], guests: { [app.name]: ["reboot", { wait: "1h" }, "escalate"] } },
      });
      url = cluster.cma.http!.url;
    });
    after(async () => {
      await cluster?.stopAll();
      await services?.close();
      fx?.cleanup();
    });

    it("an unhealthy guest's ladder shows with its steps, and as a banner on its page; a refusal shows its reason; healthy again, it shows as ended", async () => {
      const { cma } = cluster;
      services.status.set(web.name, 503);
      const page = await signedIn(context, url);
      await page.click("#nav-ladders");
      const webHistory = page.locator(`section.ladder-history[data-uuid="${web.uuid}"]`);
      await webHistory.locator("tbody tr").filter({ hasText: "reboot" }).waitFor(WAIT);
      const row = page.locator(`#ladders tbody tr[data-uuid="${web.uuid}"]`);
      await row.filter({ hasText: "wait 1 h" }).waitFor(WAIT); // past the dry-run reboot, in the hour's wait
      const cells = await row.locator("td").allInnerTexts();
      assert.equal(cells[0], web.name, "the guest");
      assert.equal(cells[1], "hv1", "its hypervisor");
      assert.equal(cells[2], "asked", "level: the guest was asked (a reboot)");
      assert.equal(cells[3], "wait 1 h", "the step it is at");
      assert.match(cells[4], /^escalate, in (60|59) min$/, "the next step and when");
      assert.equal(cells[6], "dry run");
      assert.equal(await row.locator(`a[href="#/host/hv1/guest/${web.uuid}"]`).count(), 1, "the guest links to its page");
      assert.equal(await page.locator("#ladders-dry-run").count(), 1, "the page says the mode is dry-run");
      const steps = (await webHistory.locator("tbody tr").allInnerTexts()).map((r) => r.split("\t").slice(1, 4));
      assert.deepEqual(steps, [["notify", "ok", "unhealthy: no webhook configured (the audit log and the guest's Zabbix problem carry it)"], ["reboot", "dry-run", `would reboot ${web.name} on hv1`]]);

      // the guest's page: the banner, with a link back
      await row.locator("a").first().click();
      const banner = page.locator("#guest-ladder");
      await banner.waitFor(WAIT);
      assert.match(await banner.innerText(), /^Escalation ladder under way: asked · at wait 1 h · next: escalate, in (60|59) min · dry run · see the ladders$/);
      assert.equal(await banner.locator('a[href="#/ladders"]').count(), 1);
      await page.screenshot({ path: screenshotPath("console-guest-ladder") });

      // a second guest's reboot refused: its host is in maintenance
      cma.rings.control.startMaintenance("hv1", Date.now() + 3_600_000, "test: storage work");
      services.status.set(app.name, 503);
      await page.click("#nav-ladders");
      const refused = page.locator(`section.ladder-history[data-uuid="${app.uuid}"] tbody tr`).filter({ hasText: "refused" });
      await refused.waitFor(WAIT);
      assert.match(await refused.innerText(), /reboot\trefused\thost-in-maintenance: \S/, "the refusal's reason");
      assert.equal(await page.locator(`#ladders tbody tr[data-uuid="${app.uuid}"] td`).nth(2).innerText(), "asked", "a refused reboot still counts as asked");
      await page.screenshot({ path: screenshotPath("console-ladders"), fullPage: true });
      cma.rings.control.endMaintenance("hv1");

      // healthy again: ended on the page, the banner gone from the guest's page
      services.status.set(web.name, 200);
      await waitUntil(() => ladderOf(cma, web.uuid)?.status === "ended", 15_000, "web healthy again");
      await row.filter({ has: page.locator("td", { hasText: /^ended$/ }) }).waitFor(WAIT);
      assert.equal(await row.getAttribute("data-status"), "ended");
      assert.match(await webHistory.locator("tbody tr").last().innerText(), /\tend\tended\thealthy again$/);
      await page.goto(`${url}/console/#/host/hv1/guest/${web.uuid}`);
      await page.locator("#guest-facts").filter({ hasText: `uuid ${web.uuid}` }).waitFor(WAIT);
      await banner.waitFor({ state: "detached", ...WAIT });
      services.status.set(app.name, 200);
    });
  });
});

/**
 * The console's host keys page (#/host-keys) in a real browser (Chromium through playwright-core)
 * against a real CMA started in-process in approve mode. A host announcing over real UDP with its
 * own key waits, pending (listed first); the admin approves it in the page and it is admitted at
 * its next announcement; revoked in the page (confirmed first), it is shown revoked on the fleet page.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { AccessStore, Cma, cmaConfig } from "@ringwatch/cma";
import { Endpoint, Keyring, encodeEnvelope, generateHostKeys, makeAnnounceProof, makeClusterKey, silentLogger } from "@ringwatch/shared";
import { newContext, screenshotPath, signInThroughForm } from "./support/browser.js";

const ADMIN = { user: "hilda", password: "admin password for the host keys page test" };
const WAIT = { timeout: 20_000 };
const CLUSTER = "consolehostkeys";

describe("console host keys page in a real browser (Chromium, playwright-core)", function () {
  this.timeout(60_000);
  let cma: Cma;
  let host: Endpoint;
  let announcing: NodeJS.Timeout | undefined;
  let context: BrowserContext | undefined;
  const keyring = new Keyring(CLUSTER, makeClusterKey(randomBytes(32)));

  before(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-console-hostkeys-"));
    await AccessStore.open(dataDir).addUser(ADMIN.user, "admin", ADMIN.password);
    cma = await Cma.start(cmaConfig({ cluster: CLUSTER, bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", historyStore: "none", dataDir, httpListen: "127.0.0.1:0", controlSocket: "off", hostKeyPolicy: "approve" }), {
      keyring, commandKey: generateKeyPairSync("ed25519").privateKey, log: silentLogger(),
    });
    // a host with its own key, announcing every 200 ms as a nanoprobe does until it is answered
    const keys = generateHostKeys();
    host = await Endpoint.open({ identity: "hv7", keyring, bindAddress: "127.0.0.7", port: 0, log: silentLogger() });
    const to = { address: "127.0.0.1", port: cma.endpoint.address().port };
    const announce = (): void => host.sendDatagram(to, encodeEnvelope({ announce: {
      host: { name: "hv7", machineId: "m7", addresses: ["127.0.0.7"] }, version: "test", startedAtMs: host.session.startMs, port: host.address().port, neighbours: [],
      proof: makeAnnounceProof({ cluster: CLUSTER, host: "hv7", session: host.session }, keys),
    } }));
    announce();
    announcing = setInterval(announce, 200);
  });

  after(async () => {
    clearInterval(announcing);
    await context?.close();
    await host?.close();
    await cma?.stop();
  });

  it("a pending host is listed first; approved in the page it joins; revoked in the page (confirmed) it is shown revoked", async () => {
    context = await newContext();
    const page = await context.newPage();
    await signInThroughForm(page, cma.http!.url, ADMIN);
    assert.equal(await page.locator("#nav-host-keys").isVisible(), true, "admins see the host keys link");
    await page.click("#nav-host-keys");
    const row = page.locator("#host-keys tbody tr[data-host=hv7]");
    await row.locator(".pin-pending").waitFor(WAIT);
    assert.equal(await page.locator("#host-keys-policy").innerText(), "admission policy: approve");
    assert.equal(cma.rings.membership.get("hv7"), undefined, "not a member while pending");
    await page.screenshot({ path: screenshotPath("console-host-keys"), fullPage: true });

    await row.locator(".host-key-approve").click();
    await page.locator("#host-keys-note").filter({ hasText: "hv7: key approved" }).waitFor(WAIT);
    await row.locator(".pin-pinned").waitFor(WAIT);
    await waitUntil(() => cma.rings.membership.get("hv7")?.state === "alive", "hv7 admitted after the approval");

    await row.locator(".host-key-revoke").click();
    await page.locator("#host-keys-confirm").filter({ hasText: "Revoke the key of hv7" }).waitFor(WAIT);
    assert.equal(cma.admission.list()[0]!.state, "pinned", "nothing revoked before the confirmation");
    await page.click("#host-keys-confirm .confirm-yes");
    await row.locator(".pin-revoked").waitFor(WAIT);
    assert.equal(cma.rings.membership.get("hv7")?.revoked, true);
    await page.click("text=Fleet");
    await page.locator("a[href='#/host/hv7'] + .revoked").filter({ hasText: "key revoked" }).waitFor(WAIT);
  });
});

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The console's host keys page (#/host-keys) in a real browser (Chromium through playwright-core)
 * against a real CMA started in-process in approve mode. A host announcing over real UDP with its
 * own key waits, pending (listed first); the admin approves it in the page and it is admitted at
 * its next announcement; revoked in the page (confirmed first), it is shown revoked on the fleet page.
 * An enrollment token made in the page is shown once; a host announcing with its proof is admitted
 * at once (no approval) and the enrollment shown used; another one is cancelled in the page.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { AccessStore, Cma, cmaConfig } from "@ringwatch/cma";
import { Endpoint, Keyring, decodeEnvelope, encodeEnvelope, generateHostKeys, makeAnnounceProof, makeClusterKey, makeEnrollmentProof, silentLogger, newKeyPair } from "@ringwatch/shared";
import { newContext, screenshotPath, signInThroughForm } from "./support/browser.js";

const ADMIN = { user: "hilda", password: "admin password for the host keys page test" };
const WAIT = { timeout: 20_000 };
const CLUSTER = "consolehostkeys";

describe("console host keys page in a real browser (Chromium, playwright-core)", function () {
  this.timeout(60_000);
  let cma: Cma;
  let host: Endpoint;
  /** the host admitted by its enrollment token: open until the CMA stops, answering the CMA's probes as a nanoprobe does (a lone host is probed) */
  let hv8: Endpoint | undefined;
  let announcing: NodeJS.Timeout | undefined;
  let context: BrowserContext | undefined;
  const keyring = new Keyring(CLUSTER, makeClusterKey(randomBytes(32)));

  before(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-console-hostkeys-"));
    await AccessStore.open(dataDir).addUser(ADMIN.user, "admin", ADMIN.password);
    cma = await Cma.start(cmaConfig({ cluster: CLUSTER, bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", historyStore: "none", dataDir, httpListen: "127.0.0.1:0", controlSocket: "off", hostKeyPolicy: "approve" }), {
      keyring, commandKey: newKeyPair("ed25519").privateKey, log: silentLogger(),
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
    await hv8?.close();
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

  it("an enrollment token made in the page is shown once and admits its host at once; another is cancelled in the page", async () => {
    const page = await context!.newPage();
    await page.goto(`${cma.http!.url}/#/host-keys`);
    await page.locator("#enroll-create").waitFor(WAIT);
    await page.fill("#enroll-name", "hv8");
    await page.click("#enroll-create button[type=submit]");
    const token = (await page.locator("#enrollment-secret-value").innerText()).trim();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const row = page.locator("#enrollments tbody tr[data-host=hv8]");
    await row.locator(".enrollment-outstanding").waitFor(WAIT);
    assert.equal((await page.locator("#enrollments").innerText()).includes(token), false, "the list never holds the token");
    await page.click("#enrollment-secret-done");
    assert.equal(await page.locator("#enrollment-secret").isHidden(), true);

    const keys = generateHostKeys();
    hv8 = await Endpoint.open({ identity: "hv8", keyring, bindAddress: "127.0.0.8", port: 0, log: silentLogger() });
    hv8.on("message", (m) => {
      const probe = decodeEnvelope(m.payload).probe;
      if (probe && !m.reliable) hv8!.sendDatagram(m.from, encodeEnvelope({ probeReply: { nonce: probe.nonce } }));
    });
    hv8.sendDatagram({ address: "127.0.0.1", port: cma.endpoint.address().port }, encodeEnvelope({ announce: {
      host: { name: "hv8", machineId: "m8", addresses: ["127.0.0.8"] }, version: "test", startedAtMs: hv8.session.startMs, port: hv8.address().port, neighbours: [],
      proof: makeAnnounceProof({ cluster: CLUSTER, host: "hv8", session: hv8.session }, keys),
      enrollmentProof: makeEnrollmentProof(token, { cluster: CLUSTER, host: "hv8", identityPublic: keys.identityPublic }),
    } }));
    await waitUntil(() => cma.rings.membership.get("hv8") !== undefined, "hv8 admitted by its token, without approval");
    await page.reload(); // the page re-reads its lists
    await page.locator("#host-keys tbody tr[data-host=hv8] .pin-pinned").waitFor(WAIT);
    await row.locator(".enrollment-used").waitFor(WAIT);

    await page.fill("#enroll-name", "hv9");
    await page.click("#enroll-create button[type=submit]");
    const hv9 = page.locator("#enrollments tbody tr[data-host=hv9]");
    await hv9.locator(".enrollment-cancel").click();
    await page.locator("#host-keys-confirm").filter({ hasText: "Cancel the enrollment of hv9" }).waitFor(WAIT);
    await page.click("#host-keys-confirm .confirm-yes");
    await page.locator("#host-keys-note").filter({ hasText: "hv9: enrollment cancelled" }).waitFor(WAIT);
    await hv9.waitFor({ state: "detached", ...WAIT });
    assert.equal(await page.locator("#enrollment-secret").isHidden(), true, "its token is no longer shown");
    assert.equal(await row.locator(".enrollment-cancel").count(), 0, "a used enrollment has nothing to cancel");
    await page.screenshot({ path: screenshotPath("console-host-keys-enroll"), fullPage: true });
  });
});

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

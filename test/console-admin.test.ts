/**
 * The console's admin pages and the account page in a real browser (Debian's Chromium through
 * playwright-core, the shared browser of support/browser.ts) against a real CMA started
 * in-process, its users made offline in its data directory. Its own CMA and user names: the
 * rate-limit test of console-browser.test.ts cannot lock anybody here out, and this file signs in
 * with a wrong password only where that is what it checks.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { AccessStore, Cma, cmaConfig } from "@ringwatch/cma";
import { Keyring, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { newContext, screenshotPath, signInThroughForm } from "./support/browser.js";

const ADMIN = { user: "adele", password: "admin password for the admin pages test" };
const VIEWER = { user: "vince", password: "viewer password for the admin pages test" };
const PAULA = { user: "paula", password: "paula's first password, long enough" };
const WAIT = { timeout: 20_000 };

const signIn = signInThroughForm;

/** a fetch from the page itself: its session cookie, and for writes the CSRF token a GET /api/session gives */
const pageFetch = (page: Page, path: string): Promise<number> => page.evaluate(async (p) => (await fetch(p)).status, path);

describe("console admin pages and account in a real browser (Chromium, playwright-core)", function () {
  this.timeout(120_000);
  let cma: Cma;
  let url: string;
  const contexts: BrowserContext[] = [];
  const context = async (): Promise<BrowserContext> => {
    const c = await newContext();
    contexts.push(c);
    return c;
  };

  before(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-console-admin-"));
    const access = AccessStore.open(dataDir);
    await access.addUser(ADMIN.user, "admin", ADMIN.password);
    await access.addUser(VIEWER.user, "viewer", VIEWER.password);
    await access.addUser(PAULA.user, "operator", PAULA.password);
    cma = await Cma.start(cmaConfig({ cluster: "consoleadmintest", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", dataDir, httpListen: "127.0.0.1:0", controlSocket: "off" }), {
      keyring: new Keyring("consoleadmintest", makeClusterKey(randomBytes(32))), commandKey: newKeyPair("ed25519").privateKey, log: silentLogger(),
    });
    url = cma.http!.url;
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });

  after(async () => {
    await cma?.stop();
  });

  it("an admin adds an operator through the page (the two passwords must match first), who then signs in in another browser; setting their password, then deleting them (confirmed in the page), ends their session", async () => {
    const page = await (await context()).newPage();
    await signIn(page, url, ADMIN);
    assert.equal(await page.locator("#nav-users").isVisible(), true, "admins see the users link");
    await page.click("#nav-users");
    await page.locator(`#users tbody tr[data-user=${ADMIN.user}]`).waitFor(WAIT);
    const password = "oscar's password, long enough";
    await page.fill("#user-add-name", "oscar");
    await page.selectOption("#user-add-role", "operator");
    await page.fill("#user-add-password", password);
    await page.fill("#user-add-repeat", `${password} typo`);
    await page.click("#user-add button[type=submit]");
    await page.locator("#users-error").filter({ hasText: "do not match" }).waitFor(WAIT);
    assert.equal(cma.access!.user("oscar"), undefined, "nothing sent while the two differ");
    await page.fill("#user-add-password", "short");
    await page.fill("#user-add-repeat", "short");
    await page.click("#user-add button[type=submit]");
    await page.locator("#users-error").filter({ hasText: "bad-password: a password needs at least 12 characters" }).waitFor(WAIT);
    await page.fill("#user-add-password", password);
    await page.fill("#user-add-repeat", password);
    await page.click("#user-add button[type=submit]");
    const row = page.locator("#users tbody tr[data-user=oscar]");
    await row.waitFor(WAIT);
    assert.deepEqual((await row.locator("td").allInnerTexts()).slice(0, 2), ["oscar", "operator"]);
    assert.equal(await page.locator("#users-error").innerText(), "");
    assert.equal(cma.access!.user("oscar")?.role, "operator");

    const other = await (await context()).newPage();
    await signIn(other, url, { user: "oscar", password });
    assert.equal(await other.locator("#whoami").innerText(), "oscar (operator)");
    assert.equal(await other.locator("#nav-users").isVisible(), false, "an operator gets no users link");
    assert.equal(await pageFetch(other, "/api/hosts"), 200);

    await page.locator("#tokens-list table").waitFor(WAIT);
    await page.screenshot({ path: screenshotPath("console-users"), fullPage: true });

    const second = "oscar's second password, set by the admin";
    await row.locator(".user-set-password").click();
    await page.locator("#user-password-form").filter({ hasText: "new password for oscar" }).waitFor(WAIT);
    await page.fill("#user-password-password", second);
    await page.fill("#user-password-repeat", second);
    await page.click("#user-password-form button[type=submit]");
    await page.locator("#users-note").filter({ hasText: "password of oscar set" }).waitFor(WAIT);
    assert.equal(await pageFetch(other, "/api/hosts"), 401, "oscar's session ended with the new password");
    await signIn(other, url, { user: "oscar", password: second });

    await row.locator(".user-delete").click();
    await page.locator("#users-confirm").filter({ hasText: "Delete user oscar" }).waitFor(WAIT);
    assert.ok(cma.access!.user("oscar"), "nothing deleted before the confirmation");
    await page.click("#users-confirm .confirm-yes");
    await page.locator("#users tbody tr[data-user=oscar]").waitFor({ state: "detached", ...WAIT });
    assert.equal(cma.access!.user("oscar"), undefined);
    assert.equal(await pageFetch(other, "/api/hosts"), 401, "their session ended");
  });

  it("a page asked for while the previous one still loads is not painted over when the previous one's answers arrive", async () => {
    const page = await (await context()).newPage();
    let held = 0;
    // the fleet overview (shown on signing in) answers late: its render finishes after the users page's
    await page.route("**/api/hosts", async (r) => { held++; await new Promise((res) => setTimeout(res, 1_500)); await r.continue(); });
    await signIn(page, url, ADMIN); // returns on #whoami, set before the overview has its answers
    await page.evaluate("location.hash = '#/users'");
    await page.locator("#token-create").waitFor(WAIT);
    await page.waitForTimeout(2_500); // the overview's late answers have arrived by now
    assert.ok(held >= 1, "the overview did ask for /api/hosts");
    assert.equal(await page.locator("#token-create").isVisible(), true, "the users page is still shown");
    assert.equal(await page.locator("#state-counts").count(), 0, "the late overview was not shown over it");
  });

  it("an admin creates a token: its secret is shown once and works as 'Authorization: Bearer'; revoked in the page (confirmed), the same call gets 401", async () => {
    const page = await (await context()).newPage();
    await signIn(page, url, ADMIN);
    await page.goto(`${url}/console/#/users`);
    await page.locator("#token-create").waitFor(WAIT);
    await page.fill("#token-name", "ci script");
    await page.selectOption("#token-role", "viewer");
    await page.selectOption("#token-expiry", "until a date…");
    await page.click("#token-create button[type=submit]");
    await page.locator("#tokens-error").filter({ hasText: "choose the expiry date and time" }).waitFor(WAIT);
    await page.fill("#token-expiry-date", "2020-01-01T00:00");
    await page.click("#token-create button[type=submit]");
    await page.locator("#tokens-error").filter({ hasText: "bad-expiry: the expiry is not in the future" }).waitFor(WAIT);
    assert.equal(cma.access!.tokens().length, 0, "neither was made");
    await page.selectOption("#token-expiry", "30 days");
    await page.click("#token-create button[type=submit]");
    const shown = page.locator("#token-secret-value");
    await shown.waitFor(WAIT);
    const token = await shown.innerText();
    assert.match(token, /^rwt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.match(await page.locator("#token-secret").innerText(), /cannot be shown again/);
    const id = token.split("_")[1];
    const row = page.locator(`#tokens tbody tr[data-token="${id}"]`);
    await row.waitFor(WAIT);
    assert.equal(await row.getAttribute("data-state"), "active");
    const cells = await row.locator("td").allInnerTexts();
    assert.deepEqual([cells[0], cells[1], cells[2], cells[4]], [id, "ci script", "viewer", ADMIN.user]);
    const expires = cma.access!.tokens().find((t) => t.id === id)!.expiresAt!;
    assert.ok(Math.abs(expires - (Date.now() + 30 * 86_400_000)) < 120_000, `expires in 30 days: ${new Date(expires).toISOString()}`);
    assert.ok(!(await page.locator("#tokens").innerText()).includes(token.slice(-43)), "the list never holds the secret");

    const hosts = () => fetch(`${url}/api/hosts`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await hosts()).status, 200, "the shown token works");
    await page.screenshot({ path: screenshotPath("console-token-created"), fullPage: true });

    await row.locator(".token-revoke").click();
    await page.locator("#tokens-confirm").filter({ hasText: `Revoke token ${id}` }).waitFor(WAIT);
    assert.equal((await hosts()).status, 200, "nothing revoked before the confirmation");
    await page.click("#tokens-confirm .confirm-yes");
    await page.locator(`#tokens tbody tr[data-token="${id}"][data-state=revoked]`).waitFor(WAIT);
    const refused = await hosts();
    assert.equal(refused.status, 401);
    assert.match(((await refused.json()) as { message: string }).message, /revoked/);
    assert.equal(await page.locator("#tokens-error").innerText(), "");
  });

  it("a viewer going to #/users sees 'admins only' and no user table; GET /api/users with the viewer's session is 403", async () => {
    const page = await (await context()).newPage();
    await signIn(page, url, VIEWER);
    assert.equal(await page.locator("#nav-users").isVisible(), false, "no users link for a viewer");
    assert.equal(await page.locator("#nav-account").isVisible(), true, "the account link is for everybody");
    await page.goto(`${url}/console/#/users`);
    await page.locator("#admins-only").waitFor(WAIT);
    assert.equal(await page.locator("#users").count(), 0, "no user table");
    assert.equal(await page.locator("#tokens").count(), 0, "no token table");
    assert.equal(await pageFetch(page, "/api/users"), 403);
    assert.equal(await pageFetch(page, "/api/tokens"), 403);
  });

  it("a user changes their own password on #/account: their other session is signed out; after signing out the old password fails and the new one works", async () => {
    const elsewhere = await (await context()).newPage();
    await signIn(elsewhere, url, PAULA);
    const page = await (await context()).newPage();
    await signIn(page, url, PAULA);
    await page.click("#nav-account");
    await page.locator("#password-change").waitFor(WAIT);
    assert.match(await page.locator("#account-who").innerText(), /Signed in as paula \(operator\)/);
    const fresh = "paula's second password, long enough";
    await page.fill("#account-current", PAULA.password);
    await page.fill("#account-new-password", fresh);
    await page.fill("#account-new-repeat", fresh);
    await page.click("#password-change button[type=submit]");
    await page.locator("#account-note").filter({ hasText: "password changed" }).waitFor(WAIT);
    assert.equal(await page.locator("#account-error").innerText(), "");
    assert.equal(await pageFetch(page, "/api/hosts"), 200, "this session goes on");
    assert.equal(await pageFetch(elsewhere, "/api/hosts"), 401, "the other one was signed out");
    const audited = cma.audit.list({ action: "passwordChange" });
    assert.deepEqual(audited.map((e) => [e.actor, e.target, e.outcome]), [[PAULA.user, PAULA.user, "ok"]]);
    await page.screenshot({ path: screenshotPath("console-account"), fullPage: true });

    await page.click("#sign-out"); // a write: it works only with the CSRF token the change answered
    await page.locator("#sign-in").waitFor({ state: "visible", ...WAIT });
    assert.equal(await page.locator("#sign-in-error").innerText(), "signed out");
    assert.equal(await pageFetch(page, "/api/hosts"), 401, "the sign-out was accepted (its CSRF token was the renewed one)");
    await page.fill("#sign-in-user", PAULA.user);
    await page.fill("#sign-in-password", PAULA.password);
    await page.click("#sign-in button[type=submit]");
    await page.locator("#sign-in-error").filter({ hasText: "wrong user name or password" }).waitFor(WAIT);
    await signIn(page, url, { user: PAULA.user, password: fresh });
    assert.equal(await page.locator("#whoami").innerText(), "paula (operator)");
  });
});

/**
 * ONE headless Chromium (Debian's, /usr/bin/chromium, driven by playwright-core, which never
 * downloads a browser) shared by every browser test in the mocha process: launched on first use,
 * closed by the root hook below when mocha ends (.mocharc.json requires this file; a single-file
 * run passes `--require test/dist/support/browser.js`). Each test gets its own context (cookies).
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import type { Browser, BrowserContext, Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
/** where tests put their screenshots (gitignored) */
export const SCREENSHOTS = fileURLToPath(new URL("../../output/", import.meta.url));

let launching: Promise<Browser> | undefined;

export function browser(): Promise<Browser> {
  launching ??= chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
  return launching;
}

/** a fresh context (its own cookies) in the shared browser */
export async function newContext(): Promise<BrowserContext> {
  return (await browser()).newContext({ viewport: { width: 1280, height: 900 } });
}

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return `${SCREENSHOTS}${name}.png`;
}

export async function closeBrowser(): Promise<void> {
  const b = launching;
  launching = undefined;
  if (b) await (await b).close();
}

/** mocha root hook plugin: the shared browser closes once every test file has run */
export const mochaHooks = {
  async afterAll(): Promise<void> {
    await closeBrowser();
  },
};

/** Signs in through the console's own form, as a person would, and waits for the header to name the user. */
export async function signInThroughForm(page: Page, url: string, who: { user: string; password: string }, timeout = 20_000): Promise<void> {
  await page.goto(`${url}/console/`);
  await page.locator("#sign-in").waitFor({ state: "visible", timeout });
  await page.fill("#sign-in-user", who.user);
  await page.fill("#sign-in-password", who.password);
  await page.click("#sign-in button[type=submit]");
  await page.locator("#whoami").filter({ hasText: who.user }).waitFor({ timeout });
}

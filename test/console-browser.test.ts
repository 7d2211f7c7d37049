/**
 * The operator console in a real browser (Debian's Chromium through playwright-core, one browser
 * shared by every test: support/browser.ts) against a real CMA started in-process with its HTTP
 * API, history store and users made offline in its data directory. Stats batches go through the
 * shared encoder into cma.stats.apply, so every raw sample a chart stands for is known.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page, Request } from "playwright-core";
import { AccessStore, Cma, cmaConfig } from "@ringwatch/cma";
import { Keyring, StatsBatchSender, compactSamples, makeClusterKey, metricKind, silentLogger, newKeyPair } from "@ringwatch/shared";
import { newContext, screenshotPath, signInThroughForm } from "./support/browser.js";

const MIN = 60_000;
const GUEST = "0b6f7c1e-2d3a-4b5c-9d8e-7f6a5b4c3d2e";
const HOST = "hv-console-1";
const CPU_CHART = `${GUEST}/cpu`;
const ADMIN = { user: "ada", password: "admin password for the console test" };
const VIEWER = { user: "vic", password: "viewer password for the console test" };
const OPERATOR = { user: "otto", password: "operator password for the console test" };
const WAIT = { timeout: 20_000 };

interface Row { t: number; count: number; min: number; avg: number; max: number }
interface Plotted { from: number; to: number; rows: Row[]; markers: { t: number; kind: string; change: string }[] }
/** the page's global object as the console sets it (this project compiles without the DOM library) */
type ConsoleWindow = { __ringwatchCharts?: Record<string, Plotted> };

/** twenty report intervals of a guest's CPU (per-mille quanta: 250 = 0.25 CPU) and memory, ending ten minutes ago */
const T0 = Math.floor(Date.now() / MIN) * MIN - 30 * MIN;
const INTERVALS = Array.from({ length: 20 }, (_, i) => ({
  start: T0 + i * MIN,
  cpu: [100 + ((i * 37) % 400), 900 + ((i * 53) % 700), 400 + i * 10, 150 + ((i * 71) % 300)],
  rss: [2_000_000 + i * 1000, 2_000_500 + i * 1000],
  // each vCPU's steal (vcpu.N.delay, per-mille of a CPU spent waiting for a physical one)
  steal0: [i * 3, i * 5],
  steal1: [40 + i, 90 + ((i * 13) % 50)],
}));
/** a vCPU abuse alert on the guest raised and cleared inside the charted intervals */
const RAISED_AT = T0 + 5 * MIN + 30_000, CLEARED_AT = T0 + 12 * MIN + 15_000;

function batch(tx: StatsBatchSender, start: number, samples: Record<string, number[]>): Uint8Array {
  const series = Object.entries(samples).map(([metric, xs]) => ({ domain: GUEST, metric, kind: metricKind(metric), data: compactSamples(xs, start, start + 1000 * (xs.length - 1)) }));
  tx.add({ intervalStart: start, intervalMs: MIN, series });
  return tx.drain()[0].bytes;
}

const signIn = signInThroughForm;

const plotted = (page: Page, id: string): Promise<Plotted | undefined> => page.evaluate((i) => (globalThis as unknown as ConsoleWindow).__ringwatchCharts?.[i], id) as Promise<Plotted | undefined>;


describe("console in a real browser (Chromium, playwright-core)", function () {
  this.timeout(120_000);
  let cma: Cma;
  let url: string;

  before(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-console-"));
    const access = AccessStore.open(dataDir);
    await access.addUser(ADMIN.user, "admin", ADMIN.password);
    await access.addUser(VIEWER.user, "viewer", VIEWER.password);
    await access.addUser(OPERATOR.user, "operator", OPERATOR.password);
    cma = await Cma.start(cmaConfig({ cluster: "consoletest", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", dataDir, httpListen: "127.0.0.1:0" }), {
      keyring: new Keyring("consoletest", makeClusterKey(randomBytes(32))), commandKey: newKeyPair("ed25519").privateKey, log: silentLogger(),
    });
    url = cma.http!.url;
    const tx = new StatsBatchSender();
    for (const iv of INTERVALS) assert.equal(cma.stats.apply(HOST, batch(tx, iv.start, { cpu: iv.cpu, "balloon.rss": iv.rss, "vcpu.0.delay": iv.steal0, "vcpu.1.delay": iv.steal1 })), true);
    // the guest as the nanoprobe's inventory would name it
    assert.equal(cma.inventory.apply(HOST, { full: true, removed: [], atMs: Date.now(), domains: [{ uuid: GUEST, name: "miner", state: "running", vcpus: 2, memoryKib: 2 << 20, disks: [], nics: [] }] }), true);
    for (const [active, atMs] of [[true, RAISED_AT], [false, CLEARED_AT]] as const) {
      assert.equal(cma.alerts.apply(HOST, { kind: "vcpuAbuse", subject: GUEST, subjectName: "miner", active, evidenceJson: "{}", atMs }), true);
    }
  });

  after(async () => {
    await cma?.stop();
  });

  it("an admin signs in through the form, sees the fleet and the audit link, and the host page charts the raw samples' min/max", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await signIn(page, url, ADMIN);
      await page.locator("#state-counts").waitFor(WAIT);
      assert.equal(await page.locator("#nav-audit").isVisible(), true, "admins see the audit log link");
      await page.screenshot({ path: screenshotPath("console-overview"), fullPage: true });

      await page.goto(`${url}/console/#/host/${HOST}`);
      await page.waitForFunction((id) => ((globalThis as unknown as ConsoleWindow).__ringwatchCharts?.[id]?.rows.length ?? 0) > 0, CPU_CHART, WAIT);
      const chart = (await plotted(page, CPU_CHART))!;
      // each plotted bucket (1 min at this range: one report interval) spans exactly its samples
      for (const iv of INTERVALS) {
        const row = chart.rows.find((r) => r.t === iv.start);
        assert.ok(row, `a point at ${new Date(iv.start).toISOString()}`);
        assert.deepEqual([row.min, row.max], [Math.min(...iv.cpu) / 1000, Math.max(...iv.cpu) / 1000]);
      }
      // and over the whole interval charted, the band's extremes are the raw samples'
      const all = INTERVALS.flatMap((iv) => iv.cpu);
      assert.equal(Math.min(...chart.rows.map((r) => r.min)), Math.min(...all) / 1000);
      assert.equal(Math.max(...chart.rows.map((r) => r.max)), Math.max(...all) / 1000);
      await page.locator(".chart").first().scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshotPath("console-host"), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("a guest page charts each vCPU's steal from the raw samples, and marks the alert raised and cleared at their times", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await signIn(page, url, VIEWER);
      await page.goto(`${url}/console/#/host/${HOST}`);
      await page.locator(`#guests a[href$="/guest/${GUEST}"]`).click();
      await page.locator("#guest-facts").filter({ hasText: `state running · uuid ${GUEST}` }).waitFor(WAIT);
      for (const [n, key] of [[0, "steal0"], [1, "steal1"]] as const) {
        const id = `${GUEST}/vcpu.${n}.delay`;
        await page.waitForFunction((i) => ((globalThis as unknown as ConsoleWindow).__ringwatchCharts?.[i]?.rows.length ?? 0) > 0, id, WAIT);
        const chart = (await plotted(page, id))!;
        for (const iv of INTERVALS) {
          const row = chart.rows.find((r) => r.t === iv.start);
          assert.deepEqual(row && [row.min, row.max], [Math.min(...iv[key]) / 1000, Math.max(...iv[key]) / 1000], `vCPU ${n} at ${new Date(iv.start).toISOString()}`);
        }
      }
      assert.equal(new URL(page.url()).hash, `#/host/${HOST}/guest/${GUEST}`);
      assert.deepEqual(await page.locator("figure.chart figcaption strong").allInnerTexts(), ["CPU", "vCPU 0 steal (waiting for a physical CPU)", "vCPU 1 steal (waiting for a physical CPU)", "memory in use (RSS)"]);
      const markers = (await plotted(page, CPU_CHART))!.markers;
      assert.deepEqual(markers.map((m) => [m.t, m.kind, m.change]), [[RAISED_AT, "vcpuAbuse", "raised"], [CLEARED_AT, "vcpuAbuse", "cleared"]]);
      assert.equal(await page.locator(`[data-chart="${CPU_CHART}"] .marker-raised`).count(), 1);
      await page.screenshot({ path: screenshotPath("console-guest") }); // the viewport: docs/console-guest.png is this one
    } finally {
      await context.close();
    }
  });

  it("dragging across a chart zooms it and asks /api/series/batch for the dragged from/to", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      // no refresh during the test: the request for the zoomed range can only be the zoom's own
      await page.addInitScript(() => { (globalThis as { __ringwatchRefreshMs?: number }).__ringwatchRefreshMs = 3_600_000; });
      await signIn(page, url, ADMIN);
      await page.goto(`${url}/console/#/host/${HOST}`);
      await page.waitForFunction((id) => ((globalThis as unknown as ConsoleWindow).__ringwatchCharts?.[id]?.rows.length ?? 0) > 0, CPU_CHART, WAIT);
      const before = (await plotted(page, CPU_CHART))!;
      const asked: URL[] = [];
      page.on("request", (r: Request) => {
        const u = new URL(r.url());
        if (u.pathname === "/api/series/batch" && u.searchParams.getAll("series").includes(CPU_CHART)) asked.push(u);
      });
      const over = page.locator(`[data-chart="${CPU_CHART}"] .u-over`);
      const box = (await over.boundingBox())!;
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + box.width * 0.5, y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.7, y, { steps: 5 });
      await page.mouse.move(box.x + box.width * 0.9, y, { steps: 5 });
      await page.mouse.up();
      await page.waitForFunction(([id, span]) => { const c = (globalThis as unknown as ConsoleWindow).__ringwatchCharts?.[id as string]; return !!c && c.to - c.from < (span as number) * 0.6; }, [CPU_CHART, before.to - before.from] as const, WAIT);
      const after = (await plotted(page, CPU_CHART))!;
      assert.ok(after.from > before.from && after.to <= before.to, "the zoomed range lies within the one dragged on");
      assert.ok(asked.some((u) => u.searchParams.get("from") === String(after.from) && u.searchParams.get("to") === String(after.to)), `a /api/series/batch request for from=${after.from} to=${after.to} (asked: ${asked.map((u) => u.search).join(" ")})`);
    } finally {
      await context.close();
    }
  });

  it("a viewer sees no admin navigation, and its write through the API gets 403", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await signIn(page, url, VIEWER);
      await page.locator("#state-counts").waitFor(WAIT);
      assert.equal(await page.locator("#nav-audit").isVisible(), false, "no audit log link for a viewer");
      const status = await page.evaluate(async (host) => {
        const { csrfToken } = (await (await fetch("/api/session")).json()) as { csrfToken: string };
        const res = await fetch(`/api/hosts/${host}/maintenance`, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrfToken }, body: JSON.stringify({ until: Date.now() + 3_600_000, reason: "viewer tries" }) });
        return res.status;
      }, HOST);
      assert.equal(status, 403);
    } finally {
      await context.close();
    }
  });

  // before the rate-limit test: that one locks the admin's sign-in, and this one needs it
  it("an operator puts the host in maintenance through the form, the host and fleet pages show it, the admin's audit log names the operator; a viewer gets no form", async () => {
    // no nanoprobe runs in this test: the host is put into membership as its announcement would
    // (HostControl accepts maintenance only for a host it knows)
    const now = Date.now();
    cma.rings.membership.upsert({ name: HOST, machineId: "console-test", address: "127.0.0.9", port: 1984, segment: "default", state: "alive", since: now, joinedAt: now, version: "test", assignedKey: "", unconfirmed: false });
    const reason = "firmware update (console test)";
    const operator = await newContext();
    try {
      const page = await operator.newPage();
      await signIn(page, url, OPERATOR);
      await page.goto(`${url}/console/#/host/${HOST}`);
      await page.locator("#host-state[data-state=alive]").waitFor(WAIT);
      assert.equal(await page.locator("#host-remove").count(), 0, "removal is for admins only");
      await page.fill("#maintenance-until", "2h");
      await page.fill("#maintenance-reason", reason);
      await page.click("#maintenance-form button[type=submit]");
      await page.locator("#host-control-confirm").filter({ hasText: "in maintenance until" }).waitFor(WAIT);
      assert.equal(cma.rings.membership.get(HOST)?.state, "alive", "nothing is sent before the confirmation");
      await page.click("#confirm-yes");
      await page.locator("#host-state[data-state=maintenance]").filter({ hasText: reason }).waitFor(WAIT);
      assert.equal(await page.locator("#host-control-error").innerText(), "");
      const planned = cma.rings.membership.get(HOST)?.maintenance;
      assert.equal(planned?.reason, reason);
      assert.ok(planned!.until > now + 119 * MIN && planned!.until <= Date.now() + 120 * MIN, `until is 2 h from the click: ${new Date(planned!.until).toISOString()}`);
      assert.equal(await page.locator("#maintenance-end").isVisible(), true, "end maintenance is offered while in maintenance");
      await page.screenshot({ path: screenshotPath("console-maintenance"), fullPage: true });

      await page.goto(`${url}/console/#/`);
      await page.locator("#maintenance tbody tr").filter({ hasText: HOST }).filter({ hasText: reason }).waitFor(WAIT);
    } finally {
      await operator.close();
    }

    const admin = await newContext();
    try {
      const page = await admin.newPage();
      await signIn(page, url, ADMIN);
      await page.goto(`${url}/console/#/audit`);
      const row = page.locator("#audit tbody tr").filter({ hasText: "hostMaintenance" }).filter({ hasText: HOST });
      await row.first().waitFor(WAIT);
      const cells = await row.first().locator("td").allInnerTexts();
      // time, actor, via, from, action, target, outcome
      assert.deepEqual([cells[1], cells[4], cells[5], cells[6]], [OPERATOR.user, "hostMaintenance", HOST, "ok"]);
      assert.equal(await page.locator("#host-remove").count(), 0);
    } finally {
      await admin.close();
    }

    const viewer = await newContext();
    try {
      const page = await viewer.newPage();
      await signIn(page, url, VIEWER);
      await page.goto(`${url}/console/#/host/${HOST}`);
      await page.locator("#host-state[data-state=maintenance]").waitFor(WAIT);
      assert.equal(await page.locator("#maintenance-form").count(), 0, "no maintenance form for a viewer");
      assert.equal(await page.locator("#host-remove").count(), 0, "no removal for a viewer");
    } finally {
      await viewer.close();
    }
  });

  // after the maintenance test (the host is in maintenance), before the rate-limit test (it locks the admin out)
  it("an admin ends the maintenance, cancels a removal (nothing sent), then removes the host; each confirmed write is in the audit log", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await signIn(page, url, ADMIN);
      await page.goto(`${url}/console/#/host/${HOST}`);
      await page.locator("#host-state[data-state=maintenance]").waitFor(WAIT);
      await page.click("#maintenance-end");
      await page.click("#confirm-yes");
      await page.locator("#host-state:not([data-state=maintenance])").waitFor(WAIT);
      assert.equal(cma.rings.membership.get(HOST)?.maintenance, undefined, "maintenance ended");

      await page.click("#host-remove");
      await page.locator("#host-control-confirm").filter({ hasText: `Remove ${HOST} from service?` }).waitFor(WAIT);
      await page.click("#confirm-no");
      assert.ok(cma.rings.membership.get(HOST), "a cancelled removal sends nothing");
      await page.click("#host-remove");
      await page.click("#confirm-yes");
      await page.locator("#host-state[data-state=unknown]").waitFor(WAIT);
      assert.equal(await page.locator("#host-control-error").innerText(), "");
      assert.equal(cma.rings.membership.get(HOST), undefined, "the host left membership");

      await page.goto(`${url}/console/#/audit`);
      await page.locator("#audit tbody tr").filter({ hasText: "hostRemove" }).first().waitFor(WAIT);
      const rows = await page.locator("#audit tbody tr").filter({ hasText: HOST }).filter({ hasText: ADMIN.user }).allInnerTexts();
      const actions = rows.map((r) => r.split("\t")[4]);
      assert.deepEqual(actions.sort(), ["hostMaintenanceEnd", "hostRemove"], rows.join("\n"));
    } finally {
      await context.close();
    }
  });

  it("five wrong passwords, then the sixth attempt shows the rate-limit message", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${url}/console/`);
      await page.locator("#sign-in").waitFor({ state: "visible", ...WAIT });
      const answers: number[] = [];
      page.on("response", (r) => { if (new URL(r.url()).pathname === "/api/session" && r.request().method() === "POST") answers.push(r.status()); });
      for (let i = 1; i <= 6; i++) {
        await page.fill("#sign-in-user", ADMIN.user);
        await page.fill("#sign-in-password", `wrong ${i}`);
        await page.locator("#sign-in-error").evaluate((e) => { e.textContent = ""; });
        await page.click("#sign-in button[type=submit]");
        await page.locator("#sign-in-error").filter({ hasText: /\S/ }).waitFor(WAIT);
      }
      assert.deepEqual(answers, [401, 401, 401, 401, 401, 429]);
      assert.match(await page.locator("#sign-in-error").innerText(), /rate-limited: too many failed sign-ins/);
      assert.equal(await page.locator("#page").isVisible(), false);
    } finally {
      await context.close();
    }
  });
});

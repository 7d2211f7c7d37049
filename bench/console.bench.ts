/**
 * The operator console in Chromium (issue 13; target < 300 ms on loopback): a real CMA
 * (Cma.start with the default configuration, in a child process so the browser's driver and the
 * server do not share an event loop) holding 100 hosts, one of them with 30 guests and --hours of
 * history for each guest's CPU, 2 vCPUs' steal, memory, a disk's and a NIC's byte rates (9 series
 * per guest), and Debian's Chromium through playwright-core. Each run is a fresh browser context
 * (empty cache, its own session cookie):
 *
 *  1. fleet first load: navigation start → the fleet page drawn (host counts shown);
 *  2. host page first load: navigation start → every chart of the open guest sections drawn (the
 *     first 3 guests: 27 charts, each its own /api/series request, plus the alert markers);
 *  3. zoom round trip: on the host page at the 24 h preset, a drag across a CPU chart → that chart
 *     redrawn with the dragged range (the mouse-up and the draw both timed inside the page), and →
 *     every open chart redrawn.
 *
 * Times are the page's own (performance.now(), from navigation start or from the mouse-up), read
 * by polling on animation frames: up to one frame (~16 ms) late.
 *
 *   node bench/dist/console.bench.js [--runs 15] [--hours 48] [--hold SECONDS (keep the CMA up after the runs, to look at it; user bench)]
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { AccessStore, Cma, HistoryStore, HistoryRollupRetention, cmaConfig } from "@ringwatch/cma";
import type { HistoryPoint, HostRecord } from "@ringwatch/cma";
import { Keyring, makeClusterKey, seededRandom, silentLogger, newKeyPair } from "@ringwatch/shared";

const { values: args } = parseArgs({ options: { serve: { type: "string" }, runs: { type: "string", default: "15" }, hours: { type: "string", default: "48" }, hold: { type: "string", default: "0" } } });
const HOSTS = 100, GUESTS = 30, HOST = "hv0000", MIN = 60_000;
const ADMIN = { user: "bench", password: "console benchmark password" };
const guestUuid = (g: number): string => `00000000-0000-4000-8000-${String(g).padStart(12, "0")}`;
const SERIES: [string, HistoryPoint["kind"]][] = [["cpu", "cpu"], ["vcpu.0.delay", "cpu"], ["vcpu.1.delay", "cpu"], ["balloon.rss", "memory"], ["block.vda.rd.bytes", "rate"], ["block.vda.wr.bytes", "rate"], ["net.vnet0.rx.bytes", "rate"], ["net.vnet0.tx.bytes", "rate"]];

/** --hours of one-minute intervals for HOST's guests, written as the CMA writes them, rolled up */
async function fillHistory(dataDir: string, hours: number): Promise<void> {
  const store = new HistoryStore(join(dataDir, "history"), silentLogger());
  const rnd = seededRandom(13);
  const end = Math.floor(Date.now() / MIN) * MIN;
  for (let t = end - hours * 60 * MIN; t < end; t += MIN) {
    const points: HistoryPoint[] = [];
    for (let g = 0; g < GUESTS; g++) {
      for (const [metric, kind] of [...SERIES, ["block.vdb.rd.bytes", "rate"] as [string, HistoryPoint["kind"]]]) {
        const base = kind === "memory" ? 2e6 : kind === "rate" ? 1e5 : 0.5;
        const a = base * rnd(), b = base * rnd();
        points.push({ domain: guestUuid(g), metric, kind, count: 60, min: Math.min(a, b), avg: (a + b) / 2, max: Math.max(a, b) });
      }
    }
    store.write({ host: HOST, intervalStart: t, intervalMs: MIN, points });
  }
  const retention = new HistoryRollupRetention(store, { fullDays: 7, hourlyDays: 90, everyMs: 3_600_000 }, silentLogger());
  await retention.run();
  store.close();
}

/** the child: a CMA on dataDir, its membership and inventory filled as announcements would */
async function serve(dataDir: string): Promise<void> {
  const cma = await Cma.start(cmaConfig({ cluster: "consolebench", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", dataDir, httpListen: "127.0.0.1:0" }), {
    keyring: new Keyring("consolebench", makeClusterKey(randomBytes(32))), commandKey: newKeyPair("ed25519").privateKey, log: silentLogger(),
  });
  const now = Date.now();
  for (let i = 0; i < HOSTS; i++) {
    const seg = Math.floor(i / 25);
    const h: HostRecord = { name: `hv${String(i).padStart(4, "0")}`, machineId: `m${i}`, address: `10.0.${seg}.${(i % 25) + 1}`, port: 1984, segment: `10.0.${seg}.0/24`, state: i % 37 === 5 ? "dead" : "alive", since: now - i * 1000, joinedAt: now - 86_400_000, version: "0.1.0", assignedKey: "", unconfirmed: false };
    cma.rings.membership.upsert(h);
  }
  cma.inventory.apply(HOST, {
    full: true, removed: [], atMs: now,
    domains: Array.from({ length: GUESTS }, (_, g) => ({ uuid: guestUuid(g), name: `guest-${String(g).padStart(2, "0")}`, state: "running", vcpus: 2, memoryKib: 2 << 20, disks: [{ target: "vda", source: "/var/lib/libvirt/images/x.qcow2" }], nics: [{ target: "vnet0", mac: "52:54:00:00:00:01", bridge: "br0", network: "" }] })),
  });
  for (let g = 0; g < 3; g++) cma.alerts.apply(HOST, { kind: "vcpuAbuse", subject: guestUuid(g), subjectName: `guest-${g}`, active: true, evidenceJson: "{}", atMs: now - (g + 1) * 20 * MIN });
  process.send!({ url: cma.http!.url });
  process.on("message", () => void cma.stop().then(() => process.exit(0)));
}

type W = { __ringwatchCharts?: Record<string, { from: number; to: number; loadedAt: number }> };

/** a fresh context signed in as the benchmark's admin, no refresh during a run */
async function signedInPage(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const r = await context.request.post(`${url}/api/session`, { data: ADMIN });
  if (!r.ok()) throw new Error(`sign-in: HTTP ${r.status()}`);
  const page = await context.newPage();
  await page.addInitScript(() => { (globalThis as { __ringwatchRefreshMs?: number }).__ringwatchRefreshMs = 3_600_000; });
  return page;
}

/** waits until the open sections' charts are all drawn (with a range of at least minSpan), answers the last draw's time */
const allDrawn = (page: Page, minSpan: number, after = 0): Promise<number> => page.waitForFunction(([span, since]) => {
  const w = globalThis as unknown as W & { document: { querySelectorAll(s: string): { length: number } } };
  const open = w.document.querySelectorAll("details.guest-charts[open] figure.chart").length;
  const drawn = Object.values(w.__ringwatchCharts ?? {}).filter((c) => c.loadedAt > since && c.to - c.from >= span);
  return open > 0 && drawn.length >= open && Math.max(...drawn.map((c) => c.loadedAt));
}, [minSpan, after] as const, { timeout: 30_000, polling: "raf" }).then((h) => h.jsonValue() as Promise<number>);

async function run(browser: Browser, url: string): Promise<{ fleet: number; host: number; zoomOne: number; zoomAll: number; charts: number }> {
  const page = await signedInPage(browser, url);
  try {
    await page.goto(`${url}/console/#/`);
    const fleet = await (await page.waitForFunction(() => !!(globalThis as unknown as { document: { getElementById(i: string): unknown } }).document.getElementById("state-counts") && performance.now(), undefined, { polling: "raf", timeout: 30_000 })).jsonValue() as number;

    const hostPage = await page.context().newPage();
    await hostPage.addInitScript(() => { (globalThis as { __ringwatchRefreshMs?: number }).__ringwatchRefreshMs = 3_600_000; });
    await hostPage.goto(`${url}/console/#/host/${HOST}`);
    const host = await allDrawn(hostPage, 0);
    const charts = await hostPage.locator("details.guest-charts[open] figure.chart").count();

    await hostPage.click("button[data-preset='24 h']");
    const at24 = await allDrawn(hostPage, 20 * 3_600_000);
    const id = `${guestUuid(0)}/cpu`;
    await hostPage.evaluate(() => { (globalThis as unknown as { document: { addEventListener(t: string, f: () => void, o: object): void } }).document.addEventListener("mouseup", () => { (globalThis as { __mouseUp?: number }).__mouseUp = performance.now(); }, { capture: true, once: true }); });
    const box = (await hostPage.locator(`[data-chart="${id}"] .u-over`).boundingBox())!;
    const y = box.y + box.height / 2;
    await hostPage.mouse.move(box.x + box.width * 0.4, y);
    await hostPage.mouse.down();
    await hostPage.mouse.move(box.x + box.width * 0.5, y, { steps: 3 });
    await hostPage.mouse.move(box.x + box.width * 0.6, y, { steps: 3 });
    await hostPage.mouse.up();
    const zoomed = await (await hostPage.waitForFunction(([i, since]) => { const c = (globalThis as unknown as W).__ringwatchCharts?.[i as string]; return !!c && c.loadedAt > (since as number) && c.to - c.from < 12 * 3_600_000 && c.loadedAt; }, [id, at24] as const, { polling: "raf", timeout: 30_000 })).jsonValue() as number;
    const all = await (await hostPage.waitForFunction((since) => {
      const w = globalThis as unknown as W & { document: { querySelectorAll(s: string): { length: number } } };
      const open = w.document.querySelectorAll("details.guest-charts[open] figure.chart").length;
      const drawn = Object.values(w.__ringwatchCharts ?? {}).filter((c) => c.loadedAt > since && c.to - c.from < 12 * 3_600_000);
      return drawn.length >= open && Math.max(...drawn.map((c) => c.loadedAt));
    }, at24, { polling: "raf", timeout: 30_000 })).jsonValue() as number;
    const up = await hostPage.evaluate(() => (globalThis as { __mouseUp?: number }).__mouseUp ?? NaN);
    return { fleet, host, zoomOne: zoomed - up, zoomAll: all - up, charts };
  } finally {
    await page.context().close();
  }
}

const quantile = (xs: number[], q: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]; };

async function main(): Promise<void> {
  const runs = Number(args.runs), hours = Number(args.hours);
  const dataDir = mkdtempSync(join(tmpdir(), "rw-console-bench-"));
  let child: ChildProcess | undefined;
  let browser: Browser | undefined;
  try {
    await (await AccessStore.open(dataDir)).addUser(ADMIN.user, "admin", ADMIN.password);
    const t0 = Date.now();
    await fillHistory(dataDir, hours);
    console.log(`history: ${GUESTS} guests × ${SERIES.length + 1} series × ${hours} h of 1-min intervals written in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    child = fork(fileURLToPath(import.meta.url), ["--serve", dataDir], { stdio: "inherit" });
    const url = await new Promise<string>((resolve, reject) => { child!.once("message", (m: { url: string }) => resolve(m.url)); child!.once("exit", (c) => reject(new Error(`CMA exited ${c}`))); });
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    await run(browser, url); // warm-up: the CMA's and SQLite's caches; Chromium's process pool
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await run(browser, url));
    const row = (name: string, xs: number[]): string => `| ${name} | ${quantile(xs, 0.5).toFixed(0)} | ${quantile(xs, 0.95).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |`;
    console.log(`\nconsole in Chromium ${browser.version()}, ${runs} runs (fresh context each), ${cpus().length} × ${cpus()[0].model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${new Date().toISOString()}`);
    console.log(`host page: ${results[0].charts} charts open (3 of ${GUESTS} guests' sections)\n`);
    console.log("| ms (in the page) | p50 | p95 | min | max |\n|---|---:|---:|---:|---:|");
    console.log(row("fleet page, first load (navigation → drawn)", results.map((r) => r.fleet)));
    console.log(row("host page, first load (navigation → every open chart drawn)", results.map((r) => r.host)));
    console.log(row("zoom round trip, the dragged chart (mouse-up → redrawn)", results.map((r) => r.zoomOne)));
    console.log(row("zoom round trip, every open chart", results.map((r) => r.zoomAll)));
    if (Number(args.hold) > 0) {
      console.log(`\nthe CMA stays up for ${args.hold} s at ${url} (user ${ADMIN.user}, password "${ADMIN.password}")`);
      await new Promise((r) => setTimeout(r, Number(args.hold) * 1000));
    }
  } finally {
    await browser?.close();
    if (child && child.exitCode === null) {
      child.send("stop");
      await new Promise((r) => child!.once("exit", r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (args.serve) void serve(args.serve);
else await main();

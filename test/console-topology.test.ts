/**
 * The console's rings and queries pages in a real browser (Debian's Chromium, shared:
 * support/browser.ts) against a real CMA in-process with its embedded Kuzu graph, and five real
 * nanoprobes in-process over real UDP (as test/graph.test.ts runs them), in two segments:
 * 127.0.1.0/24 (a1, a2, a3) and 127.0.2.0/24 (b1, b2). a2 dies without a word; the CMA confirms it
 * and repairs the rings. The pages are checked against what the CMA itself says: its ring plan,
 * the neighbours the nanoprobes were sent, and its API's switch-or-host verdict.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Page } from "playwright-core";
import { AccessStore, Cma, cmaConfig, namedQueries } from "@ringwatch/cma";
import { Keyring, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { waitForValue, waitUntil } from "@ringwatch/shared/testing";
import { Nanoprobe, nanoprobeConfig } from "@ringwatch/nanoprobe";
import { newContext, screenshotPath, signInThroughForm } from "./support/browser.js";
import { testHostKeys } from "./support/host-keys.js";

const VIEWER = { user: "vic", password: "viewer password for the topology test" };
const WAIT = { timeout: 20_000 };
const HOSTS = { a1: "127.0.1.1", a2: "127.0.1.2", a3: "127.0.1.3", b1: "127.0.2.1", b2: "127.0.2.2" } as const;
const SEG_A = "127.0.1.0/24";
const DEAD = "a2";

interface DrawnHost { name: string; state: string; watches: string[] }
interface DrawnRing { id: string; kind: string; segment?: string; hosts: DrawnHost[]; outOfRings: { name: string; state: string }[] }
interface VerdictRow { kind: string; name: string; downHosts: string[]; upHosts: number; hosts: number; suspect: string }
interface DrawnRings { rings: DrawnRing[]; verdicts: Record<string, VerdictRow[]>; verdictsUnavailable?: string }
type ShownQuery = { source: string; columns: string[]; rows: Record<string, unknown>[]; truncated: boolean } | { source: string; error: string };
/** the page's global object as the console sets it (this project compiles without the DOM library) */
type ConsoleWindow = { __ringwatchRings?: DrawnRings; __ringwatchQuery?: ShownQuery };

const signIn = signInThroughForm;

const byGroup = (rows: VerdictRow[]): VerdictRow[] => [...rows].sort((a, b) => (`${a.kind} ${a.name}` < `${b.kind} ${b.name}` ? -1 : 1)).map((r) => ({ ...r, downHosts: [...r.downHosts].sort() }));

describe("console: rings and queries pages in a real browser", function () {
  this.timeout(120_000);
  const keyring = new Keyring("topology", makeClusterKey(randomBytes(32)));
  const keys = newKeyPair("ed25519");
  const dataDir = mkdtempSync(join(tmpdir(), "rw-topology-"));
  let cma: Cma;
  let url: string;
  const nps = new Map<string, Nanoprobe>();

  before(async () => {
    const access = AccessStore.open(dataDir);
    await access.addUser(VIEWER.user, "viewer", VIEWER.password);
    cma = await Cma.start(cmaConfig({
      cluster: "topology", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", dataDir, heartbeatMs: 100, warntimeMs: 500, deadtimeMs: 1000,
      probeIntervalMs: 50, probeAttempts: 2, statusIntervalMs: 0, graphStore: "kuzu", graphFlushMs: 100, graphBufferPoolMb: 32, httpListen: "127.0.0.1:0",
    }), { keyring, commandKey: keys.privateKey, log: silentLogger() });
    url = cma.http!.url;
    for (const [id, address] of Object.entries(HOSTS)) {
      nps.set(id, await Nanoprobe.start(nanoprobeConfig({
        identity: id, cluster: "topology", cma: `127.0.0.1:${cma.endpoint.address().port}`, bindAddress: address, port: 0, joinIntervalMs: 100, statusIntervalMs: 0, discoveryDir: "",
      }), { keyring, cmaPublicKey: keys.publicKey, log: silentLogger(), hostKeys: testHostKeys(id) }));
    }
    const m = cma.rings.membership;
    await waitUntil(() => m.rings().segments.reduce((n, s) => n + s.members.length, 0) === 5, 20_000, "five hosts in the rings", 100);
    // a2 dies without a word: its neighbours report it, the CMA probes, confirms and replans
    await nps.get(DEAD)!.kill();
    nps.delete(DEAD);
    await waitUntil(() => m.get(DEAD)?.state === "dead" && !m.rings().segments.some((s) => s.members.includes(DEAD)), 20_000, "a2 dead and out of the rings", 100);
    // every survivor heartbeats the neighbours the repaired plan gives it
    const assigned = (id: string): string => (m.neighboursOf(id) ?? []).map((n) => n.name).sort().join(",");
    await waitUntil(() => [...nps].every(([id, np]) => np.watch.neighbours.map((n) => n.name).sort().join(",") === assigned(id)), 20_000, "assignments acknowledged", 100);
  });

  after(async () => {
    for (const np of nps.values()) await np.stop(false);
    await cma?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("the rings page draws every ring as the CMA planned it, who watches whom, a2 dead, and a2's switch-or-host verdict as the API gives it", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await signIn(page, url, VIEWER);
      // the API's verdict for a2, once the graph has its death (ingestion is asynchronous)
      const apiRows = await waitForValue(async () => {
        const rows = await page.evaluate(async () => ((await (await fetch("/api/queries/switchVersusHost")).json()) as { rows: VerdictRow[] }).rows);
        return rows.some((r) => r.downHosts.includes("a2")) ? rows : undefined;
      }, 20_000, "a2 down in the API's switchVersusHost", 200);
      const expectedVerdict = byGroup(apiRows.filter((r) => r.downHosts.includes(DEAD)));
      assert.deepEqual(expectedVerdict.map((r) => [r.kind, r.name, r.suspect]), [["segment", SEG_A, "host"]], "a1 and a3 still answer behind a2's segment");

      await page.goto(`${url}/console/#/rings`);
      await page.waitForFunction(() => (globalThis as unknown as ConsoleWindow).__ringwatchRings !== undefined, undefined, WAIT);
      const drawn = (await page.evaluate(() => (globalThis as unknown as ConsoleWindow).__ringwatchRings))!;

      // the rings: the CMA's own plan, in ring order, each host with the ring members it watches
      const m = cma.rings.membership;
      const plan = m.rings();
      const watches = (h: string, ring: string[]): string[] => (m.neighboursOf(h) ?? []).map((n) => n.name).filter((n) => ring.includes(n)).sort();
      const expected = [
        ...plan.segments.map((s) => ({ id: `segment ${s.segment}`, hosts: s.members.map((h) => ({ name: h, state: "alive", watches: watches(h, s.members) })) })),
        { id: "representatives", hosts: plan.representativeRing.map((h) => ({ name: h, state: "alive", watches: watches(h, plan.representativeRing) })) },
      ];
      assert.deepEqual(drawn.rings.map((r) => ({ id: r.id, hosts: r.hosts.map((h) => ({ ...h, watches: [...h.watches].sort() })) })), expected);
      assert.deepEqual(plan.segments.map((s) => s.members), [["a1", "a3"], ["b1", "b2"]]);
      assert.deepEqual(plan.representativeRing, ["a1", "b1"]);
      // what each nanoprobe really heartbeats is what the picture says it watches, over all its rings
      for (const [id, np] of nps) {
        const drawnWatches = [...new Set(drawn.rings.flatMap((r) => r.hosts.filter((h) => h.name === id).flatMap((h) => h.watches)))].sort();
        assert.deepEqual(drawnWatches, np.watch.neighbours.map((n) => n.name).sort(), `${id} watches`);
      }
      // the dead host: out of its segment's ring, marked dead
      assert.deepEqual(drawn.rings.find((r) => r.id === `segment ${SEG_A}`)!.outOfRings, [{ name: DEAD, state: "dead" }]);

      // the picture holds what the data says: each host once per ring it is in, one arrow per watch
      for (const r of drawn.rings) {
        const svg = page.locator(`svg.ring-picture[data-ring="${r.id}"]`);
        assert.deepEqual((await svg.locator("a.ring-node").evaluateAll((as) => as.map((a) => a.getAttribute("data-host")))), r.hosts.map((h) => h.name), `${r.id} nodes`);
        const edges = await svg.locator("path.ring-edge").evaluateAll((ps) => ps.map((p) => `${p.getAttribute("data-from")}>${p.getAttribute("data-to")}`));
        assert.deepEqual(edges.sort(), r.hosts.flatMap((h) => h.watches.map((w) => `${h.name}>${w}`)).sort(), `${r.id} arrows`);
      }
      for (const id of Object.keys(HOSTS).filter((h) => h !== DEAD)) {
        const rings = (plan.segments.some((s) => s.members.includes(id)) ? 1 : 0) + (plan.representativeRing.includes(id) ? 1 : 0);
        assert.equal(await page.locator(`a.ring-node[data-host="${id}"]`).count(), rings, `${id} drawn once per ring it is in`);
      }
      assert.equal(await page.locator(`a.ring-node[data-host="${DEAD}"]`).count(), 0);
      const dead = page.locator(`a.out-node[data-host="${DEAD}"]`);
      assert.equal(await dead.getAttribute("data-state"), "dead");
      assert.equal(await dead.locator("text").textContent(), `${DEAD} (dead)`, "its state in words, not colour alone");
      assert.equal(await dead.getAttribute("href"), `#/host/${DEAD}`);

      // its verdict: the API's, in the data and in the table
      assert.equal(drawn.verdictsUnavailable, undefined);
      assert.deepEqual(byGroup(drawn.verdicts[DEAD]), expectedVerdict);
      const row = page.locator("#verdict-table tbody tr").filter({ hasText: DEAD });
      assert.deepEqual(await row.locator("td").allInnerTexts(), [DEAD, "dead", `host (segment ${SEG_A})`, `segment ${SEG_A}: 1 down (${DEAD}), 2 of 3 up`]);
      await page.screenshot({ path: screenshotPath("console-rings"), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("a viewer runs a named query with a parameter, a Cypher read, and sees a write refused", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      // a refresh every 200 ms: the queries page must keep what is typed and shown through it
      await page.addInitScript(() => { (globalThis as { __ringwatchRefreshMs?: number }).__ringwatchRefreshMs = 200; });
      await signIn(page, url, VIEWER);
      await page.click("#nav-queries");
      await page.locator("#named-query").waitFor(WAIT);
      const shown = (): Promise<ShownQuery | undefined> => page.evaluate(() => (globalThis as unknown as ConsoleWindow).__ringwatchQuery);

      // ringHealth for segment A: a1 and a3 are left there; a3 is watched by a1 only (a1's other
      // neighbour is b1, in the representatives' ring), a1 by a3 and b1. Segment B has the same
      // thin spot (b2), which the parameter keeps out.
      const thin = [{ host: "a3", segment: SEG_A, ringOrder: 1, watchers: 1, watchingDown: [], problem: "under-watched" }];
      const health = async (segment: string): Promise<Record<string, unknown>[]> => (await cma.graph!.read(namedQueries.ringHealth.cypher, { segment })).rows;
      await waitForValue(async () => (isDeepStrictEqual(await health(SEG_A), thin) && (await health("")).some((r) => r.host === "b2") ? true : undefined), 20_000, "the repaired rings in the graph", 200);
      await page.selectOption("#named-query", "ringHealth");
      await page.fill("#param-segment", SEG_A);
      await page.click("#named-run");
      await page.waitForFunction(() => (globalThis as unknown as ConsoleWindow).__ringwatchQuery?.source === "ringHealth", undefined, WAIT);
      assert.deepEqual(await shown(), { source: "ringHealth", columns: ["host", "segment", "ringOrder", "watchers", "watchingDown", "problem"], rows: thin, truncated: false });
      assert.deepEqual(await page.locator("#query-result tbody tr td").allInnerTexts(), ["a3", SEG_A, "1", "1", "[]", "under-watched"]);
      assert.match(await page.locator("#query-info").innerText(), /^ringHealth: 1 row in \d+ ms$/);
      await page.screenshot({ path: screenshotPath("console-queries"), fullPage: true });

      await page.fill("#cypher-text", "MATCH (h:Host) WHERE h.state = 'dead' RETURN h.name AS host, h.segment AS segment");
      await page.click("#cypher-run");
      await page.waitForFunction(() => (globalThis as unknown as ConsoleWindow).__ringwatchQuery?.source === "Cypher", undefined, WAIT);
      assert.deepEqual((await shown()) as unknown, { source: "Cypher", columns: ["host", "segment"], rows: [{ host: DEAD, segment: SEG_A }], truncated: false });
      assert.deepEqual(await page.locator("#query-result tbody tr td").allInnerTexts(), [DEAD, SEG_A]);
      await page.waitForTimeout(1000); // five refresh periods
      assert.deepEqual(await page.locator("#query-result tbody tr td").allInnerTexts(), [DEAD, SEG_A], "the result outlives the refresh");
      assert.equal(await page.inputValue("#param-segment"), SEG_A, "so does the form");

      await page.fill("#cypher-text", "CREATE (h:Host {name: 'intruder', state: 'alive'}) RETURN h");
      await page.click("#cypher-run");
      await page.locator("#query-error").filter({ hasText: /\S/ }).waitFor(WAIT);
      assert.match(await page.locator("#query-error").innerText(), /^Cypher: write-refused: read-only queries only/);
      assert.equal(await page.locator("#query-result tr").count(), 0, "no stale result under the error");
      assert.deepEqual((await cma.graph!.read("MATCH (h:Host {name: 'intruder'}) RETURN h.name AS n")).rows, [], "nothing was written");
    } finally {
      await context.close();
    }
  });

  it("without a graph store the rings page still draws and says why there are no verdicts; the queries page says the queries are unavailable", async () => {
    // a second CMA, the graph store off (no Kuzu: it starts in a moment); its one host is put into
    // membership dead, as the console test puts its host in (no nanoprobe runs here)
    const bare = mkdtempSync(join(tmpdir(), "rw-topology-bare-"));
    await (AccessStore.open(bare)).addUser(VIEWER.user, "viewer", VIEWER.password);
    const plain = await Cma.start(cmaConfig({ cluster: "topology", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", dataDir: bare, graphStore: "none", statusIntervalMs: 0, httpListen: "127.0.0.1:0" }),
      { keyring, commandKey: keys.privateKey, log: silentLogger() });
    const context = await newContext();
    try {
      const now = Date.now();
      plain.rings.membership.upsert({ name: "z1", machineId: "topology-test", address: "127.0.3.1", port: 1984, segment: "127.0.3.0/24", state: "dead", since: now, joinedAt: now, version: "test", assignedKey: "", unconfirmed: false });
      const page = await context.newPage();
      await signIn(page, plain.http!.url, VIEWER);
      await page.click("#nav-rings");
      await page.locator("#verdicts-unavailable").waitFor(WAIT);
      assert.equal(await page.locator("#verdicts-unavailable").innerText(), "verdicts unavailable: unavailable: this CMA has no graph store: graph queries cannot run");
      const drawn = (await page.evaluate(() => (globalThis as unknown as ConsoleWindow).__ringwatchRings))!;
      assert.deepEqual(drawn.rings.map((r) => [r.id, r.hosts.length, r.outOfRings]), [["segment 127.0.3.0/24", 0, [{ name: "z1", state: "dead" }]], ["representatives", 0, []]]);
      assert.equal(drawn.verdictsUnavailable, "unavailable: this CMA has no graph store: graph queries cannot run");
      assert.deepEqual(await page.locator("#verdict-table tbody tr td").allInnerTexts(), ["z1", "dead", "unavailable", ""]);
      assert.equal(await page.locator("a.out-node[data-host=z1]").getAttribute("data-state"), "dead");
      assert.equal(await page.locator("#error").innerText(), "", "the page did not fail");
      await page.click("#nav-queries");
      await page.locator("#queries-unavailable").waitFor(WAIT);
      assert.equal(await page.locator("#queries-unavailable").innerText(), "graph queries unavailable: unavailable: this CMA has no graph store: graph queries cannot run");
    } finally {
      await context.close();
      await plain.stop();
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

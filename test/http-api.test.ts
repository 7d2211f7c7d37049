/**
 * System test of the HTTP API: a real CMA process with its API on a free loopback port, two real
 * nanoprobes joining it, the API read over real HTTP, and the `query` subcommand run as a real
 * process against it and the CMA's own (Kuzu) graph.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unusedTcpPort } from "@ringwatch/shared/testing";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";
import { offlineToken } from "./support/access.js";
import type { OfflineToken } from "./support/access.js";

async function poll(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("system: the CMA's HTTP API and the query subcommand", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-http-"));
  const procs: RunningProcess[] = [];
  let url = "";
  let cred: OfflineToken;
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
  });

  before(async () => {
    const keys = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(keys.code, 0, keys.stderr);
    cred = await offlineToken(join(dir, "cma-state"), "viewer");
    const port = 20000 + Math.floor(Math.random() * 20000);
    const common = { RINGWATCH_CLUSTER: "httptest", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" };
    const cma = startProcess("cma", CMA_CLI, ["run"], {
      ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_HEARTBEAT_MS: "200", RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_HTTP_LISTEN: "127.0.0.1:0",
      RINGWATCH_GRAPH_BUFFER_POOL_MB: "64", // the embedded Kuzu graph under the data directory (the default store)
    });
    procs.push(cma);
    const started = await cma.waitFor((l) => l.msg === "CMA started", 10_000, "CMA started");
    url = String(started.http);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    for (const [i, id] of ["hv1", "hv2"].entries()) {
      procs.push(startProcess(id, NANOPROBE_CLI, ["run"], {
        ...common, RINGWATCH_IDENTITY: id, RINGWATCH_BIND_ADDRESS: `127.0.0.${i + 2}`, RINGWATCH_PORT: String(port), RINGWATCH_CMA: `127.0.0.1:${port}`,
        RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300",
        // hv2's discovery scripts are missing: each run fails, a monitoring error each
        ...(id === "hv2" ? { RINGWATCH_DISCOVERY_DIR: mkdtempSync(join(dir, "no-scripts-")) } : {}),
        RINGWATCH_SCHEDULE_START_WINDOW_MS: "500ms", // first discovery runs within 0.5 s, not 30 s
      }));
    }
  });

  it("shows the joined hosts, their ring and their discovery documents over HTTP", async () => {
    type Hosts = { hosts: { name: string; state: string; address: string }[] };
    let hosts: Hosts = { hosts: [] };
    await poll(async () => {
      hosts = (await (await fetch(`${url}/api/hosts`, { headers: cred.auth })).json()) as Hosts;
      return hosts.hosts.filter((h) => h.state === "alive").length === 2;
    }, 15_000, "both nanoprobes alive in /api/hosts");
    assert.deepEqual(hosts.hosts.map((h) => `${h.name}@${h.address}`), ["hv1@127.0.0.2", "hv2@127.0.0.3"]);
    // the ring plan follows admissions (it is recomputed after them): wait for it too
    let rings = { segments: [] as { members: string[] }[] };
    await poll(async () => {
      rings = (await (await fetch(`${url}/api/rings`, { headers: cred.auth })).json()) as typeof rings;
      return rings.segments.length === 1 && rings.segments[0]!.members.length === 2;
    }, 15_000, "one ring of both hosts in /api/rings");
    assert.deepEqual(rings.segments.map((s) => s.members), [["hv1", "hv2"]]);
    await poll(async () => (await fetch(`${url}/api/discovery/hv1/os`, { headers: cred.auth })).status === 200, 20_000, "hv1's os document");
    const status = (await (await fetch(`${url}/api/status`, { headers: cred.auth })).json()) as { hosts: { alive: number }; http: { requests: number } };
    assert.equal(status.hosts.alive, 2);
    assert.ok(status.http.requests >= 3);
    // monitoring errors through the whole path: nanoprobe alert → CMA → registry → API
    type Errors = { errors: { host: string; source: string; subject: string; evidence: { kind?: string } }[]; active: number };
    let errs: Errors = { errors: [], active: 0 };
    await poll(async () => {
      errs = (await (await fetch(`${url}/api/monitoring-errors?host=hv2`, { headers: cred.auth })).json()) as Errors;
      return errs.active === 6;
    }, 20_000, "hv2's six failing discovery scripts in /api/monitoring-errors");
    assert.deepEqual(errs.errors.map((e) => `${e.source}/${e.subject}`).sort(), ["cpu-memory", "libvirt-domains", "lldp", "nics", "os", "tcp-services"].map((s) => `discoveryError/${s}`));
    const page = await fetch(`${url}/`); // leads to the operator console
    assert.equal(page.status, 200);
    assert.equal(new URL(page.url).pathname, "/console/");
    assert.match(await page.text(), /<title>ringwatch console<\/title>/);
  });

  it("the query subcommand, as a process, against the CMA's graph: list, named, ad-hoc; writes refused", async () => {
    const query = (...args: string[]) => runToExit(CMA_CLI, ["query", "--url", url, "--token-file", cred.tokenFile, ...args]);
    const list = await query("--list");
    assert.equal(list.code, 0, list.stderr);
    for (const name of ["deadHostImpact", "switchVersusHost", "forgottenServers", "servicesWithDownDependencies", "ringHealth"]) assert.match(list.stdout, new RegExp(`^${name} +\\|`, "m"));
    // the hosts reach the graph through the CMA's ingestion
    const alive = ["--cypher", "MATCH (h:Host) WHERE h.state = $state RETURN h.name AS host ORDER BY host", "--param", "state=alive", "--json"];
    let rows: unknown[] = [];
    await poll(async () => {
      const r = await query(...alive);
      assert.equal(r.code, 0, r.stderr);
      rows = (JSON.parse(r.stdout) as { rows: unknown[] }).rows;
      return rows.length === 2;
    }, 20_000, "both hosts alive in the graph");
    assert.deepEqual(rows, [{ host: "hv1" }, { host: "hv2" }]);
    const table = await query("--cypher", "MATCH (h:Host) RETURN h.name AS host, h.state AS state ORDER BY host");
    assert.equal(table.code, 0, table.stderr);
    assert.deepEqual(table.stdout.split("\n").slice(0, 4), ["host | state", "-----+------", "hv1  | alive", "hv2  | alive"]);
    const ring = await query("ringHealth", "--param", "segment=127.0.0.0/24");
    assert.equal(ring.code, 0, ring.stderr);
    assert.match(ring.stdout, /^host +\| segment +\| ringOrder +\| watchers +\| watchingDown +\| problem/);
    const impact = await query("deadHostImpact", "--param", "host=hv1");
    assert.equal(impact.code, 0, impact.stderr);
    assert.match(impact.stdout, /\(0 rows, \d+ ms\)/, "hv1 is alive: it takes nothing with it");

    const write = await query("--cypher", "CREATE (h:Host {name: 'intruder', state: 'alive'}) RETURN h");
    assert.equal(write.code, 1);
    assert.match(write.stderr, /^ringwatch-cma query: HTTP 403 write-refused: read-only queries only/);
    const merge = await query("--cypher", "MATCH (h:Host {name: 'hv1'}) SET h.state = 'dead' RETURN h.state");
    assert.equal(merge.code, 1);
    assert.match(merge.stderr, /HTTP 403 write-refused/);
    const after = await query(...alive);
    assert.deepEqual((JSON.parse(after.stdout) as { rows: unknown[] }).rows, [{ host: "hv1" }, { host: "hv2" }], "nothing was written");
    const typo = await query("deadHostImpact", "--param", "hots=hv1");
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /HTTP 400 bad-request: querystring must NOT have additional properties/);
    const status = (await (await fetch(`${url}/api/status`, { headers: cred.auth })).json()) as { http: { rejected: number } };
    assert.ok(status.http.rejected >= 3, "the refusals are counted");
  });

  it("the query subcommand: exit code 1 and a clear message when the CMA is not there", async () => {
    const port = await unusedTcpPort();
    const r = await runToExit(CMA_CLI, ["query", "--list", "--url", `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^ringwatch-cma query: cannot reach the CMA's HTTP API at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    const usage = await runToExit(CMA_CLI, ["query", "--url", url]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /exactly one of NAME, --cypher QUERY or --list/);
  });
});

/**
 * System test of the HTTP API: a real CMA process with its API on a free loopback port, two real
 * nanoprobes joining it, the API read over real HTTP, and the `query` subcommand run as a real
 * process against it.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";

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
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
  });

  before(async () => {
    const keys = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(keys.code, 0, keys.stderr);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const common = { RINGWATCH_CLUSTER: "httptest", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" };
    const cma = startProcess("cma", CMA_CLI, ["run"], {
      ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_HEARTBEAT_MS: "200", RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_HTTP_LISTEN: "127.0.0.1:0",
    });
    procs.push(cma);
    const started = await cma.waitFor((l) => l.msg === "CMA started", 10_000, "CMA started");
    url = String(started.http);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    for (const [i, id] of ["hv1", "hv2"].entries()) {
      procs.push(startProcess(id, NANOPROBE_CLI, ["run"], {
        ...common, RINGWATCH_IDENTITY: id, RINGWATCH_BIND_ADDRESS: `127.0.0.${i + 2}`, RINGWATCH_PORT: String(port), RINGWATCH_CMA: `127.0.0.1:${port}`,
        RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300",
      }));
    }
  });

  it("shows the joined hosts, their ring and their discovery documents over HTTP", async () => {
    type Hosts = { hosts: { name: string; state: string; address: string }[] };
    let hosts: Hosts = { hosts: [] };
    await poll(async () => {
      hosts = (await (await fetch(`${url}/api/hosts`)).json()) as Hosts;
      return hosts.hosts.filter((h) => h.state === "alive").length === 2;
    }, 15_000, "both nanoprobes alive in /api/hosts");
    assert.deepEqual(hosts.hosts.map((h) => `${h.name}@${h.address}`), ["hv1@127.0.0.2", "hv2@127.0.0.3"]);
    const rings = (await (await fetch(`${url}/api/rings`)).json()) as { segments: { members: string[] }[] };
    assert.deepEqual(rings.segments.map((s) => s.members), [["hv1", "hv2"]]);
    await poll(async () => (await fetch(`${url}/api/discovery/hv1/os`)).status === 200, 20_000, "hv1's os document");
    const status = (await (await fetch(`${url}/api/status`)).json()) as { hosts: { alive: number }; http: { requests: number } };
    assert.equal(status.hosts.alive, 2);
    assert.ok(status.http.requests >= 3);
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ringwatch CMA<\/title>/);
  });

  it("the query subcommand: exit code 1 and a clear message when the CMA is not there", async () => {
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const port = (s.address() as AddressInfo).port;
    await new Promise((resolve) => s.close(resolve));
    const r = await runToExit(CMA_CLI, ["query", "--list", "--url", `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^ringwatch-cma query: cannot reach the CMA's HTTP API at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    const usage = await runToExit(CMA_CLI, ["query", "--url", url]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /exactly one of NAME, --cypher QUERY or --list/);
  });
});

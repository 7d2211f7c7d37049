import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError, silentLogger } from "@ringwatch/shared";
import { unusedTcpPort } from "@ringwatch/shared/testing";
import type { CommandArgs } from "@ringwatch/shared";
import type { KuzuStore } from "../src/graph/kuzu-store.js";
import { namedQueries } from "../src/graph/named-queries.js";
import { runQueryCommand } from "../src/query-command.js";
import { HttpServer } from "../src/http/server.js";
import { API_OPTIONS, UUID1, scenarioParts, sources } from "./http/api-fixture.js";
import { filledKuzuStore, hostsSince } from "./http/graph-fixture.js";
import { tokenStore } from "./support/access.js";

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** the API token file every query below carries (written when the API under test starts) */
let tokenFile: string | undefined;

async function runQuery(positionals: string[], values: CommandArgs["values"], configFile?: string): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  if (tokenFile && values["token-file"] === undefined) values = { ...values, "token-file": tokenFile };
  const code = await runQueryCommand({ values, positionals, debug: false, configFile }, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}


describe("cma/query-command (without a CMA)", () => {
  it("an unreachable CMA is exit code 1 with a message saying where it looked", async () => {
    const port = await unusedTcpPort();
    const r = await runQuery([], { list: true, url: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^ringwatch-cma query: cannot reach the CMA's HTTP API at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
  });

  it("the default URL comes from httpListen in the configuration; off means --url is needed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-query-"));
    const port = await unusedTcpPort();
    writeFileSync(join(dir, "on.json"), JSON.stringify({ httpListen: `0.0.0.0:${port}` }));
    const on = await runQuery([], { list: true }, join(dir, "on.json"));
    assert.match(on.stderr, new RegExp(`at http://127\\.0\\.0\\.1:${port} `), "a wildcard listen address is reached on loopback");
    writeFileSync(join(dir, "off.json"), JSON.stringify({ httpListen: "off" }));
    await assert.rejects(runQuery([], { list: true }, join(dir, "off.json")), (e: Error) => e instanceof UsageError && /httpListen.*--url/.test(e.message));
  });

  it("refuses contradictory or malformed arguments as usage errors (exit code 2 from the CLI)", async () => {
    const url = "http://127.0.0.1:9";
    const bad: [string[], CommandArgs["values"], RegExp][] = [
      [[], { url }, /exactly one of NAME, --cypher QUERY or --list/],
      [["deadHosts"], { url, list: true }, /exactly one/],
      [["deadHosts"], { url, cypher: "MATCH (n) RETURN n" }, /exactly one/],
      [["a", "b"], { url }, /one query name only/],
      [["deadHosts"], { url, param: ["novalue"] }, /--param expects name=value/],
      [["deadHosts"], { url, param: ["=x"] }, /--param expects name=value/],
      [[], { url, cypher: "RETURN 1", timeout: "soon" }, /--timeout expects a positive integer/],
      [[], { url, cypher: "RETURN 1", "max-rows": "0" }, /--max-rows expects a positive integer/],
      [["deadHosts"], { url, timeout: "100" }, /--timeout and --max-rows go with --cypher/],
      [[], { url: "not a url", list: true }, /--url: not a URL/],
    ];
    for (const [pos, values, msg] of bad) {
      await assert.rejects(runQuery(pos, values), (e: Error) => e instanceof UsageError && msg.test(e.message), JSON.stringify([pos, values]));
    }
  });
});

describe("cma/query-command (against a real API over the Kuzu store)", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-query-graph-"));
  let store: KuzuStore;
  let server: HttpServer;
  before(async () => {
    store = await filledKuzuStore(dir);
    const access = tokenStore("viewer");
    tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${access.token}\n`, { mode: 0o600 });
    server = await HttpServer.start({ host: "127.0.0.1", port: 0 }, sources(scenarioParts(), { store, queries: { ...namedQueries, hostsSince } }, access), API_OPTIONS, silentLogger());
  });
  after(async () => {
    tokenFile = undefined;
    await server?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("--list prints the named queries and their parameters as a table", async () => {
    const r = await runQuery([], { list: true, url: server.url });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^query +\| parameters +\| description$/);
    assert.ok(lines.some((l) => /^deadHostImpact +\| host:string= +\| What a dead host takes with it/.test(l)), r.stdout);
    assert.ok(lines.some((l) => /^hostsSince +\| since:int state:string= +\|/.test(l)), r.stdout);
  });

  it("runs a named query with --param, as a table or as JSON", async () => {
    const r = await runQuery(["deadHostImpact"], { param: ["host=hv1"], url: server.url });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^host \| hostState \| domain \| uuid +\| service \| process \| dependentHosts \| dependentServices \| dependentGuests$/);
    assert.match(lines[2], new RegExp(`^hv1  \\| dead +\\| web1 +\\| ${UUID1} \\| +\\| +\\| \\[\\] +\\| \\[\\] +\\| \\[\\]$`));
    assert.match(lines[3], /^\(1 row, \d+ ms\)$/);
    const j = await runQuery(["hostsSince"], { param: ["since=2000"], json: true, url: server.url });
    assert.equal(j.code, 0, j.stderr);
    assert.deepEqual(JSON.parse(j.stdout).rows, [{ host: "hv1" }, { host: "hv3" }]);
  });

  it("runs ad-hoc Cypher with JSON-typed parameters and lower limits, and says when rows were cut", async () => {
    const r = await runQuery([], { cypher: "MATCH (h:Host) WHERE h.since >= $since RETURN h.name AS host ORDER BY host", param: ["since=1000"], "max-rows": "2", url: server.url });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split("\n").slice(0, 4), ["host", "----", "hv1", "hv2"]);
    assert.match(r.stdout, /\(2 rows, cut at 2: more rows matched, \d+ ms\)/);
    const s = await runQuery([], { cypher: "RETURN $name AS name, $n AS n", param: ["name=hv1", "n=5"], json: true, url: server.url });
    assert.deepEqual(JSON.parse(s.stdout).rows, [{ name: "hv1", n: 5 }]);
  });

  it("a refusal by the CMA is exit code 1 with its status, code and message", async () => {
    const write = await runQuery([], { cypher: "CREATE (h:Host {name: 'x'}) RETURN h", url: server.url });
    assert.equal(write.code, 1);
    assert.equal(write.stdout, "");
    assert.match(write.stderr, /^ringwatch-cma query: HTTP 403 write-refused: read-only queries only/);
    const unknown = await runQuery(["nope"], { url: server.url });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /HTTP 404 unknown-query: no named query "nope"/);
    const typed = await runQuery(["hostsSince"], { param: ["since=yesterday"], url: server.url });
    assert.equal(typed.code, 1);
    assert.match(typed.stderr, /HTTP 400 bad-request: querystring\/since must be integer/);
    const syntax = await runQuery([], { cypher: "MATCH (h:Host RETURN h", url: server.url });
    assert.equal(syntax.code, 1);
    assert.match(syntax.stderr, /HTTP 400 syntax: Parser exception/);
  });
});

import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "@ringwatch/shared";
import type { CommandArgs } from "@ringwatch/shared";
import { runQueryCommand } from "../../src/http/query-command.js";

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runQuery(positionals: string[], values: CommandArgs["values"], configFile?: string): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  const code = await runQueryCommand({ values, positionals, debug: false, configFile }, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("cma/http/query-command (without a CMA)", () => {
  it("an unreachable CMA is exit code 1 with a message saying where it looked", async () => {
    const port = await closedPort();
    const r = await runQuery([], { list: true, url: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, new RegExp(`^ringwatch-cma query: cannot reach the CMA's HTTP API at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
  });

  it("the default URL comes from httpListen in the configuration; off means --url is needed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-query-"));
    const port = await closedPort();
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

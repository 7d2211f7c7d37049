import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, describeSchema, envName, loadConfig, parseDuration } from "../src/index.js";
import type { Schema } from "../src/index.js";

const schema = {
  heartbeatMs: { type: "duration", default: 1000, min: 10, doc: "how often" },
  port: { type: "port", default: 1984, doc: "udp port" },
  name: { type: "string", default: "x", doc: "a name" },
  mode: { type: "string", default: "a", oneOf: ["a", "b"], doc: "mode" },
  debug: { type: "bool", default: false, doc: "debug" },
  groups: { type: "string[]", default: [] as string[], doc: "groups" },
} satisfies Schema;

describe("config", () => {
  const dir = mkdtempSync(join(tmpdir(), "rw-config-"));
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it("applies defaults, then the file, then the environment, then the command line", () => {
    const f = file("ok.json", JSON.stringify({ heartbeatMs: "2s", name: "from-file", "// note": "comments allowed" }));
    const c = loadConfig(schema, { file: f, env: { RINGWATCH_NAME: "from-env", RINGWATCH_DEBUG: "yes", RINGWATCH_GROUPS: "a, b" }, overrides: { port: "2000" } });
    assert.deepEqual(c, { heartbeatMs: 2000, port: 2000, name: "from-env", mode: "a", debug: true, groups: ["a", "b"] });
  });

  it("tells which options were set explicitly (not left at their default)", () => {
    const explicit = new Set<string>();
    loadConfig(schema, { file: file("some.json", JSON.stringify({ heartbeatMs: 1000 })), env: { RINGWATCH_NAME: "n", RINGWATCH_MODE: "" }, overrides: { port: undefined, debug: true }, explicit });
    assert.deepEqual([...explicit].sort(), ["debug", "heartbeatMs", "name"]);
  });

  it("gives clear errors naming the source and the option", () => {
    assert.throws(() => loadConfig(schema, { file: file("typo.json", '{"hearbeatMs": 5}') }), (e: Error) => e instanceof ConfigError && /unknown option "hearbeatMs"/.test(e.message));
    assert.throws(() => loadConfig(schema, { file: file("bad.json", "{nope") }), /not valid JSON/);
    assert.throws(() => loadConfig(schema, { file: file("arr.json", "[]") }), /expected a JSON object/);
    assert.throws(() => loadConfig(schema, { file: join(dir, "missing.json") }), /missing\.json/);
    assert.throws(() => loadConfig(schema, { env: { RINGWATCH_HEARTBEAT_MS: "fast" } }), /environment RINGWATCH_HEARTBEAT_MS: heartbeatMs: expected a duration/);
    assert.throws(() => loadConfig(schema, { env: { RINGWATCH_HEARTBEAT_MS: "5" } }), /in \[10/);
    assert.throws(() => loadConfig(schema, { env: { RINGWATCH_PORT: "70000" } }), /port 0\.\.65535/);
    assert.throws(() => loadConfig(schema, { env: { RINGWATCH_MODE: "c" } }), /one of a, b/);
    assert.throws(() => loadConfig(schema, { file: file("t.json", '{"port": "1984"}') }), /expected an integer/);
  });

  it("parses durations and names environment variables", () => {
    assert.equal(parseDuration("1.5s"), 1500);
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration("250"), 250);
    assert.equal(parseDuration("soon"), undefined);
    assert.equal(envName("heartbeatMs"), "RINGWATCH_HEARTBEAT_MS");
    assert.match(describeSchema(schema), /RINGWATCH_PORT/);
  });
});

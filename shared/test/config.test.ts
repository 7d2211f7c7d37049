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
  group: { type: "string", default: "224.0.2.5", allowEmpty: true, doc: "a group; empty: none" },
  note: { type: "string", default: "", doc: "optional" },
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
    assert.deepEqual(c, { heartbeatMs: 2000, port: 2000, name: "from-env", group: "224.0.2.5", note: "", mode: "a", debug: true, groups: ["a", "b"] });
  });

  it("tells which options were set explicitly (not left at their default)", () => {
    const explicit = new Set<string>();
    loadConfig(schema, { file: file("some.json", JSON.stringify({ heartbeatMs: 1000 })), env: { RINGWATCH_NAME: "n", RINGWATCH_GROUP: "" }, overrides: { port: undefined, debug: true }, explicit });
    assert.deepEqual([...explicit].sort(), ["debug", "group", "heartbeatMs", "name"]);
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

  it("an empty environment value is a value: empty where empty is valid, a clear error where it is not", () => {
    const file1 = file("group.json", JSON.stringify({ group: "239.1.1.1", groups: ["x"] }));
    // empty overrides the file and the default; only an unset variable leaves them
    const c = loadConfig(schema, { file: file1, env: { RINGWATCH_GROUP: "", RINGWATCH_NOTE: "", RINGWATCH_GROUPS: "" } });
    assert.equal(c.group, "");
    assert.equal(c.note, "");
    assert.deepEqual(c.groups, []);
    assert.equal(loadConfig(schema, { file: file1, env: {} }).group, "239.1.1.1");
    const refused: [Record<string, string>, RegExp][] = [
      [{ RINGWATCH_PORT: "" }, /environment RINGWATCH_PORT: port: expected a port, not empty \(unset RINGWATCH_PORT for the default 1984\), got ""/],
      [{ RINGWATCH_HEARTBEAT_MS: " " }, /heartbeatMs: expected a duration, not empty/],
      [{ RINGWATCH_DEBUG: "" }, /debug: expected true or false, not empty/],
      [{ RINGWATCH_NAME: "" }, /name: expected a non-empty string \(unset RINGWATCH_NAME for the default "x"\)/],
      [{ RINGWATCH_MODE: "" }, /mode: expected a non-empty string/],
    ];
    for (const [env, message] of refused) assert.throws(() => loadConfig(schema, { env }), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(env));
    // the file is held to the same rule
    assert.throws(() => loadConfig(schema, { file: file("noname.json", JSON.stringify({ name: "" })) }), /name: expected a non-empty string, got ""/);
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

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StreamPositionStore, validatePositions } from "../../src/index.js";

describe("cma/intake/stats-stream-positions", () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "rw-positions-")); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("saves every position at once and loads them back", () => {
    const a = new StreamPositionStore(dir);
    assert.equal(a.load().positions.size, 0);
    a.set("hv1", { stream: 7, lastSeq: 3 });
    a.set("hv2", { stream: 0xffffffff, lastSeq: 1 });
    a.set("hv1", { stream: 7, lastSeq: 4 });
    assert.deepEqual(JSON.parse(readFileSync(a.path, "utf8")), { version: 1, hosts: { hv1: { stream: 7, lastSeq: 4 }, hv2: { stream: 0xffffffff, lastSeq: 1 } } });
    const b = new StreamPositionStore(dir).load();
    assert.equal(b.error, undefined);
    assert.deepEqual([...b.positions], [["hv1", { stream: 7, lastSeq: 4 }], ["hv2", { stream: 0xffffffff, lastSeq: 1 }]]);
  });

  it("refuses a file that does not validate: moved aside, reported, nothing half-trusted", () => {
    for (const bad of ["not json", "[]", '{"version":2,"hosts":{}}', '{"version":1,"hosts":[]}', '{"version":1,"hosts":{"hv1":{"stream":0,"lastSeq":3}}}',
      '{"version":1,"hosts":{"hv1":{"stream":5,"lastSeq":1.5}}}', '{"version":1,"hosts":{"hv1":null}}']) {
      writeFileSync(join(dir, "stats-streams.json"), bad);
      const r = new StreamPositionStore(dir).load();
      assert.ok(r.error, bad);
      assert.equal(r.positions.size, 0, bad);
    }
    assert.equal(readdirSync(dir).filter((f) => f.startsWith("stats-streams.json.corrupt-")).length >= 1, true);
    assert.throws(() => validatePositions({ version: 1, hosts: { hv1: { stream: 2 ** 32, lastSeq: 1 } } }), /bad stream/);
  });
});

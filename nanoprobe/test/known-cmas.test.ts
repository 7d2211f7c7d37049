import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import { KnownCmas } from "../src/index.js";

const A = { address: "10.0.0.1", port: 1984 };
const fmt = (l: { address: string; port: number }[]): string[] => l.map((a) => `${a.address}:${a.port}`);

describe("nanoprobe/known-cmas: the CMAs the leader lists, kept across restarts", () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "rw-known-cmas-")); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("announces to the CMA that answered, the configured ones, then the listed ones, each once", () => {
    const k = new KnownCmas([A], undefined, silentLogger());
    k.learn(["10.0.0.2:1984", "10.0.0.1:1984", "10.0.0.2:1984"]);
    assert.deepEqual(k.learnedList, ["10.0.0.2:1984", "10.0.0.1:1984"]);
    assert.deepEqual(fmt(k.announceTargets(undefined)), ["10.0.0.1:1984", "10.0.0.2:1984"]);
    assert.deepEqual(fmt(k.announceTargets({ address: "10.0.0.2", port: 1984 })), ["10.0.0.2:1984", "10.0.0.1:1984"]);
    assert.ok(k.knows({ address: "10.0.0.2", port: 1984 }));
    assert.equal(k.knows({ address: "10.0.0.3", port: 1984 }), false);
    assert.equal(k.counters.listsLearned, 1);
  });

  it("an empty list (a CMA alone) changes nothing; a malformed or too long one is refused and counted, the previous list kept", () => {
    const k = new KnownCmas([A], undefined, silentLogger());
    k.learn(["10.0.0.2:1984"]);
    k.learn([]);
    k.learn(["10.0.0.3"]);
    k.learn(Array.from({ length: 9 }, (_, i) => `10.0.1.${i}:1984`));
    assert.deepEqual(k.learnedList, ["10.0.0.2:1984"]);
    assert.equal(k.counters.badLists, 2);
    assert.equal(k.counters.listsLearned, 1);
  });

  it("the list is written to its file and read back by the next start", () => {
    const file = join(dir, "state/cma-addresses.json");
    new KnownCmas([A], file, silentLogger()).learn(["10.0.0.1:1984", "10.0.0.9:2000"]);
    assert.deepEqual((JSON.parse(readFileSync(file, "utf8")) as { cmas: string[] }).cmas, ["10.0.0.1:1984", "10.0.0.9:2000"]);
    const next = new KnownCmas([A], file, silentLogger());
    assert.deepEqual(fmt(next.announceTargets(undefined)), ["10.0.0.1:1984"], "nothing learned before load()");
    next.load();
    assert.deepEqual(fmt(next.announceTargets(undefined)), ["10.0.0.1:1984", "10.0.0.9:2000"]);
    assert.equal(next.counters.fileErrors, 0);
  });

  it("a missing file is no error; a bad one (not JSON, wrong shape, a bad address, too many, too large) is counted and ignored", () => {
    const file = join(dir, "cma-addresses.json");
    const none = new KnownCmas([A], file, silentLogger());
    none.load();
    assert.equal(none.counters.fileErrors, 0);
    const bad = ["{", '{"cmas": "10.0.0.2:1984"}', '{"cmas": [1984]}', '{"cmas": ["10.0.0.2"]}', JSON.stringify({ cmas: Array.from({ length: 9 }, (_, i) => `10.0.1.${i}:1984`) }), JSON.stringify({ cmas: ["10.0.0.2:1984"], pad: "x".repeat(5000) })];
    for (const text of bad) {
      writeFileSync(file, text);
      const k = new KnownCmas([A], file, silentLogger());
      k.load();
      assert.equal(k.counters.fileErrors, 1, text.slice(0, 40));
      assert.deepEqual(fmt(k.announceTargets(undefined)), ["10.0.0.1:1984"], text.slice(0, 40));
    }
  });

  it("a file that cannot be written is counted; the list still applies in memory", () => {
    writeFileSync(join(dir, "not-a-dir"), "");
    const k = new KnownCmas([A], join(dir, "not-a-dir/cma-addresses.json"), silentLogger());
    k.learn(["10.0.0.2:1984"]);
    assert.equal(k.counters.fileErrors, 1);
    assert.deepEqual(k.learnedList, ["10.0.0.2:1984"]);
  });
});

import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import { PairBook } from "../../../src/zabbix/sender/pair-book.js";
import { encodeValueEntry, pairIdOfEntry } from "../../../src/zabbix/sender/value-entry.js";

const pair = (host: string, key: string): string => pairIdOfEntry(encodeValueEntry({ host, key, value: 1, clock: 1, ns: 0 }))!;

describe("cma/zabbix/sender/pair-book", () => {
  it("remembers confirmed pairs across a restart, forgets forgotten ones, ignores torn and foreign lines", () => {
    const file = join(mkdtempSync(join(tmpdir(), "rw-pairs-")), "pairs.log");
    const a = PairBook.open(file, silentLogger());
    a.confirm(pair("h", "a"));
    a.confirm(pair("h", "b"));
    a.confirm(pair("h", "a"));
    a.confirm(pair("h", 'c["x"]'));
    a.forget([pair("h", "b")]);
    a.close();
    appendFileSync(file, `garbage\n+{"host":"h","key":"d"\n+{"host":"h","ke`); // a foreign line, a good one, a torn one
    const b = PairBook.open(file, silentLogger());
    assert.equal(b.counters.badLines, 1);
    assert.deepEqual([pair("h", "a"), pair("h", "b"), pair("h", 'c["x"]'), pair("h", "d")].map((p) => b.has(p)), [true, false, true, true]);
    assert.equal(b.size, 3);
    b.close();
    assert.equal(readFileSync(file, "utf8").split("\n").length - 1, 3, "compacted to one line per pair");
  });

  it("starts over past its bound (probing again is slower, never wrong)", () => {
    const file = join(mkdtempSync(join(tmpdir(), "rw-pairs-")), "pairs.log");
    const b = PairBook.open(file, silentLogger(), 3);
    for (const k of ["a", "b", "c", "d"]) b.confirm(pair("h", k));
    assert.equal(b.counters.resets, 1);
    assert.equal(b.size, 1);
    assert.ok(b.has(pair("h", "d")));
    b.close();
  });
});

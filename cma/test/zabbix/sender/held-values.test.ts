import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import { HeldValues } from "../../../src/zabbix/sender/held-values.js";
import { decodeValueEntry, encodeValueEntry, pairIdOfEntry } from "../../../src/zabbix/sender/value-entry.js";

const entry = (key: string, n: number): Buffer => encodeValueEntry({ host: "h", key, value: n, clock: 1000 + n, ns: n });
const values = (h: HeldValues, key: string): string[] => h.entries(pairIdOfEntry(entry(key, 0))!).map((e) => decodeValueEntry(e).value);

describe("cma/zabbix/sender/held-values", () => {
  it("holds values per pair in order, survives a restart, replaces atomically, cuts a torn tail", () => {
    const file = join(mkdtempSync(join(tmpdir(), "rw-held-")), "held.log");
    const a = HeldValues.open(file, 1 << 20, silentLogger());
    const pa = pairIdOfEntry(entry("a", 0))!;
    const pb = pairIdOfEntry(entry("b", 0))!;
    assert.ok(a.add(pa, [entry("a", 1), entry("a", 2)]));
    assert.ok(a.add(pb, [entry("b", 1)]));
    assert.ok(a.add(pa, [entry("a", 3)]));
    a.close();
    appendFileSync(file, Buffer.from([40, 0, 0, 0, 1, 2])); // torn record
    const b = HeldValues.open(file, 1 << 20, silentLogger());
    assert.equal(b.counters.corruptBytes, 6);
    assert.deepEqual(values(b, "a"), ["1", "2", "3"]);
    assert.deepEqual(values(b, "b"), ["1"]);
    b.replace(new Map([[pa, [entry("a", 3)]], [pb, []]]));
    assert.equal(b.values, 1);
    b.add(pa, [entry("a", 4)]);
    b.close();
    const c = HeldValues.open(file, 1 << 20, silentLogger());
    assert.deepEqual(c.pairs(), [pa]);
    assert.deepEqual(values(c, "a"), ["3", "4"]);
    c.close();
  });

  it("refuses past its bound", () => {
    const h = HeldValues.open(join(mkdtempSync(join(tmpdir(), "rw-held-")), "held.log"), 200, silentLogger());
    const p = pairIdOfEntry(entry("a", 0))!;
    assert.ok(h.add(p, [entry("a", 1)]));
    assert.equal(h.add(p, [entry("a", 2), entry("a", 3), entry("a", 4)]), false);
    assert.equal(h.values, 1);
    h.close();
  });
});

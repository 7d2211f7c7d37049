import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import { ValueSpool } from "../../../src/zabbix/sender/value-spool.js";
import type { SpoolCorruptEvent, SpoolDropEvent } from "../../../src/zabbix/sender/value-spool.js";

const log = silentLogger();
const rec = (i: number): Buffer => Buffer.from(`{"n":${i},"pad":"${"x".repeat(40)}"}`);
const num = (b: Buffer): number => (JSON.parse(b.toString()) as { n: number }).n;
const tmp = (): string => mkdtempSync(join(tmpdir(), "rw-spool-"));
const segFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith("seg-")).sort();

/** read everything left, committing as it goes */
function drain(s: ValueSpool, batch = 7): number[] {
  const out: number[] = [];
  for (;;) {
    const r = s.read(batch);
    if (!r.length) return out;
    out.push(...r.map((x) => num(x.payload)));
    s.commit(r.length);
  }
}

describe("cma/zabbix/sender/value-spool", () => {
  it("hands records out in append order across segments and deletes segments once committed", () => {
    const dir = tmp();
    const s = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1000 }, log);
    for (let i = 0; i < 100; i += 10) s.append(Array.from({ length: 10 }, (_, j) => rec(i + j)));
    assert.ok(segFiles(dir).length >= 5, "small segments rotate");
    assert.equal(s.unreadRecords, 100);
    const first = s.read(30);
    assert.deepEqual(first.map((r) => num(r.payload)), [...Array(30).keys()]);
    assert.equal(s.inflightRecords, 30);
    s.commit(30);
    assert.deepEqual(drain(s), Array.from({ length: 70 }, (_, i) => i + 30));
    assert.equal(s.unreadRecords, 0);
    assert.equal(s.inflightRecords, 0);
    assert.ok(segFiles(dir).length <= 2, `consumed segments deleted (left: ${segFiles(dir).join(",")})`);
    s.append([rec(100)]);
    assert.deepEqual(drain(s), [100]);
    s.close();
  });

  it("a new instance on the same directory resumes after the last commit: nothing lost, nothing committed twice", () => {
    const dir = tmp();
    const a = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 700 }, log);
    a.append(Array.from({ length: 50 }, (_, i) => rec(i)));
    const r = a.read(20);
    a.commit(12); // 12 delivered, 8 in flight when the process stops
    a.close();
    assert.equal(r.length, 20);
    const b = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 700 }, log);
    assert.equal(b.unreadRecords, 38);
    b.append([rec(50), rec(51)]);
    assert.deepEqual(drain(b, 5), Array.from({ length: 40 }, (_, i) => i + 12));
    b.close();
    const c = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 700 }, log);
    assert.equal(c.unreadRecords, 0);
    assert.deepEqual(c.read(10), []);
    c.close();
  });

  it("past its bound drops the oldest segment, counts the lost values and reports a drop event", () => {
    const dir = tmp();
    const s = ValueSpool.open({ dir, maxBytes: 3000, segmentBytes: 1000 }, log);
    const drops: SpoolDropEvent[] = [];
    s.on("drop", (e) => drops.push(e));
    for (let i = 0; i < 200; i++) s.append([rec(i)]);
    assert.ok(s.bytesOnDisk <= 3000, `bounded: ${s.bytesOnDisk}`);
    const total = segFiles(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    assert.equal(total, s.bytesOnDisk);
    assert.ok(drops.length > 0 && drops.every((d) => d.reason === "spoolFull" && d.records > 0));
    const dropped = drops.reduce((n, d) => n + d.records, 0);
    assert.equal(s.counters.dropped, dropped);
    const left = drain(s);
    assert.equal(left.length + dropped, 200);
    // what is left is the newest, still in order
    assert.deepEqual(left, Array.from({ length: left.length }, (_, i) => 200 - left.length + i));
    s.close();
  });

  it("records in flight when their segment is dropped can still be committed; the next read continues after the gap", () => {
    const dir = tmp();
    const s = ValueSpool.open({ dir, maxBytes: 3000, segmentBytes: 1000 }, log);
    for (let i = 0; i < 10; i++) s.append([rec(i)]);
    const inflight = s.read(5);
    for (let i = 10; i < 100; i++) s.append([rec(i)]);
    s.commit(inflight.length);
    const rest = drain(s);
    assert.ok(rest.length > 0 && rest[0]! > 4);
    assert.equal(inflight.length + rest.length + s.counters.dropped, 100);
    s.close();
    const again = ValueSpool.open({ dir, maxBytes: 3000, segmentBytes: 1000 }, log);
    assert.equal(again.unreadRecords, 0);
    again.close();
  });

  it("cuts a torn tail after a crash, counts it, reports it, and keeps every complete record in order", async () => {
    const dir = tmp();
    const a = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 16 }, log);
    a.append(Array.from({ length: 10 }, (_, i) => rec(i)));
    a.close();
    const file = join(dir, segFiles(dir).at(-1)!);
    const good = statSync(file).size;
    // a record whose header promises 60 bytes, cut after 5 (a crash mid-write)
    const torn = Buffer.alloc(13);
    torn.writeUInt32LE(60, 0);
    appendFileSync(file, torn);
    const events: SpoolCorruptEvent[] = [];
    const b = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 16 }, log);
    assert.equal(b.counters.corruptTails, 1);
    assert.equal(b.counters.corruptBytes, 13);
    assert.equal(statSync(file).size, good);
    b.on("corrupt", (e) => events.push(e));
    await new Promise((r) => process.nextTick(r));
    assert.deepEqual(events.map((e) => [e.file, e.offset, e.bytes]), [[file, good, 13]]);
    assert.match(events[0]!.reason, /cut after 5/);
    b.append([rec(10)]);
    assert.deepEqual(drain(b), [...Array(11).keys()]);
    b.close();
  });

  it("a checksum failure in the middle of a segment cuts the segment there (damaged bytes are never sent)", async () => {
    const dir = tmp();
    const a = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 16 }, log);
    a.append(Array.from({ length: 10 }, (_, i) => rec(i)));
    a.close();
    const file = join(dir, segFiles(dir)[0]!);
    const bytes = readFileSync(file);
    const recLen = bytes.length / 10;
    bytes[recLen * 4 + 20] ^= 0xff; // flip a byte inside record 4's payload
    writeFileSync(file, bytes);
    const events: SpoolCorruptEvent[] = [];
    const b = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 16 }, log);
    b.on("corrupt", (e) => events.push(e));
    await new Promise((r) => process.nextTick(r));
    assert.equal(b.counters.corruptTails, 1);
    assert.equal(b.counters.corruptBytes, recLen * 6);
    assert.deepEqual(events.map((e) => e.reason), ["record checksum mismatch"]);
    assert.deepEqual(drain(b), [0, 1, 2, 3]);
    b.close();
  });

  it("an unreadable commit position means resending from the oldest record (duplicates, never losses)", () => {
    const dir = tmp();
    const a = ValueSpool.open({ dir, maxBytes: 1 << 20 }, log);
    a.append(Array.from({ length: 5 }, (_, i) => rec(i)));
    a.read(3);
    a.commit(3);
    a.close();
    writeFileSync(join(dir, "committed.json"), '{"version":1,"segment":"x"');
    const b = ValueSpool.open({ dir, maxBytes: 1 << 20 }, log);
    assert.equal(b.counters.corruptTails, 1);
    assert.deepEqual(drain(b), [0, 1, 2, 3, 4]);
    b.close();
    // a position that is not on a record boundary resumes at the record before it
    const c = ValueSpool.open({ dir: tmp(), maxBytes: 1 << 20 }, log);
    c.append(Array.from({ length: 5 }, (_, i) => rec(i)));
    const r = c.read(2);
    c.commit(2);
    c.close();
    writeFileSync(join(c.dir, "committed.json"), JSON.stringify({ version: 1, segment: r[1]!.end.segment, offset: r[1]!.end.offset + 3 }));
    const d = ValueSpool.open({ dir: c.dir, maxBytes: 1 << 20 }, log);
    assert.deepEqual(drain(d), [2, 3, 4]);
    d.close();
  });

  it("a write the disk refuses is a drop event and a counter, not an exception; what was spooled before stays readable", () => {
    const dir = tmp();
    const s = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 200 }, log);
    const drops: SpoolDropEvent[] = [];
    s.on("drop", (e) => drops.push(e));
    s.append([rec(0), rec(1), rec(2)]); // fills segment 1 past 200 bytes
    // the next segment file is /dev/full: every write fails with ENOSPC
    symlinkSync("/dev/full", join(dir, "seg-000000000002.log"));
    assert.equal(s.append([rec(3)]), false);
    assert.equal(s.counters.writeErrors, 1);
    assert.deepEqual(drops.map((d) => [d.reason, d.records]), [["writeError", 1]]);
    assert.deepEqual(drain(s), [0, 1, 2]);
    s.close();
  });

  it("a segment file that cannot be created is a counted drop; the next write starts a segment that can", () => {
    const dir = tmp();
    const s = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 200 }, log);
    const drops: SpoolDropEvent[] = [];
    s.on("drop", (e) => drops.push(e));
    s.append([rec(0), rec(1), rec(2)]);
    mkdirSync(join(dir, "seg-000000000002.log")); // opening it for append fails (EISDIR)
    assert.equal(s.append([rec(3)]), false);
    assert.deepEqual(drops.map((d) => [d.reason, d.records]), [["writeError", 1]]);
    assert.equal(s.append([rec(4)]), true);
    assert.deepEqual(drain(s), [0, 1, 2, 4]);
    s.append([rec(5)]);
    s.close();
    // the stray directory does not stop the next start either
    const again = ValueSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 200 }, log);
    assert.deepEqual(drain(again), [5]);
    again.close();
  });
});

describe("cma/zabbix/sender/value-spool: when the oldest pending record was appended", () => {
  it("is the append time of the oldest record not yet confirmed; undefined once all are; 0 for records found at open", async () => {
    const dir = tmp();
    const s = ValueSpool.open({ dir, maxBytes: 1 << 20 }, log);
    assert.equal(s.oldestPendingAt(), undefined, "empty");
    const t1 = Date.now();
    s.append([rec(1), rec(2)]);
    await new Promise((r) => setTimeout(r, 150)); // past the 100 ms in which marks merge
    const t2 = Date.now();
    s.append([rec(3)]);
    const at1 = s.oldestPendingAt()!;
    assert.ok(at1 >= t1 && at1 < t2, `first records appended at ${at1}`);
    s.commit(s.read(1).length);
    assert.equal(s.oldestPendingAt(), at1, "one of the first two still waits");
    const inflight = s.read(1);
    assert.equal(s.oldestPendingAt(), at1, "read but not confirmed is still pending");
    s.commit(inflight.length);
    const at3 = s.oldestPendingAt()!;
    assert.ok(at3 >= t2, "now the third record's time");
    s.append([rec(4)]);
    s.close();
    const reopened = ValueSpool.open({ dir, maxBytes: 1 << 20 }, log);
    assert.equal(reopened.oldestPendingAt(), 0, "records of an earlier process: older than anything this one takes");
    drain(reopened);
    assert.equal(reopened.oldestPendingAt(), undefined);
  });
});

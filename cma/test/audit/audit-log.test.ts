/**
 * The audit log on real files in a temp dir: appending and reading back, restarts, a crash
 * mid-write (a torn tail written by hand, as a crash leaves it), damaged lines, retention by whole
 * days (files with older dates written by hand, the log's clock set: no sleeping), a disk that
 * refuses (the directory replaced by a file; a day file that is /dev/full), oversized input.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import { AuditLog, AuditRecordError, AuditWriteError, MAX_DETAIL_BYTES, MAX_FIELD_CHARS } from "../../src/audit/audit-log.js";
import type { AuditEntry, AuditRecord } from "../../src/audit/audit-log.js";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);

function rec(over: Partial<AuditRecord> = {}): AuditRecord {
  return { actor: "alice", via: "session", from: "10.0.0.5", action: "hostMaintenance", target: "hv1", outcome: "ok", ...over };
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const s of it) out.push(s);
  return out;
}

describe("cma/audit: the audit log on disk", () => {
  let base: string;
  let n = 0;
  /** a fresh directory per test, and a clock the test moves */
  const fresh = (): { dir: string; clock: { now: number }; open: (retentionDays?: number) => AuditLog } => {
    const dir = join(base, `log${++n}`);
    const clock = { now: T0 };
    return { dir, clock, open: (retentionDays = 400) => AuditLog.open(dir, { retentionDays, now: () => clock.now }, silentLogger()) };
  };
  const dayPath = (dir: string, ms: number): string => join(dir, `audit-${new Date(ms).toISOString().slice(0, 10)}.jsonl`);

  before(() => {
    base = mkdtempSync(join(tmpdir(), "rw-audit-"));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it("records entries as JSON lines (fsync'd, mode 0600) and reads them back newest first, filtered and bounded", async () => {
    const { dir, clock, open } = fresh();
    const log = open();
    const a = log.record(rec());
    clock.now += 1000;
    const b = log.record(rec({ actor: "bob", action: "hostRemove", target: "hv2", detail: { purge: true } }));
    clock.now += 1000;
    const c = log.record(rec({ actor: "local", via: "control-socket", from: "local", outcome: "invalid", detail: { error: "unknown-host" } }));
    assert.deepEqual([a.seq, b.seq, c.seq], [1, 2, 3]);
    assert.equal(b.time, new Date(T0 + 1000).toISOString());
    assert.deepEqual(b, { seq: 2, time: b.time, actor: "bob", via: "session", from: "10.0.0.5", action: "hostRemove", target: "hv2", outcome: "ok", detail: { purge: true } });

    const file = dayPath(dir, T0);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const lines = readFileSync(file, "utf8").split("\n");
    assert.equal(lines.pop(), "", "every line ends with a newline");
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as AuditEntry).seq), [1, 2, 3]);

    assert.deepEqual(log.list({}).map((e) => e.seq), [3, 2, 1]);
    assert.deepEqual(log.list({ limit: 2 }).map((e) => e.seq), [3, 2]);
    assert.deepEqual(log.list({ actor: "bob" }), [b]);
    assert.deepEqual(log.list({ action: "hostMaintenance" }).map((e) => e.seq), [3, 1]);
    assert.deepEqual(log.list({ since: T0 + 1000 }).map((e) => e.seq), [3, 2], "since is inclusive");
    assert.deepEqual(log.list({ until: T0 + 1000 }).map((e) => e.seq), [1], "until is exclusive");
    assert.deepEqual(log.list({ since: T0 + 1000, until: T0 + 2000 }).map((e) => e.seq), [2]);

    const exported = await collect(log.lines({}));
    assert.deepEqual(exported.map((l) => (JSON.parse(l) as AuditEntry).seq), [1, 2, 3], "export is oldest first");
    assert.ok(exported.every((l) => l.endsWith("\n")));
    assert.deepEqual(JSON.parse(exported[1]), b);
    assert.deepEqual((await collect(log.lines({ actor: "local" }))).map((l) => (JSON.parse(l) as AuditEntry).seq), [3]);
    assert.deepEqual((await collect(log.lines({ limit: 2 }))).length, 2);
    assert.throws(() => log.list({ limit: 0 }), RangeError);
    assert.equal(log.counters.records, 3);
    log.close();
    assert.throws(() => log.record(rec()), AuditWriteError, "closed: refused, not silently dropped");
  });

  it("keeps everything across a close and reopen (and across days); seq continues", () => {
    const { dir, clock, open } = fresh();
    let log = open();
    log.record(rec());
    log.record(rec());
    clock.now += DAY; // the next UTC day: a second file
    log.record(rec());
    log.close();
    assert.equal(readdirSync(dir).length, 2);
    log = open();
    assert.equal(log.lastSeq, 3);
    assert.equal(log.record(rec()).seq, 4);
    assert.deepEqual(log.list({}).map((e) => e.seq), [4, 3, 2, 1]);
    log.close();
    // the clock went back a day (a wrong clock corrected): the older file gets the entry, seq still grows
    clock.now -= DAY;
    log = open();
    assert.equal(log.record(rec()).seq, 5);
    log.close();
  });

  it("a torn tail (a crash mid-write) is cut at open and counted; nothing earlier is lost", () => {
    const { dir, open } = fresh();
    let log = open();
    for (let i = 0; i < 3; i++) log.record(rec({ detail: { i } }));
    log.close();
    const file = dayPath(dir, T0);
    const whole = readFileSync(file, "utf8");
    appendFileSync(file, '{"seq":4,"time":"2026-12-06T12:00:00.000Z","actor":"al'); // half a line, as a crash leaves it
    log = open();
    assert.equal(log.counters.tornTailsCut, 1);
    assert.equal(readFileSync(file, "utf8"), whole, "cut exactly at the end of the last whole line");
    assert.deepEqual(log.list({}).map((e) => e.detail), [{ i: 2 }, { i: 1 }, { i: 0 }]);
    assert.equal(log.record(rec()).seq, 4, "the next entry starts on a clean line");
    assert.equal(log.list({}).length, 4);
    assert.equal(log.counters.corruptLines, 0);
    log.close();
    // a whole last line that is not an entry (a crash between the bytes and the newline's flush, a bad disk): cut too
    appendFileSync(file, "garbage that is no JSON\n");
    log = open();
    assert.equal(log.counters.tornTailsCut, 1);
    assert.deepEqual(log.list({}).map((e) => e.seq), [4, 3, 2, 1]);
    log.close();
    // a file that is nothing but a torn line
    const { dir: dir2, open: open2 } = fresh();
    mkdirSync(dir2);
    writeFileSync(dayPath(dir2, T0), '{"seq":1,"ti');
    const log2 = open2();
    assert.equal(log2.counters.tornTailsCut, 1);
    assert.equal(readFileSync(dayPath(dir2, T0), "utf8"), "");
    assert.equal(log2.record(rec()).seq, 1);
    log2.close();
  });

  it("a damaged line in the middle is skipped and counted when reading, never fatal", async () => {
    const { dir, open } = fresh();
    let log = open();
    for (let i = 0; i < 3; i++) log.record(rec({ detail: { i } }));
    log.close();
    const file = dayPath(dir, T0);
    const lines = readFileSync(file, "utf8").split("\n");
    lines.splice(1, 0, "\u0000\u0000 zeroed block", '{"seq":"two","time":"x"}');
    writeFileSync(file, lines.join("\n"));
    log = open();
    assert.equal(log.counters.tornTailsCut, 0, "the tail is whole: nothing cut");
    assert.deepEqual(log.list({}).map((e) => e.seq), [3, 2, 1]);
    assert.equal(log.counters.corruptLines, 2);
    assert.deepEqual((await collect(log.lines({}))).map((l) => (JSON.parse(l) as AuditEntry).seq), [1, 2, 3]);
    assert.equal(log.counters.corruptLines, 4, "counted by every read that meets them");
    assert.equal(log.record(rec()).seq, 4);
    log.close();
  });

  it("deletes whole days past retention at open and when a new day starts; keeps newer days and other files", () => {
    const { dir, clock, open } = fresh();
    mkdirSync(dir);
    const line = (seq: number, ms: number): string => `${JSON.stringify({ seq, time: new Date(ms).toISOString(), actor: "a", via: "cli", from: "local", action: "userAdd", outcome: "ok" })}\n`;
    const old = [T0 - 500 * DAY, T0 - 11 * DAY]; // past 10 days' retention
    const kept = [T0 - 9 * DAY, T0 - 1 * DAY];
    [...old, ...kept].forEach((ms, i) => writeFileSync(dayPath(dir, ms), line(i + 1, ms)));
    writeFileSync(join(dir, "notes.txt"), "not the log's");
    const log = open(10);
    assert.equal(log.counters.expiredFiles, 2);
    for (const ms of old) assert.ok(!existsSync(dayPath(dir, ms)), "expired");
    for (const ms of kept) assert.ok(existsSync(dayPath(dir, ms)), "kept");
    assert.ok(existsSync(join(dir, "notes.txt")));
    assert.deepEqual(log.list({}).map((e) => e.seq), [4, 3]);
    assert.equal(log.lastSeq, 4);
    // a day later the 9-day-old file is past retention: the first entry of the new day expires it
    clock.now += 2 * DAY;
    assert.equal(log.record(rec()).seq, 5);
    assert.equal(log.counters.expiredFiles, 3);
    assert.ok(!existsSync(dayPath(dir, kept[0])));
    assert.ok(existsSync(dayPath(dir, kept[1])));
    log.close();
  });

  it("a disk that refuses: AuditWriteError thrown and counted, nothing reported as written; recovers when the disk does", () => {
    const { dir, open } = fresh();
    const log = open();
    log.record(rec());
    log.close();
    // the directory replaced by a file (works as root too, where a read-only mode would not stop writes)
    const reopened = open();
    rmSync(dir, { recursive: true });
    writeFileSync(dir, "not a directory");
    assert.throws(() => reopened.ready(), AuditWriteError);
    assert.throws(() => reopened.record(rec()), (e: Error) => e instanceof AuditWriteError && /ENOTDIR/.test(e.message));
    assert.equal(reopened.counters.writeErrors, 1);
    assert.equal(reopened.counters.records, 0);
    rmSync(dir);
    mkdirSync(dir);
    assert.equal(reopened.record(rec()).seq, 2, "works again once the directory is back");
    reopened.close();

    // a full disk: today's file is /dev/full (opens fine, every write fails with ENOSPC)
    const { dir: dir2, open: open2 } = fresh();
    mkdirSync(dir2);
    symlinkSync("/dev/full", dayPath(dir2, T0));
    const full = open2();
    full.ready(); // opening works: only writing shows a full disk
    assert.throws(() => full.record(rec()), (e: Error) => e instanceof AuditWriteError && /ENOSPC|no space/i.test(e.message));
    assert.throws(() => full.record(rec()), AuditWriteError);
    assert.equal(full.counters.writeErrors, 2);
    assert.equal(full.lastSeq, 0, "no seq spent on an entry not written");
    full.close();
  });

  it("bounds what it is given: long fields cut, an oversized detail trimmed to a preview, malformed records refused", () => {
    const { open } = fresh();
    const log = open();
    const big = { blob: "x".repeat(3 * MAX_DETAIL_BYTES), note: "keep?" };
    const e = log.record(rec({ actor: "a".repeat(1000), detail: big }));
    assert.equal(e.actor.length, MAX_FIELD_CHARS);
    assert.equal(e.detail!.trimmed, true);
    assert.equal(e.detail!.bytes, Buffer.byteLength(JSON.stringify(big)));
    assert.ok(typeof e.detail!.preview === "string" && (e.detail!.preview as string).startsWith('{"blob":"xxx'));
    assert.equal(log.counters.detailsTrimmed, 1);
    assert.deepEqual(log.list({})[0], e, "what was returned is what was written");
    const refused = [
      { ...rec(), outcome: "maybe" },
      { ...rec(), actor: "" },
      { ...rec(), via: undefined },
      { ...rec(), detail: ["not", "an", "object"] },
      { ...rec(), detail: { n: 10n } },
    ] as unknown as AuditRecord[];
    for (const r of refused) assert.throws(() => log.record(r), AuditRecordError);
    assert.equal(log.counters.refused, refused.length);
    assert.equal(log.list({}).length, 1, "nothing written for a refused record");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => log.record(rec({ detail: cyclic })), /detail is not JSON/);
    log.close();
  });

  it("another process appending to the same log (the offline CLI beside the CMA): seq stays unique and increasing", () => {
    const { open } = fresh();
    const cma = open();
    const cli = open();
    const seqs = [cma.record(rec()).seq, cli.record(rec({ actor: "cli", via: "cli" })).seq, cma.record(rec()).seq, cli.record(rec({ via: "cli", actor: "cli" })).seq, cma.record(rec()).seq];
    assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
    assert.deepEqual(cma.list({}).map((e) => e.seq), [5, 4, 3, 2, 1]);
    cma.close();
    cli.close();
  });
});

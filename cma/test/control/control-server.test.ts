/**
 * The control socket for real (a Unix socket in a temp dir) with the real HostControl behind it,
 * driven by the CLI's own client (`ringwatch-cma host`) and by raw bad input.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError, silentLogger } from "@ringwatch/shared";
import type { CommandArgs } from "@ringwatch/shared";
import { AuditLog } from "../../src/audit/audit-log.js";
import { ControlServer } from "../../src/control/control-server.js";
import { HostControl } from "../../src/membership/host-control.js";
import { Membership } from "../../src/membership/membership.js";
import { Suspicion } from "../../src/membership/suspicion.js";
import { parseUntil, runHostCommand } from "../../src/host-command.js";

function raw(path: string, text: string, end = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = "";
    s.setEncoding("utf8");
    s.on("connect", () => (end ? s.end(text) : s.write(text)));
    s.on("data", (c: string) => (buf += c));
    s.on("close", () => resolve(buf));
    s.on("error", reject);
  });
}

describe("cma/control: the control socket and ringwatch-cma host", () => {
  const dir = mkdtempSync(join(tmpdir(), "rw-ctl-"));
  const path = join(dir, "control.sock");
  const membership = new Membership(1);
  membership.upsert({ name: "hv7", machineId: "m", address: "127.0.0.7", port: 1984, segment: "127.0.0.0/24", state: "alive", since: 0, joinedAt: 0, version: "t", assignedKey: "?", unconfirmed: false });
  membership.upsert({ name: "hv8", machineId: "m", address: "127.0.0.8", port: 1984, segment: "127.0.0.0/24", state: "alive", since: 0, joinedAt: 0, version: "t", assignedKey: "?", unconfirmed: false });
  const suspicion = new Suspicion({ membership, probe: async () => true, event: () => undefined, replan: () => undefined, askToReannounce: () => undefined, log: silentLogger() }, { reannounceGraceMs: 1000, segmentRecheckMs: 1000 });
  const control = new HostControl({ membership, suspicion, event: () => undefined, replan: () => undefined, quiet: () => undefined, log: silentLogger() });
  const audit = AuditLog.open(join(dir, "audit"), { retentionDays: 400 }, silentLogger());
  let server: ControlServer;

  const host = async (positionals: string[], values: CommandArgs["values"]) => {
    let stdout = "";
    let stderr = "";
    const code = await runHostCommand({ values: { socket: path, ...values }, positionals, debug: false }, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
  };

  before(async () => {
    writeFileSync(join(dir, "plain-file"), "not a socket");
    // a stale socket left by a CMA that did not stop cleanly is replaced
    const stale = createServer();
    await new Promise<void>((r) => stale.listen(path, r));
    await assert.rejects(ControlServer.start(path, control, audit, silentLogger()), /another process listens/);
    await new Promise<void>((r) => stale.close(() => r()));
    writeFileSync(path, ""); // not a socket: refused, not deleted
    await assert.rejects(ControlServer.start(path, control, audit, silentLogger()), /not a socket/);
    rmSync(path);
    server = await ControlServer.start(path, control, audit, silentLogger());
  });

  after(async () => {
    await server.close();
    audit.close();
    control.stop();
    suspicion.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the socket is mode 0600: only the CMA's user (and root) may talk to it", () => {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(statSync(path).isSocket());
  });

  it("host maintenance / --end / remove through the CLI's client change the CMA's membership", async () => {
    const m = await host(["maintenance", "hv7"], { until: "2h", reason: "kernel upgrade" });
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /^hv7: maintenance until \S+Z \(kernel upgrade\)\n$/);
    assert.equal(membership.get("hv7")!.state, "maintenance");
    const e = await host(["maintenance", "hv7"], { end: true });
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, "hv7: alive\n");
    const r = await host(["remove", "hv8"], { purge: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(membership.get("hv8"), undefined);
    assert.ok(membership.isRemoved("hv8"));
    assert.equal(server.counters.done, 3);
  });

  it("bad input gets a clear error, is counted by reason, and changes nothing", async () => {
    const before = { ...server.counters.refused };
    const refusedNow = (code: string): number => (server.counters.refused[code] ?? 0) - (before[code] ?? 0);
    const u = await host(["maintenance", "nohost"], { until: "1h", reason: "x" });
    assert.equal(u.code, 1);
    assert.match(u.stderr, /refused \(unknown-host\): no host named "nohost"/);
    const long = await host(["maintenance", "hv7"], { until: "1h", reason: "r".repeat(300) });
    assert.match(long.stderr, /refused \(bad-reason\): reason too long: 300 characters/);
    const past = JSON.parse(await raw(path, `${JSON.stringify({ op: "maintenance", host: "hv7", until: Date.now() - 1, reason: "x" })}\n`));
    assert.deepEqual([past.ok, past.error], [false, "bad-time"]);
    const notJson = JSON.parse(await raw(path, "hello\n"));
    assert.deepEqual([notJson.ok, notJson.error], [false, "bad-request"]);
    const extra = JSON.parse(await raw(path, `${JSON.stringify({ op: "remove", host: "hv7", force: true })}\n`));
    assert.match(extra.message, /unknown field\(s\) for remove: force/);
    const big = JSON.parse(await raw(path, "x".repeat(10_000), false));
    assert.deepEqual([big.ok, big.error], [false, "too-large"]);
    const notIn = await host(["maintenance", "hv7"], { end: true });
    assert.match(notIn.stderr, /refused \(not-in-maintenance\)/);
    assert.deepEqual([refusedNow("unknown-host"), refusedNow("bad-reason"), refusedNow("bad-time"), refusedNow("bad-request"), refusedNow("too-large"), refusedNow("not-in-maintenance")], [1, 1, 1, 2, 1, 1]);
    assert.equal(membership.get("hv7")!.state, "alive", "nothing changed");
  });

  it("the CLI checks its arguments itself (exit 2 as a UsageError) and says when the CMA cannot be reached", async () => {
    await assert.rejects(host(["maintenance", "hv7"], { until: "tomorrow", reason: "x" }), UsageError);
    await assert.rejects(host(["maintenance", "hv7"], { reason: "x" }), UsageError);
    await assert.rejects(host(["remove", "hv7"], { until: "1h" }), UsageError);
    await assert.rejects(host(["reboot", "hv7"], {}), UsageError);
    assert.equal(parseUntil("90m", 1000), 1000 + 90 * 60_000);
    assert.equal(parseUntil("2026-12-24T06:00:00Z"), Date.UTC(2026, 11, 24, 6));
    const gone = await runHostCommand({ values: { socket: join(dir, "plain-file"), remove: undefined }, positionals: ["remove", "hv7"], debug: false }, { stdout: () => undefined, stderr: (t) => assert.match(t, /cannot reach the CMA's control socket/) });
    assert.equal(gone, 1);
  });
  it("every command is audited (actor local, via control-socket): done, refused and malformed alike", async () => {
    const from = audit.lastSeq;
    membership.upsert({ name: "hv9", machineId: "m", address: "127.0.0.9", port: 1984, segment: "127.0.0.0/24", state: "alive", since: 0, joinedAt: 0, version: "t", assignedKey: "?", unconfirmed: false });
    assert.equal((await host(["maintenance", "hv9"], { until: "2026-12-24T06:00:00Z", reason: "disk swap" })).code, 0);
    assert.equal((await host(["maintenance", "hv9"], { end: true })).code, 0);
    assert.equal((await host(["maintenance", "nohost"], { until: "1h", reason: "x" })).code, 1);
    assert.equal((await host(["remove", "hv9"], {})).code, 0);
    await raw(path, "hello\n");
    const entries = audit.list({}).filter((e) => e.seq > from).reverse();
    assert.deepEqual(entries.map((e) => [e.action, e.target, e.outcome]), [
      ["hostMaintenance", "hv9", "ok"], ["hostMaintenanceEnd", "hv9", "ok"], ["hostMaintenance", "nohost", "invalid"], ["hostRemove", "hv9", "ok"], ["controlRequest", undefined, "invalid"],
    ]);
    assert.ok(entries.every((e) => e.actor === "local" && e.via === "control-socket" && e.from === "local"));
    assert.deepEqual(entries[0].detail, { until: "2026-12-24T06:00:00.000Z", reason: "disk swap" });
    assert.deepEqual(entries[2].detail, { until: entries[2].detail!.until, reason: "x", error: "unknown-host", message: 'no host named "nohost"' });
    assert.deepEqual(entries[3].detail, { purge: false });
    assert.equal(entries[4].detail!.error, "bad-request");
  });

  it("a command is refused, changing nothing, when the audit log cannot be opened; done but answered as failed when its record cannot be written", async () => {
    membership.upsert({ name: "hv10", machineId: "m", address: "127.0.0.10", port: 1984, segment: "127.0.0.0/24", state: "alive", since: 0, joinedAt: 0, version: "t", assignedKey: "?", unconfirmed: false });
    // the audit directory replaced by a file: the log cannot be opened, so nothing is done
    const goneDir = join(dir, "audit-gone");
    const gone = AuditLog.open(goneDir, { retentionDays: 400 }, silentLogger());
    rmSync(goneDir, { recursive: true });
    writeFileSync(goneDir, "not a directory");
    const path2 = join(dir, "c2.sock");
    const s2 = await ControlServer.start(path2, control, gone, silentLogger());
    try {
      const r = await runHostCommand({ values: { socket: path2, until: "1h", reason: "x" }, positionals: ["maintenance", "hv10"], debug: false }, { stdout: () => undefined, stderr: (t) => assert.match(t, /refused \(audit-unavailable\): audit log: cannot write to .*ENOTDIR.*; nothing was changed/) });
      assert.equal(r, 1);
      assert.equal(membership.get("hv10")!.state, "alive", "nothing changed");
      assert.equal(s2.counters.refused["audit-unavailable"], 1);
    } finally {
      await s2.close();
      gone.close();
    }
    // a full disk: today's file is /dev/full — the maintenance is done, and the answer says it was not audited
    const fullDir = join(dir, "audit-full");
    mkdirSync(fullDir);
    symlinkSync("/dev/full", join(fullDir, `audit-${new Date().toISOString().slice(0, 10)}.jsonl`));
    const full = AuditLog.open(fullDir, { retentionDays: 400 }, silentLogger());
    const path3 = join(dir, "c3.sock");
    const s3 = await ControlServer.start(path3, control, full, silentLogger());
    try {
      let stderr = "";
      const r = await runHostCommand({ values: { socket: path3, until: "1h", reason: "x" }, positionals: ["maintenance", "hv10"], debug: false }, { stdout: () => undefined, stderr: (t) => (stderr += t) });
      assert.equal(r, 1);
      assert.match(stderr, /refused \(audit-failed\): maintenance hv10 was done, but its audit record could not be written \(audit log: .*ENOSPC/);
      assert.equal(membership.get("hv10")!.state, "maintenance");
      assert.equal(full.counters.writeErrors, 1);
    } finally {
      await s3.close();
      full.close();
    }
  });
});

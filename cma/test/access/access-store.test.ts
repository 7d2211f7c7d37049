/**
 * The access store on real files in temp directories: nothing secret in clear, the file's mode,
 * damaged files refused with a clear error, changes made by another process (the offline CLI)
 * seen without a restart, token expiry and revocation, the last admin kept.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@ringwatch/shared";
import { AccessError, AccessStore } from "../../src/access/access-store.js";
import { accessFilePath } from "../../src/access/access-file.js";
import { bootstrapAdmin } from "../../src/access/bootstrap.js";

const PASSWORD = "a long enough password";
const dir = (): string => mkdtempSync(join(tmpdir(), "rw-access-store-"));

describe("cma/access/access-store", function () {
  this.timeout(30_000);

  it("stores neither passwords nor tokens in clear (scrypt hashes with per-user salts, SHA-256 of token secrets), in a file of mode 0600", async () => {
    const d = dir();
    const s = AccessStore.open(d);
    await s.addUser("ann", "admin", PASSWORD);
    await s.addUser("bob", "viewer", PASSWORD);
    const { token } = s.createToken({ name: "zabbix", role: "viewer", expiresAt: null, createdBy: "test" });
    const text = readFileSync(accessFilePath(d), "utf8");
    assert.ok(!text.includes(PASSWORD), "no password in clear");
    const secret = token.slice("rwt_".length + 13); // the secret may itself hold "_"
    assert.ok(!text.includes(secret), "no token secret in clear");
    const doc = JSON.parse(text);
    assert.match(doc.users[0].passwordHash, /^scrypt\$32768\$8\$1\$/);
    assert.notEqual(doc.users[0].passwordHash.split("$")[4], doc.users[1].passwordHash.split("$")[4], "a salt per user");
    assert.match(doc.tokens[0].hash, /^[0-9a-f]{64}$/);
    assert.equal(statSync(accessFilePath(d)).mode & 0o777, 0o600);
    assert.ok(await s.checkPassword("ann", PASSWORD));
    assert.equal(await s.checkPassword("ann", `${PASSWORD}!`), undefined);
    assert.equal(await s.checkPassword("nobody", PASSWORD), undefined);
    assert.equal(s.checkToken(token).ok, true);
  });

  it("a damaged access file is a clear error naming the file, never an empty user list", () => {
    const cases: [string, RegExp][] = [
      ["{not json", /not JSON/],
      [JSON.stringify({ version: 1, users: {}, tokens: [] }), /\/users must be array/],
      [JSON.stringify({ version: 1, users: [{ name: "ann", role: "god", passwordHash: "x", createdAt: 0, passwordChangedAt: 0 }], tokens: [] }), /\/users\/0\/role/],
      [JSON.stringify({ version: 1, users: [{ name: "ann", role: "admin", passwordHash: "plaintext", createdAt: 0, passwordChangedAt: 0 }], tokens: [] }), /no valid scrypt password hash/],
      [JSON.stringify({ version: 2, users: [], tokens: [] }), /\/version/],
      ["", /not JSON/],
    ];
    for (const [text, msg] of cases) {
      const d = dir();
      writeFileSync(accessFilePath(d), text);
      assert.throws(() => AccessStore.open(d), (e: Error) => e instanceof ConfigError && e.message.includes(accessFilePath(d)) && msg.test(e.message), text);
    }
  });

  it("sees users and tokens another process adds or revokes without being reopened; a file damaged while running keeps the last good state", async () => {
    const d = dir();
    const running = AccessStore.open(d); // the CMA's
    const cli = AccessStore.open(d); // the offline CLI's
    await cli.addUser("carl", "operator", PASSWORD);
    assert.equal(running.user("carl")?.role, "operator");
    assert.ok(await running.checkPassword("carl", PASSWORD));
    const { token, view } = cli.createToken({ name: "script", role: "operator", expiresAt: null, createdBy: "cli" });
    assert.equal(running.checkToken(token).ok, true);
    cli.revokeToken(view.id);
    assert.deepEqual(running.checkToken(token), { ok: false, why: "revoked" });
    writeFileSync(accessFilePath(d), "{damaged");
    assert.equal(running.user("carl")?.role, "operator", "the last good state stays");
    assert.equal(running.counters.reloadErrors, 1);
    await assert.rejects(running.addUser("dan", "viewer", PASSWORD), ConfigError, "never overwrites a file it cannot read");
  });

  it("tokens expire and are revoked; names, roles, expiries and passwords are checked; the last admin cannot be removed", async () => {
    const s = AccessStore.open(dir());
    const now = Date.now();
    const t = s.createToken({ name: "short-lived", role: "viewer", expiresAt: now - 1000, createdBy: "test" }, now - 5000); // made 5 s ago for 4 s
    assert.deepEqual(s.checkToken(t.token), { ok: false, why: "expired" });
    assert.equal(s.tokens().find((x) => x.id === t.view.id)!.state, "expired");
    assert.deepEqual(s.checkToken("rwt_000000000000_" + "A".repeat(43)), { ok: false, why: "unknown" });
    assert.deepEqual(s.checkToken("hello"), { ok: false, why: "malformed" });
    const refused: [() => unknown, string][] = [
      [() => s.createToken({ name: "", role: "viewer", expiresAt: null, createdBy: "t" }), "bad-name"],
      [() => s.createToken({ name: "x", role: "root", expiresAt: null, createdBy: "t" }), "bad-role"],
      [() => s.createToken({ name: "x", role: "viewer", expiresAt: now - 1, createdBy: "t" }), "bad-expiry"],
      [() => s.revokeToken("123"), "unknown-token"],
    ];
    for (const [fn, code] of refused) assert.throws(fn, (e: Error) => e instanceof AccessError && e.code === code, code);
    await assert.rejects(s.addUser("bad name", "viewer", PASSWORD), (e: AccessError) => e.code === "bad-name");
    await assert.rejects(s.addUser("eve", "viewer", "short"), (e: AccessError) => e.code === "bad-password");
    await s.addUser("root", "admin", PASSWORD);
    await assert.rejects(s.addUser("root", "viewer", PASSWORD), (e: AccessError) => e.code === "exists");
    assert.throws(() => s.removeUser("root"), (e: AccessError) => e.code === "last-admin");
    await s.addUser("root2", "admin", PASSWORD);
    s.removeUser("root");
    assert.deepEqual(s.users().map((u) => u.name), ["root2"]);
  });

  it("the first start creates admin with a generated password (never a fixed one) or the one from a file; with users present nothing happens", async () => {
    const a = AccessStore.open(dir()), b = AccessStore.open(dir());
    const ga = await bootstrapAdmin(a, ""), gb = await bootstrapAdmin(b, "");
    assert.ok(ga?.generatedPassword && gb?.generatedPassword);
    assert.notEqual(ga.generatedPassword, gb.generatedPassword);
    assert.ok(ga.generatedPassword.length >= 20);
    assert.ok(await a.checkPassword("admin", ga.generatedPassword));
    assert.equal(await bootstrapAdmin(a, ""), undefined, "users exist: nothing made");
    const d = dir();
    writeFileSync(join(d, "pw"), `${PASSWORD}\n`);
    const c = AccessStore.open(d);
    assert.deepEqual(await bootstrapAdmin(c, join(d, "pw")), { user: "admin" });
    assert.ok(await c.checkPassword("admin", PASSWORD), "the file's first line, without its newline");
    writeFileSync(join(d, "short"), "abc\n");
    await assert.rejects(bootstrapAdmin(AccessStore.open(dir()), join(d, "short")), (e: Error) => e instanceof ConfigError && /adminPasswordFile/.test(e.message));
  });

  it("the first admin's creation is recorded (never its password); an audit log refusing it does not lose the generated password", async () => {
    const records: unknown[] = [];
    const made = await bootstrapAdmin(AccessStore.open(dir()), "", { record: (r) => records.push(r) });
    assert.deepEqual(records, [{ actor: "system", via: "startup", from: "local", action: "userAdd", target: "admin", outcome: "ok", detail: { role: "admin", firstStart: true, password: "generated" } }]);
    assert.ok(!JSON.stringify(records).includes(made!.generatedPassword!));
    const refused = await bootstrapAdmin(AccessStore.open(dir()), "", { record: () => { throw new Error("audit log: disk full"); } });
    assert.ok(refused?.generatedPassword, "still handed back to be printed");
    assert.equal(refused.auditError, "audit log: disk full");
  });
});

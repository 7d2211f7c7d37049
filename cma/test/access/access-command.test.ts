/**
 * `ringwatch-cma user|token` (runAccessCommand, the same code the CLI runs): offline on a real data
 * directory, and through a real listening API with an admin's token.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError, silentLogger } from "@ringwatch/shared";
import type { CommandArgs } from "@ringwatch/shared";
import { runAccessCommand } from "../../src/access-command.js";
import { AccessStore } from "../../src/access/access-store.js";
import { AuditLog } from "../../src/audit/audit-log.js";
import { HttpServer } from "../../src/http/server.js";
import { API_OPTIONS, scenarioParts, sources } from "../http/api-fixture.js";

const PASSWORD = "a long enough password";

async function run(kind: "user" | "token", positionals: string[], values: CommandArgs["values"], stdin = "", env: Record<string, string> = {}) {
  let stdout = "", stderr = "";
  const saved = process.env.RINGWATCH_TOKEN;
  if (env.RINGWATCH_TOKEN) process.env.RINGWATCH_TOKEN = env.RINGWATCH_TOKEN;
  try {
    const code = await runAccessCommand(kind, { values, positionals, debug: false }, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stdin: () => stdin });
    return { code, stdout, stderr };
  } finally {
    if (saved === undefined) delete process.env.RINGWATCH_TOKEN;
    else process.env.RINGWATCH_TOKEN = saved;
  }
}

describe("cma/access-command: ringwatch-cma user and token", function () {
  this.timeout(30_000);

  it("offline on the data directory: add (password from a file or stdin), list, passwd, remove; tokens created once, listed without secret, revoked", async () => {
    const d = mkdtempSync(join(tmpdir(), "rw-access-cli-"));
    writeFileSync(join(d, "pw"), `${PASSWORD}\n`);
    const add = await run("user", ["add", "ann"], { "data-dir": d, role: "admin", "password-file": join(d, "pw") });
    assert.equal(add.code, 0, add.stderr);
    assert.equal((await run("user", ["add", "bob"], { "data-dir": d, role: "viewer" }, `${PASSWORD}\n`)).code, 0);
    const store = AccessStore.open(d);
    assert.ok(await store.checkPassword("bob", PASSWORD), "the password from stdin, without its newline");
    const list = await run("user", ["list"], { "data-dir": d });
    assert.match(list.stdout, /^ann +\| admin/m);
    assert.match(list.stdout, /^bob +\| viewer/m);
    assert.equal((await run("user", ["passwd", "bob"], { "data-dir": d }, "another long password\n")).code, 0);
    assert.ok(await store.checkPassword("bob", "another long password"));
    const dup = await run("user", ["add", "bob"], { "data-dir": d, role: "viewer" }, `${PASSWORD}\n`);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /user bob exists already/);
    assert.equal((await run("user", ["remove", "bob"], { "data-dir": d })).code, 0);
    const last = await run("user", ["remove", "ann"], { "data-dir": d });
    assert.equal(last.code, 1);
    assert.match(last.stderr, /last admin/);

    const made = await run("token", ["create"], { "data-dir": d, name: "zabbix", role: "viewer", expires: "30d" });
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    assert.match(token, /^rwt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/, "stdout is the token alone (for > file)");
    assert.match(made.stderr, /shown only now/);
    const id = token.split("_")[1];
    const tokens = await run("token", ["list"], { "data-dir": d });
    assert.match(tokens.stdout, new RegExp(`^${id} +\\| zabbix +\\| viewer +\\| active`, "m"));
    assert.ok(!tokens.stdout.includes(token.slice("rwt_".length + 13)));
    assert.equal((await run("token", ["revoke", id], { "data-dir": d })).code, 0);
    assert.deepEqual(store.checkToken(token), { ok: false, why: "revoked" });
    // each change (and each refusal) is in the CMA's audit log, actor "cli"
    const log = AuditLog.open(join(d, "audit"), { retentionDays: 10 }, silentLogger());
    const entries = log.list({}).reverse();
    log.close();
    assert.deepEqual(entries.map((e) => [e.actor, e.via, e.action, e.target, e.outcome]), [
      ["cli", "cli", "userAdd", "ann", "ok"], ["cli", "cli", "userAdd", "bob", "ok"], ["cli", "cli", "userPasswd", "bob", "ok"], ["cli", "cli", "userAdd", "bob", "invalid"],
      ["cli", "cli", "userRemove", "bob", "ok"], ["cli", "cli", "userRemove", "ann", "invalid"], ["cli", "cli", "tokenCreate", "zabbix", "ok"], ["cli", "cli", "tokenRevoke", id, "ok"],
    ]);
  });

  it("bad input is a usage error (exit code 2 from the CLI) with a clear message", async () => {
    const d = mkdtempSync(join(tmpdir(), "rw-access-cli-"));
    const bad: ["user" | "token", string[], CommandArgs["values"], string, RegExp][] = [
      ["user", ["add", "ann"], { "data-dir": d }, PASSWORD, /needs --role/],
      ["user", ["add", "ann"], { "data-dir": d, role: "root" }, PASSWORD, /a role is one of viewer, operator, admin/],
      ["user", ["add", "ann"], { "data-dir": d, role: "viewer" }, "", /no password/],
      ["user", ["add", "ann"], { "data-dir": d, role: "viewer" }, "short\n", /at least 12 characters/],
      ["user", ["add", "a b"], { "data-dir": d, role: "viewer" }, PASSWORD, /a user name is/],
      ["user", ["add", "ann", "bob"], { "data-dir": d, role: "viewer" }, PASSWORD, /one user at a time/],
      ["user", ["frob"], { "data-dir": d }, "", /give add, passwd, remove or list/],
      ["token", ["create"], { "data-dir": d, role: "viewer" }, "", /needs --name/],
      ["token", ["create"], { "data-dir": d, name: "x", role: "viewer", expires: "soon" }, "", /--expires/],
      ["token", ["list"], { "data-dir": d, url: "http://127.0.0.1:9" }, "", /exclude each other/],
    ];
    for (const [kind, pos, values, stdin, msg] of bad) {
      await assert.rejects(run(kind, pos, values, stdin), (e: Error) => e instanceof UsageError && msg.test(e.message), `${kind} ${pos.join(" ")} ${JSON.stringify(values)}`);
    }
  });

  it("through a running API with --url: an admin's token may, a viewer's is refused (exit 1), no token says how to give one; the change is in the file", async () => {
    const d = mkdtempSync(join(tmpdir(), "rw-access-cli-"));
    const store = AccessStore.open(d);
    const admin = store.createToken({ name: "admin", role: "admin", expiresAt: null, createdBy: "test" }).token;
    const viewer = store.createToken({ name: "viewer", role: "viewer", expiresAt: null, createdBy: "test" }).token;
    writeFileSync(join(d, "admin.token"), `${admin}\n`);
    const server = await HttpServer.start({ host: "127.0.0.1", port: 0 }, { ...sources(scenarioParts()), access: store }, API_OPTIONS, silentLogger());
    try {
      const url = server.url;
      const add = await run("user", ["add", "vera"], { url, "token-file": join(d, "admin.token"), role: "viewer" }, `${PASSWORD}\n`);
      assert.equal(add.code, 0, add.stderr);
      assert.equal(AccessStore.open(d).user("vera")?.role, "viewer", "written to the CMA's access file");
      const made = await run("token", ["create"], { url, name: "script", role: "operator", expires: "never" }, "", { RINGWATCH_TOKEN: admin });
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stdout.trim(), /^rwt_/);
      const refused = await run("user", ["list"], { url }, "", { RINGWATCH_TOKEN: viewer });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /HTTP 403 forbidden: GET \/api\/users needs the admin role/);
      const none = await run("user", ["list"], { url });
      assert.equal(none.code, 1);
      assert.match(none.stderr, /HTTP 401 unauthenticated: .*no API token given: --token-file FILE or RINGWATCH_TOKEN/);
      const bad = await run("user", ["add", "x"], { url, "token-file": join(d, "admin.token"), role: "viewer" }, "short\n");
      assert.equal(bad.code, 2, "bad input refused by the API is exit code 2 as well");
    } finally {
      await server.close();
    }
  });
});

/**
 * System test of access control with a real CMA process over real HTTP(S): the first start makes
 * the admin (password from a file, or generated and printed once), users and tokens made by the
 * offline CLI (real processes) count in the running CMA without a restart, a damaged access file
 * stops the start with a clear error, and HTTPS with Secure cookies.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CMA_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";

const PASSWORD = "the demo admin password";

describe("system: access control on a real CMA", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-access-sys-"));
  const procs: RunningProcess[] = [];
  let common: Record<string, string> = {};
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  before(async () => {
    const keys = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(keys.code, 0, keys.stderr);
    common = {
      RINGWATCH_CLUSTER: "accesstest", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"),
      RINGWATCH_STATUS_INTERVAL_MS: "0", RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: "0", RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_GRAPH_STORE: "none",
      RINGWATCH_CONTROL_SOCKET: "off",
    };
  });

  const start = async (name: string, env: Record<string, string>): Promise<{ cma: RunningProcess; url: string }> => {
    const cma = startProcess(name, CMA_CLI, ["run"], { ...common, ...env });
    procs.push(cma);
    const started = await cma.waitFor((l) => l.msg === "CMA started", 20_000, "CMA started");
    return { cma, url: String(started.http) };
  };

  const signIn = (url: string, user: string, password: string) => fetch(`${url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user, password }) });

  it("first start: admin with the password from adminPasswordFile; users and tokens from the offline CLI work at once, revocation too", async () => {
    const data = join(dir, "state");
    writeFileSync(join(dir, "admin-password"), `${PASSWORD}\n`, { mode: 0o600 });
    const { cma, url } = await start("cma", { RINGWATCH_DATA_DIR: data, RINGWATCH_ADMIN_PASSWORD_FILE: join(dir, "admin-password") });
    assert.ok(!cma.stderr.join("\n").includes("with password"), "nothing printed: the password came from the file");
    assert.equal((await fetch(`${url}/api/hosts`)).status, 401);
    assert.equal((await fetch(`${url}/api/health`)).status, 200);
    assert.equal((await signIn(url, "admin", "a wrong password")).status, 401);
    const ok = await signIn(url, "admin", PASSWORD);
    assert.equal(ok.status, 200);
    const cookie = ok.headers.get("set-cookie")!.split(";")[0];
    assert.equal((await fetch(`${url}/api/users`, { headers: { cookie } })).status, 200);

    // while it runs: a user and a token made offline by the CLI, as other processes
    writeFileSync(join(dir, "olga-password"), "olga's long password\n");
    const add = await runToExit(CMA_CLI, ["user", "add", "olga", "--role", "operator", "--data-dir", data, "--password-file", join(dir, "olga-password")]);
    assert.equal(add.code, 0, add.stderr);
    const olga = await signIn(url, "olga", "olga's long password");
    assert.equal(olga.status, 200, "signed in without a restart");
    assert.equal(((await olga.json()) as { role: string }).role, "operator");
    const made = await runToExit(CMA_CLI, ["token", "create", "--data-dir", data, "--name", "zabbix", "--role", "viewer", "--expires", "1d"]);
    assert.equal(made.code, 0, made.stderr);
    const auth = { authorization: `Bearer ${made.stdout.trim()}` };
    assert.equal((await fetch(`${url}/api/hosts`, { headers: auth })).status, 200);
    assert.equal((await fetch(`${url}/api/users`, { headers: auth })).status, 403, "a viewer token is a viewer");
    const revoke = await runToExit(CMA_CLI, ["token", "revoke", made.stdout.trim().split("_")[1], "--data-dir", data]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal((await fetch(`${url}/api/hosts`, { headers: auth })).status, 401, "revoked at once");
    // the query command with a token from the environment
    const viewer = await runToExit(CMA_CLI, ["token", "create", "--data-dir", data, "--name", "q", "--role", "viewer"]);
    const q = await runToExit(CMA_CLI, ["query", "--list", "--url", url], { RINGWATCH_TOKEN: viewer.stdout.trim() });
    assert.equal(q.code, 1, "no graph store here: 503, but past access control");
    assert.match(q.stderr, /HTTP 503 unavailable/);
    const status = (await (await fetch(`${url}/api/status`, { headers: { cookie } })).json()) as { access: { unauthenticated: number; signInFailures: number; forbidden: number } };
    assert.deepEqual([status.access.unauthenticated, status.access.signInFailures, status.access.forbidden], [2, 1, 1]);
    await cma.stop();
  });

  it("a damaged access file stops the start with exit code 2 and a message naming it", async () => {
    const data = join(dir, "damaged");
    mkdirSync(data);
    writeFileSync(join(data, "access.json"), '{"version":1,"users":[{"name":"ann"}],"tokens":[]}');
    const r = await runToExit(CMA_CLI, ["run"], { ...common, RINGWATCH_DATA_DIR: data, RINGWATCH_HTTP_LISTEN: "127.0.0.1:0" });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`access file ${join(data, "access.json")}: /users/0 must have required property`));
  });

  it("over HTTPS (httpsCert/httpsKey): a generated admin password printed once, Secure session cookies; a missing key file is a clear error", async () => {
    const cert = join(dir, "cert.pem"), key = join(dir, "key.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
    const missing = await runToExit(CMA_CLI, ["run"], { ...common, RINGWATCH_DATA_DIR: join(dir, "tls-missing"), RINGWATCH_HTTP_LISTEN: "127.0.0.1:0", RINGWATCH_HTTPS_CERT: cert });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /httpsCert and httpsKey go together: httpsKey is missing/);
    const { cma, url } = await start("cma-tls", { RINGWATCH_DATA_DIR: join(dir, "tls"), RINGWATCH_HTTPS_CERT: cert, RINGWATCH_HTTPS_KEY: key });
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const printed = /with password: (\S+)/.exec(cma.stderr.join("\n"));
    assert.ok(printed, `the generated password on stderr: ${cma.stderr.join(" | ")}`);
    assert.ok(!readFileSync(join(dir, "tls", "access.json"), "utf8").includes(printed[1]), "kept only as a hash");
    const ca = readFileSync(cert);
    const res = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
      const req = request(`${url}/api/session`, { method: "POST", ca, headers: { "content-type": "application/json" } }, (r) => {
        r.resume();
        r.on("end", () => resolve({ status: r.statusCode!, cookie: String(r.headers["set-cookie"]) }));
      });
      req.on("error", reject);
      req.end(JSON.stringify({ user: "admin", password: printed[1] }));
    });
    assert.equal(res.status, 200);
    assert.match(res.cookie, /; Secure/);
    assert.match(res.cookie, /HttpOnly/);
    await cma.stop();
  });
});

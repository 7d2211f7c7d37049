/**
 * `ringwatch-cma host` with an API token: through the real HTTP API (HttpServer on loopback, the
 * same HostControl the control socket drives), with the token's role and audited as the token.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@ringwatch/shared";
import type { CommandArgs } from "@ringwatch/shared";
import { AuditLog } from "../src/audit/audit-log.js";
import { runHostCommand } from "../src/host-command.js";
import { HttpServer } from "../src/http/server.js";
import { HostControl } from "../src/membership/host-control.js";
import { Suspicion } from "../src/membership/suspicion.js";
import { API_OPTIONS, scenarioParts, sources } from "./http/api-fixture.js";
import { tokenStore } from "./support/access.js";

describe("cma/host-command over the HTTP API (a token given)", function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-hostcmd-"));
  const parts = scenarioParts();
  const { membership } = parts;
  const suspicion = new Suspicion({ membership, probe: async () => true, event: () => undefined, replan: () => undefined, askToReannounce: () => undefined, log: silentLogger() }, { reannounceGraceMs: 1000, segmentRecheckMs: 1000 });
  const control = new HostControl({ membership, suspicion, event: () => undefined, replan: () => undefined, quiet: () => undefined, log: silentLogger() });
  const audit = AuditLog.open(join(dir, "audit"), { retentionDays: 10 }, silentLogger());
  const operator = tokenStore("operator");
  const admin = operator.store.createToken({ name: "test admin", role: "admin", expiresAt: null, createdBy: "test" }).token;
  const operatorFile = join(dir, "operator.token");
  writeFileSync(operatorFile, `${operator.token}\n`, { mode: 0o600 });
  let server: HttpServer;

  const host = async (positionals: string[], values: CommandArgs["values"], env?: string) => {
    let stdout = "", stderr = "";
    const saved = process.env.RINGWATCH_TOKEN;
    if (env === undefined) delete process.env.RINGWATCH_TOKEN;
    else process.env.RINGWATCH_TOKEN = env;
    try {
      const code = await runHostCommand({ values: { url: server.url, ...values }, positionals, debug: false }, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
      return { code, stdout, stderr };
    } finally {
      if (saved === undefined) delete process.env.RINGWATCH_TOKEN;
      else process.env.RINGWATCH_TOKEN = saved;
    }
  };

  before(async () => {
    server = await HttpServer.start({ host: "127.0.0.1", port: 0 }, { ...sources(parts, undefined, operator), hostControl: control, audit }, API_OPTIONS, silentLogger());
  });
  after(async () => {
    await server.close();
    audit.close();
    control.stop();
    suspicion.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("maintenance and its end with an operator's token file; removal needs an admin's (from RINGWATCH_TOKEN); each audited as the token", async () => {
    const from = audit.lastSeq;
    const m = await host(["maintenance", "hv2"], { until: "2h", reason: "kernel update", "token-file": operatorFile });
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /^hv2: maintenance until \S+ \(kernel update\)/);
    assert.equal(membership.get("hv2")?.maintenance?.reason, "kernel update");
    const end = await host(["maintenance", "hv2"], { end: true, "token-file": operatorFile });
    assert.equal(end.code, 0, end.stderr);
    assert.equal(membership.get("hv2")?.maintenance, undefined);

    const refused = await host(["remove", "hv2"], { "token-file": operatorFile });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /HTTP 403 forbidden: POST \/api\/hosts\/:host\/remove needs the admin role/);
    assert.ok(membership.get("hv2"), "an operator cannot remove");
    const removed = await host(["remove", "hv2"], { purge: true }, admin);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, "hv2: removed (its Zabbix host will be deleted)\n");
    assert.equal(membership.get("hv2"), undefined);

    const entries = audit.list({}).filter((e) => e.seq > from).reverse();
    assert.deepEqual(entries.map((e) => [e.action, e.target, e.outcome, e.via]), [
      ["hostMaintenance", "hv2", "ok", "token"], ["hostMaintenanceEnd", "hv2", "ok", "token"],
      ["forbidden", "POST /api/hosts/:host/remove", "denied", "token"], ["hostRemove", "hv2", "ok", "token"],
    ], JSON.stringify(entries));
  });

  it("without any token through --url: the API's 401 names the missing token; a refusal of HostControl is the API's", async () => {
    const none = await host(["maintenance", "hv1"], { until: "1h", reason: "x" });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /HTTP 401 .*no API token given: --token-file FILE or RINGWATCH_TOKEN/);
    const unknown = await host(["maintenance", "nohost"], { until: "1h", reason: "x", "token-file": operatorFile });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /HTTP 404/);
  });
});

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, Endpoint, Keyring, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import { Cma, cmaConfig } from "../src/index.js";
import type { CmaConfig } from "../src/index.js";
import { namedQueries } from "../src/graph/named-queries.js";
import { prepareAccess } from "./support/access.js";
import { AuditWriteError } from "../src/audit/audit-log.js";
import { controlCall } from "../src/host-command.js";
import { GUEST, Host, MIN } from "./history/history-fixture.js";

describe("cma/cma: the HTTP API's place in the CMA", function () {
  const keyring = new Keyring("cmatest", makeClusterKey(randomBytes(32)));
  const commandKey = newKeyPair("ed25519").privateKey;
  /** each started CMA's admin token, made offline in its data directory before it started */
  const tokens = new WeakMap<Cma, { authorization: string }>();
  const auth = (c: Cma): { authorization: string } => tokens.get(c)!;
  const start = async (over: Partial<CmaConfig>): Promise<Cma> => {
    const dataDir = over.dataDir ?? mkdtempSync(join(tmpdir(), "rw-cma-"));
    const credentials = await prepareAccess(dataDir);
    const cma = await Cma.start(cmaConfig({
      cluster: "cmatest", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", ...over, dataDir,
    }), { keyring, commandKey, log: silentLogger() });
    tokens.set(cma, credentials.auth);
    return cma;
  };

  it("starts the API when httpListen is set, counts its requests in the status, and closes it on stop", async () => {
    const cma = await start({ httpListen: "127.0.0.1:0" });
    const url = cma.http!.url;
    try {
      const res = await fetch(`${url}/api/hosts`, { headers: auth(cma) });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { hosts: [], counts: { alive: 0, suspect: 0, dead: 0, left: 0, unreachable: 0, maintenance: 0, removed: 0 } });
      assert.equal((await fetch(`${url}/api/nothing`, { headers: auth(cma) })).status, 404);
      assert.deepEqual(cma.status().http, { requests: 2, rejected: 1, failed: 0 });
    } finally {
      await cma.stop();
    }
    assert.equal(cma.http, undefined);
    await assert.rejects(fetch(`${url}/api/hosts`));
  });

  it("the graph routes read the CMA's graph store, and say 503 when it runs without one", async () => {
    const withGraph = await start({ httpListen: "127.0.0.1:0", graphStore: "kuzu", graphBufferPoolMb: 32 });
    try {
      const list = (await (await fetch(`${withGraph.http!.url}/api/queries`, { headers: auth(withGraph) })).json()) as { queries: { name: string }[] };
      assert.deepEqual(list.queries.map((q) => q.name), Object.keys(namedQueries));
      const res = await fetch(`${withGraph.http!.url}/api/cypher`, { method: "POST", headers: { "content-type": "application/json", ...auth(withGraph) }, body: JSON.stringify({ query: "MATCH (h:Host) RETURN count(h) AS n" }) });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { rows: unknown[] }).rows, [{ n: 0 }]);
    } finally {
      await withGraph.stop();
    }
    const without = await start({ httpListen: "127.0.0.1:0" });
    try {
      const res = await fetch(`${without.http!.url}/api/queries`, { headers: auth(without) });
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: string }).error, "unavailable");
    } finally {
      await without.stop();
    }
  });

  it("keeps every accepted stats batch in its history, across a restart; historyStore none answers 503", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-cma-"));
    const hv1 = new Host("hv1");
    const T0 = Math.floor(Date.now() / MIN) * MIN - 10 * MIN; // within the retention the CMA enforces at start
    const series = `/api/series?host=hv1&domain=${GUEST}&metric=cpu&from=${T0}&to=${T0 + MIN}`;
    const first = await start({ httpListen: "127.0.0.1:0", dataDir });
    try {
      assert.equal(first.stats.apply("hv1", hv1.batch(T0, { cpu: [250, 500, 1500] })), true);
      assert.deepEqual(((await (await fetch(`${first.http!.url}${series}`, { headers: auth(first) })).json()) as { rows: unknown[] }).rows, [{ t: T0, count: 3, min: 0.25, avg: 0.75, max: 1.5 }]);
      assert.equal((first.status().history as { batchesWritten: number }).batchesWritten, 1);
    } finally {
      await first.stop();
    }
    const again = await start({ httpListen: "127.0.0.1:0", dataDir });
    try {
      assert.deepEqual(((await (await fetch(`${again.http!.url}${series}`, { headers: auth(again) })).json()) as { rows: unknown[] }).rows, [{ t: T0, count: 3, min: 0.25, avg: 0.75, max: 1.5 }]);
    } finally {
      await again.stop();
    }
    const none = await start({ httpListen: "127.0.0.1:0", historyStore: "none" });
    try {
      assert.equal((await fetch(`${none.http!.url}${series}`, { headers: auth(none) })).status, 503);
      assert.equal(none.status().history, null);
    } finally {
      await none.stop();
    }
    await assert.rejects(start({ historyFullDays: 30, historyHourlyDays: 7 }), (e: unknown) => e instanceof ConfigError && /historyHourlyDays \(7\) must be at least historyFullDays \(30\)/.test(e.message));
  });

  it("the Zabbix escalation action: needs the scripts, takes waits Zabbix accepts, and never acts beside a ladder of ringwatch's own that acts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-cma-"));
    const policy = (mode: string) => {
      const f = join(dir, `${mode}.json`);
      writeFileSync(f, JSON.stringify({ mode, default: ["notify", { wait: "1m" }, "reset", "escalate"] }));
      return f;
    };
    const zbx = { zabbixApiUrl: "http://127.0.0.1:9/api_jsonrpc.php", zabbixServer: "127.0.0.1:9", zabbixUser: "u", zabbixPassword: "p", httpListen: "127.0.0.1:0" };
    const refused = async (over: Partial<CmaConfig>, why: RegExp) => assert.rejects(start({ ...zbx, zabbixCreateActions: true, ...over }), (e: Error) => e instanceof ConfigError && why.test(e.message));
    await refused({}, /^zabbixCreateActions needs zabbixScriptsCmaUrl/);
    await refused({ zabbixScriptsCmaUrl: "http://127.0.0.1:1984", actionPolicyFile: policy("act") }, /two ladders would act on the same guests/);
    await refused({ zabbixScriptsCmaUrl: "http://127.0.0.1:1984", zabbixActionWaits: "30s,3m,5m" }, /^zabbixActionWaits: "30s": each wait must be between 60 s/);
    await refused({ zabbixScriptsCmaUrl: "http://127.0.0.1:1984", zabbixActionWaits: "2m,3m" }, /^zabbixActionWaits: expected three waits/);
    await refused({ zabbixScriptsCmaUrl: "http://127.0.0.1:1984", zabbixActionWaits: "2m,3x,5m" }, /^zabbixActionWaits: "3x" is not a duration/);
    // beside a ladder in dry-run it starts (Zabbix unreachable here: the sync retries in the background)
    const cma = await start({ ...zbx, zabbixCreateActions: true, zabbixScriptsCmaUrl: "http://127.0.0.1:1984", actionPolicyFile: policy("dry-run") });
    await cma.stop();
  });

  it("no HTTP server when httpListen is empty or off", async () => {
    for (const httpListen of ["", "off"]) {
      const cma = await start({ httpListen });
      assert.equal(cma.http, undefined);
      assert.equal(cma.status().http, undefined);
      await cma.stop();
    }
  });

  it("a bad or busy httpListen is a configuration error, and nothing is left open", async () => {
    await assert.rejects(start({ httpListen: "127.0.0.1" }), (e: Error) => e instanceof ConfigError && /^httpListen: expected host:port/.test(e.message));
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const busy = (blocker.address() as AddressInfo).port;
    // a fixed UDP port, to see it is free again after the failed start
    const probe = await Endpoint.open({ identity: "probe", keyring, bindAddress: "127.0.0.1", port: 0 });
    const udpPort = probe.address().port;
    await probe.close();
    try {
      await assert.rejects(start({ httpListen: `127.0.0.1:${busy}`, port: udpPort }), (e: Error) => e instanceof ConfigError && /EADDRINUSE/.test(e.message));
      // the UDP socket of the failed start is closed: a socket without reuseAddr can take the port
      const s = createSocket("udp4");
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.bind(udpPort, "127.0.0.1", resolve);
      });
      s.close();
    } finally {
      blocker.close();
    }
  });
  it("keeps the audit log under dataDir: control commands recorded, closed on stop, everything there after a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-cma-"));
    let cma = await start({ dataDir, httpListen: "" });
    try {
      assert.equal(cma.audit.dir, join(dataDir, "audit"));
      const r = await controlCall(cma.control!.path, { op: "remove", host: "nohost", purge: false });
      assert.equal(r.ok, false);
      assert.deepEqual(cma.audit.list({}).map((e) => [e.seq, e.action, e.target, e.outcome]), [[1, "hostRemove", "nohost", "invalid"]]);
      assert.deepEqual((cma.status().audit as Record<string, number>).records, 1);
    } finally {
      await cma.stop();
    }
    assert.throws(() => cma.audit.record({ actor: "x", via: "cli", from: "local", action: "userAdd", outcome: "ok" }), AuditWriteError, "closed on stop");
    assert.equal(readdirSync(join(dataDir, "audit")).length, 1);
    cma = await start({ dataDir, httpListen: "" });
    try {
      assert.equal(cma.audit.list({}).length, 1);
      assert.equal(cma.audit.record({ actor: "cli", via: "cli", from: "local", action: "userAdd", target: "bob", outcome: "ok" }).seq, 2);
    } finally {
      await cma.stop();
    }
  });

  it("the first start's admin is recorded in the audit log (actor system, via startup; the password's source, never the password), once", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-cma-"));
    const password = "the first admin's long password";
    writeFileSync(join(dataDir, "admin-password"), `${password}\n`);
    const first = () => Cma.start(cmaConfig({
      cluster: "cmatest", bindAddress: "127.0.0.1", port: 0, multicastGroup: "", graphStore: "none", dataDir, httpListen: "127.0.0.1:0", adminPasswordFile: join(dataDir, "admin-password"),
    }), { keyring, commandKey, log: silentLogger() });
    let cma = await first();
    try {
      assert.deepEqual(cma.audit.list({}).map((e) => [e.seq, e.actor, e.via, e.from, e.action, e.target, e.outcome, e.detail]), [
        [1, "system", "startup", "local", "userAdd", "admin", "ok", { role: "admin", firstStart: true, password: "adminPasswordFile" }],
      ]);
      const signIn = await fetch(`${cma.http!.url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "admin", password }) });
      assert.equal(signIn.status, 200, "that admin signs in");
      assert.equal(cma.audit.list({ action: "signIn" }).length, 1, "and the log goes on after it");
    } finally {
      await cma.stop();
    }
    const files = readdirSync(join(dataDir, "audit"));
    assert.ok(files.every((f) => !readFileSync(join(dataDir, "audit", f), "utf8").includes(password)), "no password in the log");
    cma = await first();
    try {
      assert.equal(cma.audit.list({ action: "userAdd" }).length, 1, "users exist: no second bootstrap, no second record");
    } finally {
      await cma.stop();
    }
  });

  it("an audit directory that cannot be made is a configuration error at start", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-cma-"));
    writeFileSync(join(dataDir, "audit"), "a file where the directory belongs");
    await assert.rejects(start({ dataDir, httpListen: "" }), (e: Error) => e instanceof ConfigError && /^audit log: cannot open .*audit/.test(e.message));
  });
});

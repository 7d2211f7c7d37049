import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ZabbixApi, ZabbixApiError, parseVersion } from "../../../src/zabbix/config/api-client.js";
import { ADMIN, API_URL, adminApi, ensureZabbix, suffix } from "../zabbix-server.js";

/** A local HTTP server answering with `answer` (for the paths a real Zabbix never takes). */
async function fakeHttp(answer: (body: string, res: import("node:http").ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => answer(body, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api_jsonrpc.php`, server };
}

async function rejectsWith(p: Promise<unknown>, check: (e: ZabbixApiError) => void): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ZabbixApiError, `expected a ZabbixApiError, got ${String(e)}`);
    check(e);
    return;
  }
  assert.fail("expected a rejection");
}

describe("cma/zabbix/config/api-client", function () {
  this.timeout(120_000);
  before(ensureZabbix);

  it("refuses a config that is no URL, not http, or has no credentials", () => {
    assert.throws(() => new ZabbixApi({ url: "not a url", token: "t" }), /is not a URL/);
    assert.throws(() => new ZabbixApi({ url: "ftp://127.0.0.1/api_jsonrpc.php", token: "t" }), /must be http or https/);
    assert.throws(() => new ZabbixApi({ url: API_URL }), /token or a user and password/);
    assert.deepEqual(parseVersion("6.0.14"), [6, 0]);
    assert.throws(() => parseVersion("banana"), ZabbixApiError);
  });

  it("logs in with user and password and calls methods; Zabbix's error object becomes a ZabbixApiError with method and data", async () => {
    const api = adminApi();
    assert.match(await api.version(), /^\d+\.\d+\.\d+/);
    const groups = await api.call<{ groupid: string }[]>("hostgroup.get", { output: ["groupid"], limit: 1 });
    assert.equal(groups.length, 1);
    await rejectsWith(api.call("hostgroup.create", { nonsense: 1 }), (e) => {
      assert.equal(e.method, "hostgroup.create");
      assert.equal(e.code, -32602);
      assert.match(e.data ?? "", /nonsense|name/);
      assert.match(e.message, /^Zabbix API hostgroup\.create: Invalid params\. /);
    });
    await rejectsWith(api.call("nosuch.get", {}), (e) => assert.equal(e.code, -32601));
    await api.close();
  });

  it("a wrong password is a clear error (a made-up user: the real Admin must not get locked out)", async () => {
    const api = new ZabbixApi({ url: API_URL, user: `rw-nosuch-${suffix()}`, password: "wrong" });
    await rejectsWith(api.call("host.get", { limit: 1 }), (e) => {
      assert.equal(e.method, "user.login");
      assert.match(e.data ?? "", /incorrect user name or password/i);
    });
  });

  it("logs in again when the session ends", async () => {
    const api = adminApi();
    await api.call("host.get", { output: ["hostid"], limit: 1 });
    await api.call("user.logout", []); // ends the session the client holds
    await api.call("host.get", { output: ["hostid"], limit: 1 });
    assert.equal(api.counters.logins, 2);
    await api.close();
  });

  it("authenticates with an API token", async () => {
    const admin = adminApi();
    const [user] = await admin.call<{ userid: string }[]>("user.get", { output: ["userid"], filter: { username: ADMIN.user } });
    const { tokenids } = await admin.call<{ tokenids: string[] }>("token.create", { name: `rwtest ${suffix()}`, userid: user.userid });
    try {
      const [{ token }] = await admin.call<{ token: string }[]>("token.generate", tokenids);
      const api = new ZabbixApi({ url: API_URL, token });
      assert.equal((await api.call<unknown[]>("hostgroup.get", { output: ["groupid"], limit: 1 })).length, 1);
      const bad = new ZabbixApi({ url: API_URL, token: "0".repeat(64) });
      await rejectsWith(bad.call("hostgroup.get", { limit: 1 }), (e) => assert.match(e.data ?? "", /not authori[sz]ed|session terminated/i));
      assert.equal(bad.counters.logins, 0, "a token is never swapped for a login");
    } finally {
      await admin.call("token.delete", tokenids);
      await admin.close();
    }
  });

  it("nothing listening, HTML instead of JSON-RPC, HTTP errors, mismatched answers and silence are clear errors", async () => {
    const closed = await fakeHttp(() => undefined);
    const closedUrl = closed.url;
    await new Promise((r) => closed.server.close(r)); // a port nothing listens on any more
    await rejectsWith(new ZabbixApi({ url: closedUrl, token: "t" }).version(), (e) => {
      assert.equal(e.method, "apiinfo.version");
      assert.match(e.message, /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    });
    await rejectsWith(new ZabbixApi({ url: API_URL.replace("api_jsonrpc.php", "index.php"), token: "t" }).version(), (e) => assert.match(e.message, /not JSON|HTTP/));
    const answers: [string, number, RegExp][] = [
      ["<html>oops</html>", 200, /not JSON/],
      ["{}", 200, /not a JSON-RPC 2\.0 object/],
      ['{"jsonrpc":"2.0","result":"6.0.0","id":999}', 200, /does not match request id/],
      ['{"jsonrpc":"2.0","id":1}', 200, /neither result nor error/],
      ["gateway down", 502, /HTTP 502/],
    ];
    for (const [body, status, re] of answers) {
      const f = await fakeHttp((_b, res) => res.writeHead(status).end(body));
      try {
        await rejectsWith(new ZabbixApi({ url: f.url, token: "t" }).version(), (e) => assert.match(e.message, re));
      } finally {
        f.server.close();
      }
    }
    const silent = await fakeHttp(() => undefined);
    try {
      await rejectsWith(new ZabbixApi({ url: silent.url, token: "t", timeoutMs: 300 }).version(), (e) => assert.match(e.message, /no answer .* within 300 ms/));
    } finally {
      silent.server.closeAllConnections();
      silent.server.close();
    }
  });

  it("sends the credential as the server version wants it: `auth` before 6.4, a Bearer header from 6.4", async () => {
    for (const [version, wantHeader] of [["6.0.14", false], ["7.0.5", true]] as const) {
      const seen: { auth?: unknown; header?: string }[] = [];
      const server = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          const r = JSON.parse(body) as { method: string; id: number; auth?: unknown };
          if (r.method !== "apiinfo.version") seen.push({ auth: r.auth, header: req.headers.authorization });
          res.end(JSON.stringify({ jsonrpc: "2.0", id: r.id, result: r.method === "apiinfo.version" ? version : [] }));
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      try {
        const api = new ZabbixApi({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api_jsonrpc.php`, token: "tok" });
        await api.call("host.get", {});
        assert.deepEqual(seen, [wantHeader ? { auth: undefined, header: "Bearer tok" } : { auth: "tok", header: undefined }]);
      } finally {
        server.close();
      }
    }
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, silentLogger } from "@ringwatch/shared";
import { cmaConfig } from "../../src/config.js";
import { apiFromConfig } from "../../src/zabbix/zabbix-service.js";
import { ADMIN, API_URL, ensureZabbix } from "./zabbix-server.js";

describe("cma/zabbix/zabbix-service", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-zbxsvc-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  before(ensureZabbix);

  it("takes the password from its file (first line) and logs in with it", async () => {
    const f = join(dir, "password");
    writeFileSync(f, `${ADMIN.password}\n# anything after the first line is ignored\n`);
    const api = apiFromConfig(cmaConfig({ zabbixApiUrl: API_URL, zabbixUser: ADMIN.user, zabbixPasswordFile: f }), silentLogger());
    assert.equal((await api.call<unknown[]>("hostgroup.get", { output: ["groupid"], limit: 1 })).length, 1);
    await api.close();
  });

  it("refuses incomplete or unreadable credentials and bad URLs with the option's name", () => {
    const log = silentLogger();
    const bad: [Partial<ReturnType<typeof cmaConfig>>, RegExp][] = [
      [{ zabbixApiUrl: API_URL }, /give zabbixApiToken\(File\), or zabbixUser with zabbixPassword\(File\)/],
      [{ zabbixApiUrl: API_URL, zabbixUser: "Admin" }, /zabbixPassword/],
      [{ zabbixApiUrl: API_URL, zabbixApiTokenFile: join(dir, "missing") }, /zabbixApiTokenFile: cannot read/],
      [{ zabbixApiUrl: API_URL, zabbixUser: "Admin", zabbixPasswordFile: (writeFileSync(join(dir, "empty"), "\n"), join(dir, "empty")) }, /zabbixPasswordFile: .* is empty/],
      [{ zabbixApiUrl: "zabbix.example", zabbixApiToken: "t" }, /zabbixApiUrl: .*not a URL/],
    ];
    for (const [over, re] of bad) assert.throws(() => apiFromConfig(cmaConfig(over), log), (e: Error) => e instanceof ConfigError && re.test(e.message), JSON.stringify(over));
  });
});

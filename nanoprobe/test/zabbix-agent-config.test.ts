import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { Logger } from "@ringwatch/shared";
import { Writable } from "node:stream";
import { applyAgentConfig, nanoprobeConfig } from "../src/config.js";
import { parseAgentConfig } from "../src/zabbix-agent-config.js";

function dir(): string {
  return mkdtempSync(join(tmpdir(), "rw-agentconf-"));
}

/** A logger whose lines the test can read. */
function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } });
  return { log: pino({ level: "debug" }, out) as unknown as Logger, lines };
}

describe("nanoprobe/zabbix-agent-config", () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const mk = () => {
    const d = dir();
    dirs.push(d);
    return d;
  };

  it("reads Hostname and ListenIP; comments, blanks and the agent's other parameters are ignored", () => {
    const d = mk();
    const f = join(d, "zabbix_agentd.conf");
    writeFileSync(f, "# Zabbix agent\n\nServer=10.0.0.1\nServerActive=10.0.0.1\n  Hostname = hv-07.dc1  \nListenIP=10.1.2.3\nTimeout=3\nUserParameter=x,echo 1\n");
    const c = parseAgentConfig(f);
    assert.equal(c.hostname, "hv-07.dc1");
    assert.equal(c.listenIp, "10.1.2.3");
    assert.deepEqual(c.problems, []);
    assert.deepEqual(c.files, [f]);
  });

  it("follows Include (file, directory, *.conf pattern, relative), in name order, and detects loops", () => {
    const d = mk();
    mkdirSync(join(d, "zabbix_agentd.d"));
    mkdirSync(join(d, "more"));
    writeFileSync(join(d, "zabbix_agentd.d", "b.conf"), "ListenIP=192.168.5.6\n");
    writeFileSync(join(d, "zabbix_agentd.d", "a.conf"), "Hostname=from-a\n");
    writeFileSync(join(d, "zabbix_agentd.d", "skip.txt"), "Hostname=not-read\n");
    writeFileSync(join(d, "more", "x"), "Include=../main.conf\n");
    writeFileSync(join(d, "main.conf"), `Include=${join(d, "zabbix_agentd.d")}/*.conf\nInclude=more\n`);
    const c = parseAgentConfig(join(d, "main.conf"));
    assert.equal(c.hostname, "from-a");
    assert.equal(c.listenIp, "192.168.5.6");
    assert.deepEqual(c.files.map((f) => f.slice(d.length + 1)), ["main.conf", "zabbix_agentd.d/a.conf", "zabbix_agentd.d/b.conf", "more/x"]);
    assert.equal(c.problems.length, 1);
    assert.match(c.problems[0].problem, /Include loop/);
  });

  it("counts and locates bad lines, duplicates, bad values and missing includes; takes the first of a Hostname list", () => {
    const d = mk();
    const f = join(d, "agent.conf");
    writeFileSync(f, [
      "Hostname=web-1,web-1-alias", // 1: a list, the first is ours
      "this is not a parameter", // 2
      "Hostname=again", // 3: duplicate
      "ListenIP=10.0.0.1,10.0.0.2", // 4: several
      "Include=/nonexistent/dir/*.conf", // 5
      "=value", // 6
      "HostnameItem=system.hostname", // 7: noted
    ].join("\n"));
    const c = parseAgentConfig(f);
    assert.equal(c.hostname, "web-1");
    assert.equal(c.listenIp, undefined);
    assert.equal(c.hostnameItem, "system.hostname");
    assert.deepEqual(c.problems.map((p) => p.line), [2, 3, 4, 5, 6]);
    assert.ok(c.problems.every((p) => p.file === f));
    const bad = join(d, "bad.conf");
    writeFileSync(bad, "Hostname=no/slashes allowed\nListenIP=::1\n");
    const b = parseAgentConfig(bad);
    assert.equal(b.hostname, undefined);
    assert.deepEqual(b.problems.map((p) => p.line), [1, 2]);
    assert.match(parseAgentConfig(join(d, "absent.conf")).problems[0].problem, /cannot read/);
  });

  it("defaults the nanoprobe's identity and bind address; explicit options win; HostnameItem is reported as unsupported", () => {
    const d = mk();
    const f = join(d, "zabbix_agentd.conf");
    writeFileSync(f, "Hostname=hv-agent\nListenIP=127.0.0.9\nbroken line\n");
    const { log, lines } = capturingLogger();
    const base = nanoprobeConfig({ zabbixAgentConfig: f });
    const a = applyAgentConfig(base, new Set(), log).config;
    assert.equal(a.identity, "hv-agent");
    assert.equal(a.bindAddress, "127.0.0.9");
    assert.ok(lines.some((l) => l.msg === "Zabbix agent config: line not used" && l.line === 3));
    const b = applyAgentConfig({ ...base, identity: "mine" }, new Set(["identity"]), log).config;
    assert.equal(b.identity, "mine");
    assert.equal(b.bindAddress, "127.0.0.9");
    assert.equal(applyAgentConfig(nanoprobeConfig({ zabbixAgentConfig: "", identity: "x" }), new Set(), log).config.identity, "x", "empty path: not read");
    const item = join(d, "item.conf");
    writeFileSync(item, "HostnameItem=system.run[hostname]\n");
    const c = applyAgentConfig(nanoprobeConfig({ zabbixAgentConfig: item, identity: "sys" }), new Set(["zabbixAgentConfig"]), log).config;
    assert.equal(c.identity, "sys");
    assert.ok(lines.some((l) => /HostnameItem .* not supported/.test(String(l.msg))));
    applyAgentConfig(nanoprobeConfig({ zabbixAgentConfig: join(d, "nope.conf") }), new Set(["zabbixAgentConfig"]), log);
    assert.ok(lines.some((l) => l.msg === "Zabbix agent config not found: not used"));
  });
});

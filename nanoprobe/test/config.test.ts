import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, clusterOptions, loadConfig } from "@ringwatch/shared";
import type { Alert, OptionSpec } from "@ringwatch/shared";
import { Analytics, DEFAULT_THRESHOLDS, MAX_CMA_ADDRESSES, analyticsThresholds, nanoprobeSchema, parseCmaAddresses } from "../src/index.js";

const CLI = fileURLToPath(new URL("../src/cli.js", import.meta.url));

describe("nanoprobe/config: analytics thresholds", () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "rw-np-config-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, doc: object): string => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(doc));
    return p;
  };

  it("defaults are the documented thresholds", () => {
    const cfg = loadConfig(nanoprobeSchema, { env: {} });
    assert.deepEqual(analyticsThresholds(cfg), { ...DEFAULT_THRESHOLDS });
  });

  it("a value in the config file changes what the analytics detect", () => {
    const cfg = loadConfig(nanoprobeSchema, { file: file("leak.json", { analyticsLeakSlopeKiBPerMin: 256, analyticsLeakWindowMs: "10m" }), env: {} });
    assert.equal(cfg.analyticsLeakWindowMs, 600_000);
    // a domain's RSS growing 512 KiB/min for 12 minutes
    const run = (a: Analytics): Alert[] => {
      const alerts: Alert[] = [];
      a.on("alert", (x) => alerts.push(x));
      for (let t = 0; t <= 12 * 60_000; t += 10_000) {
        a.sample("d", "balloon.rss", t, 2_000_000 + (t / 60_000) * 512);
        a.evaluate(t);
      }
      return alerts;
    };
    assert.deepEqual(run(new Analytics(analyticsThresholds(loadConfig(nanoprobeSchema, { env: {} })))), [], "the defaults (1 MiB/min over 30 min) see nothing");
    assert.deepEqual(run(new Analytics(analyticsThresholds(cfg))).map((a) => [a.kind, a.active]), [["memoryLeak", true]]);
  });

  it("refuses values out of range or of the wrong type with a clear error", () => {
    const cases: [object, RegExp][] = [
      [{ analyticsLeakMinR2: 1.5 }, /analyticsLeakMinR2: expected a number in \[0, 1\], got 1\.5/],
      [{ analyticsVcpuSaturation: "high" }, /analyticsVcpuSaturation: expected a number, got "high"/],
      [{ analyticsLeakWindowMs: "10s" }, /analyticsLeakWindowMs: expected a duration \(ms\) in \[60000, 86400000\], got "10s"/],
      [{ analyticsBurstFactor: 1 }, /analyticsBurstFactor: expected a number in \[1\.1, 1000\]/],
      [{ analyticsHostLeakSlopeKiBPerMin: -5 }, /analyticsHostLeakSlopeKiBPerMin: expected a number in \[1,/],
      [{ statsRetainBatches: 0 }, /statsRetainBatches: expected an integer in \[1, 1440\]/],
      [{ statsExactAverages: "yes" }, /statsExactAverages: expected true or false/],
    ];
    for (const [doc, msg] of cases) {
      assert.throws(() => loadConfig(nanoprobeSchema, { file: file("bad.json", doc), env: {} }), (e: unknown) => e instanceof ConfigError && msg.test(e.message), JSON.stringify(doc));
    }
    // from the environment too
    assert.throws(() => loadConfig(nanoprobeSchema, { env: { RINGWATCH_ANALYTICS_NEIGHBOUR_STEAL: "2" } }), /RINGWATCH_ANALYTICS_NEIGHBOUR_STEAL: analyticsNeighbourSteal: expected a number in \[0\.001, 1\]/);
  });

  it("the nanoprobe refuses to start with a bad threshold: message on stderr, exit code 2", () => {
    const r = spawnSync(process.execPath, [CLI, "run", "--config", file("cli.json", { analyticsLeakMinR2: 7 })], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /analyticsLeakMinR2: expected a number in \[0, 1\], got 7/);
  });
});

describe("nanoprobe/config: options shared with the CMA", () => {
  /** What a shared option must keep in every schema: all but its sentence. */
  const contract = ({ doc: _doc, ...rest }: OptionSpec): Omit<OptionSpec, "doc"> => rest;
  const schema = nanoprobeSchema as Record<string, OptionSpec>;

  it("composes every shared option under its shared name, type, default and bounds", () => {
    for (const [name, spec] of Object.entries(clusterOptions)) {
      assert.ok(schema[name], `${name} missing`);
      assert.deepEqual(contract(schema[name]), contract(spec), name);
    }
  });

  it("multicastPort is the CMA's port seen from the host: same type and default, its own name", () => {
    assert.deepEqual(contract(schema.multicastPort), contract(clusterOptions.port));
    const cfg = loadConfig(nanoprobeSchema, { env: { RINGWATCH_MULTICAST_PORT: "2001", RINGWATCH_PORT: "2002" } });
    assert.deepEqual([cfg.multicastPort, cfg.port], [2001, 2002]);
  });
});

describe("nanoprobe/config: empty environment values", () => {
  it("RINGWATCH_MULTICAST_GROUP= is \"\" (with cma set); with no cma either, the nanoprobe refuses to start; an empty number is an error", () => {
    const cfg = loadConfig(nanoprobeSchema, { env: { RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_CMA: "127.0.0.1:1984", RINGWATCH_DISCOVERY_DIR: "", RINGWATCH_ZABBIX_AGENT_CONFIG: "" } });
    assert.deepEqual([cfg.multicastGroup, cfg.discoveryDir, cfg.zabbixAgentConfig], ["", "", ""]);
    assert.throws(() => loadConfig(nanoprobeSchema, { env: { RINGWATCH_SAMPLE_MS: "" } }), (e: unknown) => e instanceof ConfigError && /RINGWATCH_SAMPLE_MS: sampleMs: expected a duration, not empty \(unset RINGWATCH_SAMPLE_MS for the default 1000\)/.test(e.message));
    assert.throws(() => loadConfig(nanoprobeSchema, { env: { RINGWATCH_STATS_EXACT_AVERAGES: "" } }), /statsExactAverages: expected true or false, not empty/);
    const r = spawnSync(process.execPath, [CLI, "run"], { encoding: "utf8", timeout: 20_000, env: { ...process.env, RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_CMA: "" } });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /multicastGroup is empty and cma is not set: nowhere to announce to/);
  });
});

describe("nanoprobe/config: cma, one CMA or several in high availability", () => {
  it("takes host:port or a comma-separated list (at most 8); a bad entry stops the start naming it", () => {
    assert.deepEqual(parseCmaAddresses("127.0.0.1:1984"), [{ address: "127.0.0.1", port: 1984 }]);
    assert.deepEqual(parseCmaAddresses(" 10.0.0.1:1984, 10.0.0.2:1985 "), [{ address: "10.0.0.1", port: 1984 }, { address: "10.0.0.2", port: 1985 }]);
    assert.throws(() => parseCmaAddresses("10.0.0.1:1984,10.0.0.2"), (e: unknown) => e instanceof ConfigError && /cma: expected host:port, got "10.0.0.2"/.test(e.message));
    assert.throws(() => parseCmaAddresses(","), /cma: expected host:port\[,host:port\.\.\.\]/);
    assert.throws(() => parseCmaAddresses(Array.from({ length: MAX_CMA_ADDRESSES + 1 }, (_, i) => `10.0.0.${i + 1}:1984`).join(",")), /9 addresses, at most 8/);
    const r = spawnSync(process.execPath, [CLI, "run"], { encoding: "utf8", timeout: 20_000, env: { ...process.env, RINGWATCH_CMA: "127.0.0.1:1984,127.0.0.2:99999" } });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cma: expected host:port, got "127.0.0.2:99999"/);
  });
});

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, Keyring, clusterOptions, loadConfig, makeClusterKey, silentLogger, newKeyPair } from "@ringwatch/shared";
import type { OptionSpec } from "@ringwatch/shared";
import { Cma } from "../src/cma.js";
import { cmaConfig, cmaSchema } from "../src/config.js";
import { HaRunner, etcdKeys, parseEtcdEndpoints } from "../src/ha/ha-runner.js";

/** What a shared option must keep in every schema: all but its sentence. */
const contract = ({ doc: _doc, ...rest }: OptionSpec): Omit<OptionSpec, "doc"> => rest;

describe("cma/config", () => {
  it("composes every option shared with the nanoprobe under its shared name, type, default and bounds", () => {
    for (const [name, spec] of Object.entries(clusterOptions)) {
      const ours: OptionSpec | undefined = (cmaSchema as Record<string, OptionSpec>)[name];
      assert.ok(ours, `${name} missing`);
      assert.deepEqual(contract(ours), contract(spec), name);
    }
    // the channel port is also the multicast group's port (the nanoprobe's multicastPort)
    assert.equal(loadConfig(cmaSchema, { env: { RINGWATCH_PORT: "2000" } }).port, 2000);
  });

  it("rows per graph write statement: 5000 by default, bounded", () => {
    assert.equal(loadConfig(cmaSchema, { env: {} }).graphStatementRows, 5000);
    assert.equal(loadConfig(cmaSchema, { env: { RINGWATCH_GRAPH_STATEMENT_ROWS: "200" } }).graphStatementRows, 200);
    assert.throws(() => loadConfig(cmaSchema, { env: { RINGWATCH_GRAPH_STATEMENT_ROWS: "0" } }), (e: unknown) => e instanceof ConfigError && /graphStatementRows: expected an integer in \[1, 1000000\]/.test(e.message));
  });

  it("RINGWATCH_MULTICAST_GROUP= (empty, as scripts/up.sh sets it) keeps the CMA off multicast; an empty number is an error", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "rw-cma-config-"));
    const env = { RINGWATCH_BIND_ADDRESS: "0.0.0.0", RINGWATCH_PORT: "0", RINGWATCH_HTTP_LISTEN: "", RINGWATCH_GRAPH_STORE: "none", RINGWATCH_DATA_DIR: dataDir };
    const deps = { keyring: new Keyring("ringwatch", makeClusterKey(randomBytes(32))), commandKey: newKeyPair("ed25519").privateKey, log: silentLogger() };
    const joined = async (more: Record<string, string>): Promise<string | undefined> => {
      const cfg = loadConfig(cmaSchema, { env: { ...env, ...more } });
      const cma = await Cma.start(cfg, deps);
      try {
        assert.equal(cma.http, undefined, "RINGWATCH_HTTP_LISTEN= is off too");
        return cma.endpoint.joinedGroup;
      } finally {
        await cma.stop();
      }
    };
    try {
      assert.equal(loadConfig(cmaSchema, { env: { RINGWATCH_MULTICAST_GROUP: "" } }).multicastGroup, "");
      assert.equal(await joined({ RINGWATCH_MULTICAST_GROUP: "" }), undefined);
      assert.equal(await joined({}), "224.0.2.5", "unset: the default group is joined");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
    assert.throws(() => loadConfig(cmaSchema, { env: { RINGWATCH_PROBE_ATTEMPTS: "" } }), (e: unknown) => e instanceof ConfigError && /RINGWATCH_PROBE_ATTEMPTS: probeAttempts: expected an integer, not empty/.test(e.message));
    assert.throws(() => loadConfig(cmaSchema, { env: { RINGWATCH_IDENTITY: "" } }), (e: unknown) => e instanceof ConfigError && /identity: expected a non-empty string/.test(e.message));
  });
});

describe("cma/config: high availability on etcd", () => {
  it("etcdEndpoints takes http(s) URLs, comma-separated; anything else, or no dataDir, stops the start naming it", () => {
    assert.deepEqual(parseEtcdEndpoints("http://127.0.0.1:2379, https://etcd.example:2379"), ["http://127.0.0.1:2379", "https://etcd.example:2379"]);
    assert.throws(() => parseEtcdEndpoints("127.0.0.1:2379"), (e: unknown) => e instanceof ConfigError && /etcdEndpoints: expected http:\/\/host:port URLs, comma-separated; got "127.0.0.1:2379"/.test(e.message));
    assert.throws(() => parseEtcdEndpoints("http://a:1/path"), /etcdEndpoints: expected/);
    assert.throws(() => parseEtcdEndpoints(" , "), /etcdEndpoints: empty/);
    const log = silentLogger();
    const keyring = new Keyring("t", makeClusterKey(randomBytes(32)));
    const commandKey = newKeyPair("ed25519").privateKey;
    assert.throws(() => new HaRunner(cmaConfig({ etcdEndpoints: "http://127.0.0.1:2379", dataDir: "" }), { keyring, commandKey, log }), /etcdEndpoints needs dataDir/);
    assert.throws(() => loadConfig(cmaSchema, { env: { RINGWATCH_HA_LEASE_SECONDS: "1" } }), /haLeaseSeconds/);
    assert.throws(() => new HaRunner(cmaConfig({ etcdEndpoints: "http://127.0.0.1:2379", dataDir: "/nonexistent", haAdvertiseAddress: "cma-b" }), { keyring, commandKey, log }), /haAdvertiseAddress: expected host:port, got "cma-b"/);
    assert.deepEqual(etcdKeys({ etcdPrefix: "/ringwatch/", cluster: "prod" }), { leader: "/ringwatch/prod/leader", state: "/ringwatch/prod/state/", members: "/ringwatch/prod/members/" });
  });
});

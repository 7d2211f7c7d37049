import assert from "node:assert/strict";
import { ConfigError, clusterOptions, loadConfig } from "@ringwatch/shared";
import type { OptionSpec } from "@ringwatch/shared";
import { cmaSchema } from "../src/config.js";

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
});

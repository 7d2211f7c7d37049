import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, clusterIdOf, parseKeyText, readKeyFile, writeNewKeyFile } from "../../src/index.js";

describe("wire/keyring", () => {
  const dir = mkdtempSync(join(tmpdir(), "rw-keyring-"));

  it("writes a key file and rotates it keeping the previous key", () => {
    const p = join(dir, "cluster.key");
    const k1 = writeNewKeyFile(p);
    assert.equal(readKeyFile(p).current.id, k1.id);
    const k2 = writeNewKeyFile(p, true);
    const read = readKeyFile(p);
    assert.equal(read.current.id, k2.id);
    assert.equal(read.previous?.id, k1.id);
    const ring = Keyring.fromFile("c", p);
    assert.ok(ring.byId(k1.id) && ring.byId(k2.id));
  });

  it("gives a clear error for bad key text", () => {
    assert.throws(() => parseKeyText(""), /expected 1 or 2 keys/);
    assert.throws(() => parseKeyText("abc\n"), /not 64 hex/);
    const k = "a".repeat(64);
    assert.throws(() => parseKeyText(`${k}\n${k}\n`), /same/);
    assert.throws(() => parseKeyText(`${k}\n${"b".repeat(64)}\n${"c".repeat(64)}\n`), /found 3/);
    assert.equal(parseKeyText(`# cluster key\n${k}  # current\n`).previous, undefined);
    const missing = join(dir, "nope.key");
    assert.throws(() => readKeyFile(missing), new RegExp(missing));
    writeFileSync(join(dir, "bad.key"), "zz\n", { mode: 0o600 });
    assert.throws(() => readKeyFile(join(dir, "bad.key")), /bad\.key/);
  });

  it("derives distinct cluster ids from names", () => {
    assert.notEqual(clusterIdOf("a"), clusterIdOf("b"));
    assert.equal(clusterIdOf("a"), clusterIdOf("a"));
  });
});

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CommandRefused, CommandVerifier, generateCommandKeys, loadCommandPrivateKey, loadCommandPublicKey, signCommand,
} from "../../src/index.js";

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CommandRefused, String(e));
    return e.reason;
  }
  assert.fail("expected a refusal");
}

describe("wire/command-signing", () => {
  const dir = mkdtempSync(join(tmpdir(), "rw-cmdkeys-"));
  const paths = generateCommandKeys(dir);
  const priv = loadCommandPrivateKey(paths.privateKeyPath);
  const pub = loadCommandPublicKey(paths.publicKeyPath);
  const draft = { target: "hv1", setNeighbours: { neighbours: [{ name: "hv2", address: "127.0.0.2", port: 1984 }], heartbeatMs: 1000 } };

  it("keygen refuses to overwrite an existing key pair", () => {
    assert.throws(() => generateCommandKeys(dir), /EEXIST/);
  });

  it("accepts a command signed by the CMA key, once", () => {
    const v = new CommandVerifier(pub, "hv1");
    const sc = signCommand(priv, draft);
    const cmd = v.verify(sc);
    assert.equal(cmd.target, "hv1");
    assert.equal(cmd.setNeighbours?.neighbours[0].name, "hv2");
    assert.equal(refusal(() => v.verify(sc)), "replayed");
  });

  it("refuses commands signed by another key, tampered, for another host, expired or malformed", () => {
    const v = new CommandVerifier(pub, "hv1");
    const other = generateKeyPairSync("ed25519").privateKey;
    assert.equal(refusal(() => v.verify(signCommand(other, draft))), "badSignature");
    const sc = signCommand(priv, draft);
    const tampered = { body: Buffer.from(sc.body), signature: sc.signature };
    tampered.body[tampered.body.length - 1] ^= 1;
    assert.equal(refusal(() => v.verify(tampered)), "badSignature");
    assert.equal(refusal(() => v.verify(signCommand(priv, { ...draft, target: "hv9" }))), "wrongTarget");
    const now = Date.now();
    assert.equal(refusal(() => v.verify(signCommand(priv, { ...draft, issuedAtMs: now - 200_000, expiresAtMs: now - 100_000 }))), "expired");
    assert.equal(refusal(() => v.verify(signCommand(priv, { ...draft, issuedAtMs: now + 100_000, expiresAtMs: now + 200_000 }))), "notYetValid");
    assert.equal(refusal(() => v.verify({ body: Buffer.alloc(3), signature: Buffer.alloc(10) })), "malformed");
    assert.deepEqual(v.refused, { malformed: 1, badSignature: 2, wrongTarget: 1, expired: 1, notYetValid: 1, replayed: 0 });
  });
});

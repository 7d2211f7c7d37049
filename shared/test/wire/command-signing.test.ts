import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto"; // RSA only: a key of the wrong type
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CommandRefused, CommandVerifier, MAX_COMMAND_PUBLIC_KEYS, commandKeyFingerprint, generateCommandKeys, loadCommandPrivateKey, loadCommandPublicKey, loadCommandPublicKeys, signCommand, newKeyPair,
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
    const other = newKeyPair("ed25519").privateKey;
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
    assert.deepEqual(v.refused, { malformed: 1, badSignature: 2, wrongTarget: 1, expired: 1, notYetValid: 1, replayed: 0, staleEpoch: 0 });
  });

  it("refuses a command from a leadership epoch older than the newest it accepted; a newer epoch is followed", () => {
    const v = new CommandVerifier(pub, "hv1");
    assert.equal(v.verify(signCommand(priv, { ...draft, epoch: 7 })).epoch, 7, "the epoch travels in the signed body");
    assert.equal(v.newestEpoch, 7);
    assert.equal(refusal(() => v.verify(signCommand(priv, { ...draft, epoch: 6 }))), "staleEpoch");
    assert.equal(refusal(() => v.verify(signCommand(priv, draft))), "staleEpoch", "no epoch (a CMA without etcd) counts as 0");
    v.verify(signCommand(priv, { ...draft, epoch: 7 })); // the same leader goes on
    v.verify(signCommand(priv, { ...draft, epoch: 12 })); // a new leader takes over
    assert.equal(refusal(() => v.verify(signCommand(priv, { ...draft, epoch: 7 }))), "staleEpoch", "the deposed leader is refused");
    assert.equal(v.newestEpoch, 12);
    assert.equal(v.refused.staleEpoch, 3);
    // a refused stale command does not lower the epoch, nor is it remembered as executed
    assert.equal(v.newestEpoch, 12);
  });

  describe("rotation: the current and the next key", () => {
    const next = generateCommandKeys(dir, { next: true });
    const nextPriv = loadCommandPrivateKey(next.privateKeyPath);
    const both = join(dir, "both.pub");
    writeFileSync(both, `# current\n${readFileSync(paths.publicKeyPath, "utf8")}\n# next\n${readFileSync(next.publicKeyPath, "utf8")}`);

    it("keygen --next writes cma-command.next.key/.pub beside the current pair, never overwriting", () => {
      assert.match(next.privateKeyPath, /cma-command\.next\.key$/);
      assert.match(next.publicKeyPath, /cma-command\.next\.pub$/);
      assert.equal(next.fingerprint, commandKeyFingerprint(loadCommandPublicKey(next.publicKeyPath)));
      assert.notEqual(next.fingerprint, commandKeyFingerprint(pub));
      assert.throws(() => generateCommandKeys(dir, { next: true }), /EEXIST/);
      assert.equal(commandKeyFingerprint(loadCommandPublicKey(paths.publicKeyPath)), commandKeyFingerprint(pub), "the current pair untouched");
    });

    it("a verifier holding both accepts commands signed by either; after a reload to the next key alone, the old key's are refused and counted", () => {
      const keys = loadCommandPublicKeys(both);
      assert.deepEqual(keys.map(commandKeyFingerprint), [commandKeyFingerprint(pub), next.fingerprint]);
      const v = new CommandVerifier(keys, "hv1");
      assert.equal(v.verify(signCommand(priv, draft)).target, "hv1");
      assert.equal(v.verify(signCommand(nextPriv, draft)).target, "hv1");
      v.setPublicKeys(loadCommandPublicKeys(next.publicKeyPath));
      assert.equal(refusal(() => v.verify(signCommand(priv, draft))), "badSignature");
      assert.equal(v.verify(signCommand(nextPriv, draft)).target, "hv1");
      assert.equal(v.refused.badSignature, 1);
      assert.throws(() => v.setPublicKeys([]), /at least one/);
      assert.equal(v.verify(signCommand(nextPriv, draft)).target, "hv1", "a refused update left the keys in use");
    });

    it("the same key twice counts once", () => {
      const twice = join(dir, "twice.pub");
      writeFileSync(twice, readFileSync(paths.publicKeyPath, "utf8").repeat(2));
      assert.equal(loadCommandPublicKeys(twice).length, 1);
    });

    it("refuses a malformed file with a message naming it and what is wrong", () => {
      const file = (name: string, text: string): string => {
        const p = join(dir, name);
        writeFileSync(p, text);
        return p;
      };
      const pem = readFileSync(paths.publicKeyPath, "utf8");
      const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }) as string;
      const many = Array.from({ length: MAX_COMMAND_PUBLIC_KEYS + 1 }, () => newKeyPair("ed25519").publicKey.export({ type: "spki", format: "pem" })).join("");
      const cases: [string, string, RegExp][] = [
        ["empty.pub", "# nothing\n\n", /no PEM public key/],
        ["garbage.pub", `${pem}not a key\n`, /holds "not a key", not a PEM public key/],
        ["private.pub", readFileSync(paths.privateKeyPath, "utf8"), /a private key \(a nanoprobe needs only the public key/],
        ["rsa.pub", `${pem}${rsa}`, /public key 2 is rsa, not Ed25519/],
        ["broken.pub", pem.replace(/\n[A-Za-z0-9+/]{8}/, "\n!!!!!!!!"), /public key 1 does not parse/],
        ["cut.pub", pem.slice(0, 60), /not a PEM public key/],
        ["many.pub", many, new RegExp(`${MAX_COMMAND_PUBLIC_KEYS + 1} keys, at most ${MAX_COMMAND_PUBLIC_KEYS}`)],
      ];
      for (const [name, text, why] of cases) {
        const p = file(name, text);
        assert.throws(() => loadCommandPublicKeys(p), (e: Error) => e.message.startsWith(`CMA command public key file ${p}: `) && why.test(e.message), name);
      }
      assert.throws(() => loadCommandPublicKeys(join(dir, "missing.pub")), /CMA command public key file .*missing\.pub: ENOENT/);
    });
  });
});

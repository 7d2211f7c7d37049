import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { diffieHellman, sign, verify } from "node:crypto";
import { fileURLToPath } from "node:url";
import { newKeyPair, rawPublicKey } from "../../src/index.js";

const INDEX = fileURLToPath(new URL("../../src/index.js", import.meta.url));

describe("identity/key-pairs", () => {
  it("Ed25519 and X25519 pairs from random bytes: they sign, agree and differ", () => {
    const a = newKeyPair("ed25519");
    assert.equal(a.privateKey.asymmetricKeyType, "ed25519");
    const sig = sign(null, Buffer.from("hello"), a.privateKey);
    assert.ok(verify(null, Buffer.from("hello"), a.publicKey, sig));
    const x = newKeyPair("x25519"), y = newKeyPair("x25519");
    assert.deepEqual(diffieHellman({ privateKey: x.privateKey, publicKey: y.publicKey }), diffieHellman({ privateKey: y.privateKey, publicKey: x.publicKey }));
    const raws = new Set(Array.from({ length: 200 }, () => rawPublicKey(newKeyPair("ed25519").publicKey).toString("hex")));
    assert.equal(raws.size, 200);
  });

  // Node 20's generateKeyPairSync leaves a job whose finalizer locks the key's mutex, which a JWK
  // export holds while it allocates: host keys made and exported in a loop deadlocked a process in
  // about one run of three (3 s each) before. Made from random bytes, they never do.
  it("making and exporting host keys in a loop for 4 s never hangs the process (the Node 20 deadlock)", function () {
    this.timeout(40_000);
    // generateHostKeys exports both new keys' public halves (rawPublicKey, JWK); the strings kept
    // make the collector run often, as it does in a busy process
    const script = `import { generateHostKeys } from ${JSON.stringify(INDEX)};
      let n = 0; const junk = []; const end = Date.now() + 4000;
      while (Date.now() < end) { junk.push(generateHostKeys().identityPublic.toString("hex").repeat(8)); if (junk.length > 500) junk.length = 0; n++; }
      console.log(n);`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.signal, null, `the process hung (killed by ${r.signal} after 30 s)`);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout) > 1000, `${r.stdout.trim()} host keys made`);
  });
});

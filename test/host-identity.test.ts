/**
 * Host identity keys (shared/src/identity): the key file, the exchange key vouched for by the
 * identity key, and the announcement's proof of possession with everything it must refuse.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ProofRefused, checkPublicHostKeys, decodeEnvelope, encodeEnvelope, generateHostKeys, keyFingerprint, loadOrCreateHostKeys, makeAnnounceProof, readHostKeys,
  verifyAnnounceProof, writeNewHostKeys,
} from "@ringwatch/shared";
import type { AnnounceProof } from "@ringwatch/shared";
import { NANOPROBE_CLI, runToExit } from "./support/processes.js";

const subject = { cluster: "idtest", host: "hv3", session: { startMs: 1_780_000_000_000, random: 0xdeadbeef } };
const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ProofRefused, `a ProofRefused, got ${(e as Error).message}`);
    return e.reason;
  }
  return "accepted";
};

describe("host identity keys", () => {
  it("created once in their file (0600), read back the same; a second keygen refuses to replace them", () => {
    const path = join(mkdtempSync(join(tmpdir(), "rw-hostkey-")), "sub", "host.key");
    const first = loadOrCreateHostKeys(path);
    assert.equal(first.created, true);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const again = loadOrCreateHostKeys(path);
    assert.equal(again.created, false);
    assert.deepEqual(again.keys.identityPublic, first.keys.identityPublic);
    assert.deepEqual(again.keys.exchangePublic, first.keys.exchangePublic);
    assert.throws(() => writeNewHostKeys(path), /exists: a host keeps its identity/);
    assert.deepEqual(readHostKeys(path).identityPublic, first.keys.identityPublic, "the file was not touched");
    writeFileSync(path, readFileSync(path, "utf8").split("-----END PRIVATE KEY-----")[0] + "-----END PRIVATE KEY-----\n");
    assert.throws(() => readHostKeys(path), /expected 2 PEM private keys/);
  });

  it("the exchange key passes only with the identity key's signature over it", () => {
    const a = generateHostKeys();
    const b = generateHostKeys();
    assert.doesNotThrow(() => checkPublicHostKeys(a));
    assert.throws(() => checkPublicHostKeys({ ...a, exchangePublic: b.exchangePublic }), /not signed by the identity key/);
    assert.throws(() => checkPublicHostKeys({ ...a, exchangeSignature: b.exchangeSignature }), /not signed by the identity key/);
    assert.throws(() => checkPublicHostKeys({ ...a, identityPublic: a.identityPublic.subarray(0, 31) }), /32 bytes/);
    assert.match(keyFingerprint(a.identityPublic), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("an announcement's proof holds for its cluster, host, session and time only; through the protobuf and back", () => {
    const keys = generateHostKeys();
    const now = Date.now();
    const proof = makeAnnounceProof(subject, keys, undefined, now);
    const env = decodeEnvelope(encodeEnvelope({ announce: { host: { name: "hv3", machineId: "", addresses: [] }, version: "t", startedAtMs: 1, port: 1, neighbours: [], proof } }));
    const wire = env.announce!.proof as AnnounceProof;
    assert.deepEqual(verifyAnnounceProof(wire, subject, 30_000, now).keys.identityPublic, keys.identityPublic);
    assert.equal(refusal(() => verifyAnnounceProof(wire, { ...subject, host: "hv4" }, 30_000, now)), "badSignature", "renamed");
    assert.equal(refusal(() => verifyAnnounceProof(wire, { ...subject, cluster: "other" }, 30_000, now)), "badSignature", "another cluster");
    assert.equal(refusal(() => verifyAnnounceProof(wire, { ...subject, session: { ...subject.session, random: 1 } }, 30_000, now)), "badSignature", "replayed in another session");
    assert.equal(refusal(() => verifyAnnounceProof(wire, subject, 30_000, now + 31_000)), "stale");
    assert.equal(refusal(() => verifyAnnounceProof({ ...wire, signedAtMs: now + 1 }, subject, 30_000, now)), "badSignature", "time changed");
    const other = generateHostKeys();
    assert.equal(refusal(() => verifyAnnounceProof({ ...wire, keys: { identityKey: other.identityPublic, exchangeKey: other.exchangePublic, exchangeSignature: other.exchangeSignature } }, subject, 30_000, now)), "badSignature", "another host's keys shown with this signature");
    assert.equal(refusal(() => verifyAnnounceProof({ ...wire, keys: { ...wire.keys, exchangeKey: other.exchangePublic } }, subject, 30_000, now)), "badKeys");
    assert.equal(refusal(() => verifyAnnounceProof(null, subject, 30_000, now)), "noProof", "an announcement from a nanoprobe without keys");
    const noProof = decodeEnvelope(encodeEnvelope({ announce: { host: { name: "hv3", machineId: "", addresses: [] }, version: "t", startedAtMs: 1, port: 1, neighbours: [] } }));
    assert.equal(refusal(() => verifyAnnounceProof(noProof.announce!.proof, subject, 30_000, now)), "noProof");
  });

  it("a rotation: the new key's proof carries the old key's signature over the same bytes; a forged one fails", () => {
    const old = generateHostKeys();
    const next = generateHostKeys();
    const now = Date.now();
    const proof = makeAnnounceProof(subject, next, old, now);
    const v = verifyAnnounceProof(proof, subject, 30_000, now);
    assert.deepEqual(v.rotatedFrom, old.identityPublic);
    assert.deepEqual(v.keys.identityPublic, next.identityPublic);
    const mallory = generateHostKeys();
    assert.equal(refusal(() => verifyAnnounceProof({ ...proof, rotatedFrom: mallory.identityPublic }, subject, 30_000, now)), "badRotation");
    assert.equal(refusal(() => verifyAnnounceProof({ ...proof, rotationSignature: undefined }, subject, 30_000, now)), "badRotation");
  });

  it("'ringwatch-nanoprobe keygen' writes the key file and prints its fingerprint; again, it refuses; --show prints the same", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "rw-keygen-")), "host.key");
    const made = await runToExit(NANOPROBE_CLI, ["keygen"], { RINGWATCH_IDENTITY_KEY_FILE: path });
    assert.equal(made.code, 0, made.stderr);
    const fp = keyFingerprint(readHostKeys(path).identityPublic);
    assert.equal(made.stdout.trim(), `${path}: ${fp}`);
    const again = await runToExit(NANOPROBE_CLI, ["keygen"], { RINGWATCH_IDENTITY_KEY_FILE: path });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists: a host keeps its identity/);
    const shown = await runToExit(NANOPROBE_CLI, ["keygen", "--show"], { RINGWATCH_IDENTITY_KEY_FILE: path });
    assert.equal(shown.stdout.trim(), `${path}: ${fp}`);
  });
});

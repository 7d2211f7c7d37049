/**
 * One-time enrollment tokens (cma/src/identity/enrollment-store.ts, shared/src/identity/enrollment-proof.ts):
 * the proof (bound to the cluster, the name and the identity key; wrong name, key, token or cluster
 * fail), the store (only the token's hash kept, 0600, read back after a restart, spent once,
 * expired ones dropped, a damaged file stops the start and is left as it was), the Announce field
 * (old and new encodings read each other), and admission with real proofs under each policy.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError, decodeEnvelope, encodeEnvelope, enrollmentKey, generateHostKeys, keyFingerprint, makeAnnounceProof, makeEnrollmentProof, newEnrollmentToken,
  parseEnrollmentToken, silentLogger, verifyEnrollmentProof,
} from "@ringwatch/shared";
import type { Announce, HostKeys, InboundMessage } from "@ringwatch/shared";
import { EnrollmentStore, HostAdmission, HostKeyError, PinStore } from "@ringwatch/cma";
import { readEnrollmentTokenFile } from "@ringwatch/nanoprobe";
import type { MismatchEvent, PolicySettings } from "@ringwatch/cma";

const CLUSTER = "enrolltest";
const A = generateHostKeys(), B = generateHostKeys();
const HOUR = 3_600_000;

let sessionSeq = 1;
/** an announcement of `name` proved with `keys`, carrying the proof of `token` (made for `tokenFor`, default the name) */
function announcement(name: string, keys: HostKeys, token?: string, tokenFor = name): [InboundMessage, Announce] {
  const session = { startMs: Date.now(), random: sessionSeq++ };
  const a: Announce = {
    host: { name, machineId: "m", addresses: [] }, version: "test", startedAtMs: session.startMs, port: 1984, neighbours: [],
    proof: makeAnnounceProof({ cluster: CLUSTER, host: name, session }, keys),
    ...(token ? { enrollmentProof: makeEnrollmentProof(token, { cluster: CLUSTER, host: tokenFor, identityPublic: keys.identityPublic }) } : {}),
  };
  return [{ payload: Buffer.alloc(0), from: { id: name, session, address: "127.0.0.5", port: 1984 } as InboundMessage["from"], reliable: false, sealed: false }, a];
}

describe("enrollment tokens", () => {
  it("the proof: a token's proof verifies for its cluster, name and key only, and a wrong token fails", () => {
    const token = newEnrollmentToken();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, "base64url").length, 32);
    assert.equal(parseEnrollmentToken(`  ${token}\n`), token);
    assert.throws(() => parseEnrollmentToken("short"), /not an enrollment token/);
    const key = enrollmentKey(token);
    const s = { cluster: CLUSTER, host: "hv1", identityPublic: A.identityPublic };
    const proof = makeEnrollmentProof(token, s);
    assert.equal(verifyEnrollmentProof(key, s, proof), true);
    assert.equal(verifyEnrollmentProof(key, { ...s, host: "hv2" }, proof), false, "wrong name");
    assert.equal(verifyEnrollmentProof(key, { ...s, identityPublic: B.identityPublic }, proof), false, "wrong key");
    assert.equal(verifyEnrollmentProof(key, { ...s, cluster: "other" }, proof), false, "wrong cluster");
    assert.equal(verifyEnrollmentProof(enrollmentKey(newEnrollmentToken()), s, proof), false, "wrong token");
    assert.equal(verifyEnrollmentProof(key, s, proof.subarray(0, 31)), false, "truncated");
    assert.equal(verifyEnrollmentProof(key, s, Buffer.alloc(0)), false, "empty");
  });

  it("the nanoprobe's enrollmentTokenFile: the token read (whitespace dropped); missing is none; anything else stops the start", () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-enroll-file-"));
    const token = newEnrollmentToken();
    writeFileSync(join(dir, "ok"), `${token}\n`);
    assert.equal(readEnrollmentTokenFile(join(dir, "ok")), token);
    assert.equal(readEnrollmentTokenFile(join(dir, "missing")), undefined);
    writeFileSync(join(dir, "bad"), "not a token\n");
    assert.throws(() => readEnrollmentTokenFile(join(dir, "bad")), (e: Error) => e instanceof ConfigError && /not an enrollment token/.test(e.message));
  });

  it("the Announce field is additive: carried when set, empty when absent", () => {
    const [, a] = announcement("hv1", A, newEnrollmentToken());
    const back = decodeEnvelope(encodeEnvelope({ announce: a })).announce!;
    assert.deepEqual(Buffer.from(back.enrollmentProof!), Buffer.from(a.enrollmentProof!));
    const [, old] = announcement("hv1", A);
    assert.equal(decodeEnvelope(encodeEnvelope({ announce: old })).announce!.enrollmentProof!.length, 0);
  });

  it("the store: keeps the token's hash (0600), reads back after a restart, used stays used, expired ones are dropped, cancel removes", () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-enroll-"));
    const now = Date.now();
    const store = EnrollmentStore.open(dir, now);
    const { token, enrollment } = store.create("hv1", HOUR, "adele", now);
    store.create("hv2", 60_000, "adele", now);
    store.create("hv3", HOUR, "bob", now);
    const path = join(dir, "host-enrollments.json");
    const text = readFileSync(path, "utf8");
    assert.equal(text.includes(token), false, "the token itself is never written");
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(enrollment.key, enrollmentKey(token));
    store.consume("hv1", keyFingerprint(A.identityPublic), now + 1000);
    assert.equal(store.remove("hv3")?.createdBy, "bob");
    // a restart two minutes later: hv1 still used, hv2 expired and dropped, hv3 still cancelled
    const again = EnrollmentStore.open(dir, now + 120_000);
    assert.deepEqual(again.list(now + 120_000).map((e) => [e.name, e.usedBy]), [["hv1", keyFingerprint(A.identityPublic)]]);
    assert.equal(again.get("hv1")!.usedAt, now + 1000);
    assert.deepEqual(again.get("hv1")!.key, enrollmentKey(token));
    assert.equal(again.outstanding(now + 120_000), 0);
    // a new enrollment for a name voids the earlier token
    const next = again.create("hv1", HOUR, "adele", now + 120_000);
    assert.notDeepEqual(again.get("hv1")!.key, enrollmentKey(token));
    assert.deepEqual(again.get("hv1")!.key, enrollmentKey(next.token));
    assert.equal(again.get("hv1")!.usedAt, undefined);
  });

  it("the store: a damaged file stops the start with the reason and is left as it was", () => {
    for (const bad of ["{", '{"version":1,"enrollments":[{"name":"hv1"}]}', '{"version":1,"enrollments":[{"name":"hv1","key":"AAAA","createdAt":1,"createdBy":"a","expiresAt":2}]}', '{"version":2,"enrollments":[]}']) {
      const dir = mkdtempSync(join(tmpdir(), "rw-enroll-bad-"));
      writeFileSync(join(dir, "host-enrollments.json"), bad);
      assert.throws(() => EnrollmentStore.open(dir), (e: Error) => e instanceof ConfigError && /host enrollments .* are damaged/.test(e.message), bad);
      assert.equal(readFileSync(join(dir, "host-enrollments.json"), "utf8"), bad, "left as it was");
    }
  });

  it("admission under enrolled: a valid token admits and pins once; the same token for another key, another name, or expired is refused and counted", () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-enroll-admit-"));
    const audit: { action: string; target?: string; detail?: Record<string, unknown> }[] = [];
    const enrollments = EnrollmentStore.open(dir);
    const settings: PolicySettings = { policy: "enrolled", enrolled: new Map([["listed", keyFingerprint(B.identityPublic)]]), allowHostsWithoutKeys: false };
    const adm = new HostAdmission({ store: PinStore.open(dir), enrollments, settings, cluster: CLUSTER, maxSkewMs: 30_000, audit: { record: (r) => audit.push(r) }, log: silentLogger() });
    const mismatches: MismatchEvent[] = [];
    adm.on("mismatch", (e) => mismatches.push(e));
    const { token } = adm.enroll("hv1", HOUR, "adele");
    assert.equal(adm.admit(...announcement("hv1", A)), false, "no token: not enrolled");
    assert.equal(adm.admit(...announcement("hv1", A, token)), true, "the token admits");
    assert.equal(adm.store.get("hv1")!.pinnedBy, "enrollment token");
    assert.equal(adm.keysOf("hv1")!.identityPublic.equals(A.identityPublic), true);
    assert.equal(adm.listEnrollments()[0]!.usedBy, keyFingerprint(A.identityPublic), "spent at once");
    assert.deepEqual(audit.map((r) => `${r.action} ${r.target}`), ["hostKeyEnrolled hv1"]);
    assert.equal(audit[0]!.detail!.enrollmentBy, "adele");
    // the admitted host goes on, with the spent proof or without it
    assert.equal(adm.admit(...announcement("hv1", A, token)), true);
    assert.equal(adm.admit(...announcement("hv1", A)), true);
    // another key with the same token: spent, and raised as a claim on hv1
    assert.equal(adm.admit(...announcement("hv1", B, token)), false);
    assert.deepEqual(mismatches.map((m) => [m.host, m.presented]), [["hv1", keyFingerprint(B.identityPublic)]]);
    // the pins and the spent token hold across a restart
    const adm2 = new HostAdmission({ store: PinStore.open(dir), enrollments: EnrollmentStore.open(dir), settings, cluster: CLUSTER, maxSkewMs: 30_000, log: silentLogger() });
    assert.equal(adm2.admit(...announcement("hv1", A)), true, "pinned by its token, admitted though not in the file");
    assert.equal(adm2.admit(...announcement("hv1", B, token)), false);
    // hv1's token shown by hv2: no enrollment for hv2, or not hv2's token
    assert.equal(adm2.admit(...announcement("hv2", B, token, "hv1")), false);
    adm2.enroll("hv2", HOUR, "adele");
    assert.equal(adm2.admit(...announcement("hv2", B, token, "hv1")), false);
    assert.equal(adm2.admit(...announcement("hv2", B, token)), false, "hv1's token for the name hv2");
    // expired (made two hours ago for one): refused, and dropped
    const hv4 = adm2.enroll("hv4", HOUR, "adele", Date.now() - 2 * HOUR);
    assert.equal(adm2.admit(...announcement("hv4", B, hv4.token)), false);
    assert.equal(adm2.listEnrollments(0).some((e) => e.name === "hv4"), false, "dropped");
    assert.deepEqual(
      { used: adm2.counters.refused.enrollmentUsed, unknown: adm2.counters.refused.enrollmentUnknown, invalid: adm2.counters.refused.enrollmentInvalid, expired: adm2.counters.refused.enrollmentExpired, notEnrolled: adm2.counters.refused.notEnrolled },
      { used: 1, unknown: 1, invalid: 2, expired: 1, notEnrolled: 0 },
    );
    assert.equal(adm.counters.refused.enrollmentUsed, 1);
    assert.equal(adm.counters.refused.notEnrolled, 1);
    // not for a pinned name, nor one the file lists; cancel voids it
    assert.throws(() => adm2.enroll("hv1", HOUR, "adele"), (e: Error) => e instanceof HostKeyError && e.code === "pinned");
    assert.throws(() => adm2.enroll("listed", HOUR, "adele"), (e: Error) => e instanceof HostKeyError && e.code === "listed");
    const hv3 = adm2.enroll("hv3", HOUR, "adele");
    adm2.cancelEnrollment("hv3", "adele");
    assert.equal(adm2.admit(...announcement("hv3", A, hv3.token)), false);
    assert.throws(() => adm2.cancelEnrollment("hv3", "adele"), (e: Error) => e instanceof HostKeyError && e.code === "no-enrollment");
  });

  it("admission under approve and open: a valid token admits at once; a spent one is refused even where the policy alone would admit", () => {
    const mk = (policy: PolicySettings["policy"]) => new HostAdmission({
      store: PinStore.open(""), enrollments: EnrollmentStore.open(""), settings: { policy, enrolled: new Map(), allowHostsWithoutKeys: false }, cluster: CLUSTER, maxSkewMs: 30_000, log: silentLogger(),
    });
    const approve = mk("approve");
    assert.equal(approve.admit(...announcement("hv1", B)), false, "waits");
    assert.equal(approve.store.get("hv1")!.state, "pending");
    const t = approve.enroll("hv1", HOUR, "adele");
    assert.equal(approve.admit(...announcement("hv1", A, t.token)), true, "no waiting with a token (the pending key replaced)");
    assert.equal(approve.store.get("hv1")!.state, "pinned");
    assert.equal(approve.keysOf("hv1")!.identityPublic.equals(A.identityPublic), true);
    const open = mk("open");
    const u = open.enroll("hv1", HOUR, "adele");
    assert.equal(open.admit(...announcement("hv1", A, u.token)), true);
    assert.equal(open.admit(...announcement("hv2", B, u.token, "hv1")), false, "hv1's token shown for hv2, under open too");
    assert.equal(open.counters.refused.enrollmentUnknown, 1);
    assert.equal(open.admit(...announcement("hv2", B)), true, "without a token, open admits hv2 on first use");
    // hv1 forgotten: its spent token no longer admits it, though open alone would (on first use)
    open.forget("hv1", "adele");
    assert.equal(open.admit(...announcement("hv1", A, u.token)), false);
    assert.equal(open.counters.refused.enrollmentUsed, 1);
    assert.equal(open.admit(...announcement("hv1", A)), true, "without it: first use");
  });
});

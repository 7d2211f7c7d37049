/**
 * The CMA's host key pins (cma/src/identity): the pin file (persistent, atomic, a damaged one stops
 * the start and is left as it was), the enrolled hosts' file, the policy's decisions, and admission
 * with real announcement proofs (no network: the messages are built as the channel delivers them).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, generateHostKeys, keyFingerprint, makeAnnounceProof, publicHalf, silentLogger } from "@ringwatch/shared";
import type { Announce, HostKeys, InboundMessage } from "@ringwatch/shared";
import { CMA_KEYS, CmaHealthTranslator, HostAdmission, MAX_PENDING_KEYS, MonitoringErrors, PinStore, TEMPLATES, decide, parseEnrolledKeys, watchHostKeys } from "@ringwatch/cma";
import type { ZabbixValue } from "@ringwatch/cma";
import type { HostPin, MismatchEvent, PolicySettings } from "@ringwatch/cma";

const CLUSTER = "pintest";
const A = generateHostKeys(), B = generateHostKeys(), C = generateHostKeys();
const pinOf = (name: string, k: HostKeys, state: HostPin["state"] = "pinned"): HostPin =>
  ({ name, state, keys: publicHalf(k), fingerprint: keyFingerprint(k.identityPublic), firstSeenAt: 1000, ...(state === "pinned" ? { pinnedAt: 1000, pinnedBy: "first use" } : {}) });

let sessionSeq = 1;
/** an announcement of `name` proved with `keys` (rotating from `previous`), as the CMA's channel hands it over */
function announcement(name: string, keys: HostKeys | undefined, o: { previous?: HostKeys; address?: string; signedAt?: number } = {}): [InboundMessage, Announce] {
  const session = { startMs: Date.now(), random: sessionSeq++ };
  const a: Announce = {
    host: { name, machineId: "m", addresses: [] }, version: "test", startedAtMs: session.startMs, port: 1984, neighbours: [],
    ...(keys ? { proof: makeAnnounceProof({ cluster: CLUSTER, host: name, session }, keys, o.previous, o.signedAt) } : {}),
  };
  return [{ payload: Buffer.alloc(0), from: { id: name, session, address: o.address ?? "127.0.0.5", port: 1984 } as InboundMessage["from"], reliable: false, sealed: false }, a];
}

describe("host key pins", () => {
  it("are kept in <dataDir>/host-keys.json (0600, written by rename) and read back after a restart; keysOf gives only pins in force", () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-pins-"));
    const store = PinStore.open(dir);
    assert.equal(store.size, 0, "a first start has no pins");
    store.set(pinOf("hv1", A));
    store.set({ ...pinOf("hv2", B, "pending") });
    store.set({ ...pinOf("hv3", C), state: "revoked", revokedAt: 2000, revokedBy: "adele" });
    store.save();
    assert.equal(statSync(join(dir, "host-keys.json")).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ["host-keys.json"], "no temporary file left behind");
    const again = PinStore.open(dir);
    assert.deepEqual(again.all().map((p) => `${p.name}:${p.state}`), ["hv1:pinned", "hv2:pending", "hv3:revoked"]);
    assert.deepEqual(again.keysOf("hv1"), publicHalf(A));
    assert.equal(again.keysOf("hv2"), undefined, "a pending key is not in force");
    assert.equal(again.keysOf("hv3"), undefined, "nor a revoked one");
    assert.equal(again.get("hv3")!.revokedBy, "adele");
  });

  it("a damaged pin file stops the start with the reason, and is left as it was (never silently emptied)", () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-pins-bad-"));
    const path = join(dir, "host-keys.json");
    const damaged = (text: string, why: RegExp): void => {
      writeFileSync(path, text);
      assert.throws(() => PinStore.open(dir), (e: Error) => e instanceof ConfigError && /are damaged/.test(e.message) && why.test(e.message), `refused: ${why}`);
      assert.equal(readFileSync(path, "utf8"), text, "left as it was");
    };
    damaged('{"version":1,"pins":[', /JSON/);
    damaged("[]", /not a pin file/);
    const s = PinStore.open(mkdtempSync(join(tmpdir(), "rw-pins-src-")));
    s.set(pinOf("hv1", A));
    const good = JSON.parse(JSON.stringify({ version: 1, pins: [{ ...pinOf("hv1", A), keys: { identity: A.identityPublic.toString("base64"), exchange: A.exchangePublic.toString("base64"), exchangeSignature: A.exchangeSignature.toString("base64") } }] }));
    writeFileSync(path, JSON.stringify(good));
    assert.equal(PinStore.open(dir).get("hv1")!.fingerprint, keyFingerprint(A.identityPublic), "the good form reads");
    damaged(JSON.stringify({ ...good, pins: [{ ...good.pins[0], fingerprint: keyFingerprint(B.identityPublic) }] }), /not the key's/);
    damaged(JSON.stringify({ ...good, pins: [{ ...good.pins[0], keys: { ...good.pins[0].keys, exchange: B.exchangePublic.toString("base64") } }] }), /not signed by the identity key/);
    damaged(JSON.stringify({ ...good, pins: [good.pins[0], good.pins[0]] }), /pinned twice/);
    damaged(JSON.stringify({ ...good, pins: [{ ...good.pins[0], state: "trusted" }] }), /bad state/);
  });

  it("hostKeysFile: name and fingerprint per line, comments and blank lines skipped; a bad line is named by its number", () => {
    const fa = keyFingerprint(A.identityPublic), fb = keyFingerprint(B.identityPublic);
    const k = parseEnrolledKeys(`# the fleet\n\nhv1 ${fa}\n  hv2\t${fb}  \n`, "hosts.txt");
    assert.deepEqual([...k], [["hv1", fa], ["hv2", fb]]);
    assert.throws(() => parseEnrolledKeys(`hv1 ${fa}\nhv2 SHA256:short\n`, "hosts.txt"), /hosts\.txt:2: "SHA256:short" is not a key fingerprint/);
    assert.throws(() => parseEnrolledKeys(`hv1 ${fa}\nhv1 ${fb}\n`, "hosts.txt"), /hosts\.txt:2: hv1 is listed twice/);
    assert.throws(() => parseEnrolledKeys(`hv1 ${fa} extra\n`, "hosts.txt"), /hosts\.txt:1: expected "name fingerprint", got 3 field/);
    assert.throws(() => parseEnrolledKeys(`-hv1 ${fa}\n`, "hosts.txt"), /hosts\.txt:1: bad host name/);
  });

  it("the policy: trust on first use, approval, enrolment; a pinned name admits its key only (or a rotation it vouched for)", () => {
    const shown = (k: HostKeys, rotatedFrom?: HostKeys) => ({ keys: publicHalf(k), fingerprint: keyFingerprint(k.identityPublic), ...(rotatedFrom ? { rotatedFrom: rotatedFrom.identityPublic } : {}) });
    const open: PolicySettings = { policy: "open", enrolled: new Map(), allowHostsWithoutKeys: false };
    const approve: PolicySettings = { ...open, policy: "approve" };
    const enrolled: PolicySettings = { ...open, policy: "enrolled", enrolled: new Map([["hv1", keyFingerprint(A.identityPublic)]]) };
    assert.deepEqual(decide("hv1", undefined, shown(A), open), { verdict: "admit", pin: "new", by: "first use" });
    assert.deepEqual(decide("hv1", pinOf("hv1", A), shown(A), open), { verdict: "admit", pin: "keep" });
    assert.deepEqual(decide("hv1", pinOf("hv1", A), shown(B), open), { verdict: "refuse", reason: "mismatch" });
    assert.deepEqual(decide("hv1", pinOf("hv1", A), shown(B, A), open), { verdict: "admit", pin: "rotate", by: "rotation" });
    assert.deepEqual(decide("hv1", pinOf("hv1", A), shown(B, C), open), { verdict: "refuse", reason: "mismatch" }, "a rotation from another key is a mismatch");
    assert.deepEqual(decide("hv1", pinOf("hv1", A, "revoked"), shown(A), open), { verdict: "refuse", reason: "revoked" });
    assert.deepEqual(decide("hv1", undefined, shown(A), approve), { verdict: "wait" });
    assert.deepEqual(decide("hv1", pinOf("hv1", A, "pending"), shown(A), approve), { verdict: "wait" });
    assert.deepEqual(decide("hv1", pinOf("hv1", A, "pending"), shown(B), approve), { verdict: "refuse", reason: "mismatch" });
    assert.deepEqual(decide("hv1", undefined, shown(A), enrolled), { verdict: "admit", pin: "new", by: "enrolled" });
    assert.deepEqual(decide("hv1", undefined, shown(B), enrolled), { verdict: "refuse", reason: "mismatch" });
    assert.deepEqual(decide("hv2", undefined, shown(B), enrolled), { verdict: "refuse", reason: "notEnrolled" });
    assert.deepEqual(decide("hv1", pinOf("hv1", A), shown(B, A), enrolled), { verdict: "refuse", reason: "mismatch" }, "enrolled: the file says which key, not a rotation");
    // no proof: only with allowHostsWithoutKeys, and only for a name with no pin (and not enrolled)
    assert.deepEqual(decide("hv1", undefined, { keys: undefined }, open), { verdict: "refuse", reason: "noProof" });
    assert.deepEqual(decide("hv1", undefined, { keys: undefined }, { ...open, allowHostsWithoutKeys: true }), { verdict: "admit", pin: "none" });
    assert.deepEqual(decide("hv1", pinOf("hv1", A), { keys: undefined }, { ...open, allowHostsWithoutKeys: true }), { verdict: "refuse", reason: "noProof" });
    assert.deepEqual(decide("hv1", undefined, { keys: undefined }, { ...enrolled, allowHostsWithoutKeys: true }), { verdict: "refuse", reason: "noProof" });
  });

  it("admission with real proofs: first use pins, an impostor's key and a stale proof are refused and counted, a vouched rotation re-pins (audited), approve/revoke/forget", () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-admit-"));
    const audit: { action: string; target?: string }[] = [];
    const mk = (policy: PolicySettings["policy"]) => new HostAdmission({
      store: PinStore.open(dir), settings: { policy, enrolled: new Map(), allowHostsWithoutKeys: false }, cluster: CLUSTER, maxSkewMs: 30_000,
      audit: { record: (r) => audit.push(r) }, log: silentLogger(),
    });
    const adm = mk("open");
    const mismatches: MismatchEvent[] = [];
    adm.on("mismatch", (e) => mismatches.push(e));
    assert.equal(adm.admit(...announcement("hv1", A)), true, "first use");
    assert.equal(adm.admit(...announcement("hv1", A)), true, "its own key again");
    assert.equal(adm.admit(...announcement("hv1", B, { address: "127.0.0.9" })), false, "another key");
    assert.deepEqual(mismatches.map((m) => [m.host, m.from, m.presented, m.pinned]), [["hv1", "127.0.0.9:1984", keyFingerprint(B.identityPublic), keyFingerprint(A.identityPublic)]]);
    assert.equal(adm.admit(...announcement("hv1", A, { signedAt: Date.now() - 60_000 })), false, "a stale proof");
    assert.equal(adm.admit(...announcement("hv1", undefined)), false, "no proof");
    // a proof made for another name does not pass for hv1
    const [m, a] = announcement("hv2", A);
    assert.equal(adm.admit({ ...m, from: { ...m.from, id: "hv1" } }, a), false);
    assert.deepEqual({ ...adm.counters.refused }, { noProof: 1, badKeys: 0, badSignature: 1, stale: 1, badRotation: 0, mismatch: 1, pending: 0, revoked: 0, notEnrolled: 0,
      enrollmentUsed: 0, enrollmentExpired: 0, enrollmentUnknown: 0, enrollmentInvalid: 0 });
    // rotation vouched for by the pinned key
    assert.equal(adm.admit(...announcement("hv1", B, { previous: A })), true);
    assert.equal(adm.keysOf("hv1")!.identityPublic.equals(B.identityPublic), true, "re-pinned to the new key");
    assert.deepEqual(audit.map((r) => `${r.action} ${r.target}`), ["hostKeyRotate hv1"]);
    assert.equal(adm.admit(...announcement("hv1", A)), false, "the old key no longer");
    // revoke: refused at once, and nothing else from it is heard
    adm.revoke("hv1", "adele");
    assert.equal(adm.mayTalk("hv1"), false);
    assert.equal(adm.admit(...announcement("hv1", B)), false);
    assert.equal(adm.counters.refused.revoked, 1);
    assert.throws(() => adm.approve("hv1", "adele"), /revoked, not pending/);
    adm.forget("hv1", "adele");
    assert.equal(adm.mayTalk("hv1"), true);
    assert.equal(adm.admit(...announcement("hv1", C)), true, "forgotten: admitted as new (re-keyed)");
    adm.stop();
    // approve mode, on the same pins (a restart): a new key waits, is approved, then admitted
    const adm2 = mk("approve");
    assert.equal(adm2.keysOf("hv1")!.identityPublic.equals(C.identityPublic), true, "the pins survived");
    assert.equal(adm2.admit(...announcement("hv4", A)), false);
    assert.equal(adm2.mayTalk("hv4"), false, "a pending host is not heard");
    assert.deepEqual(adm2.list().map((p) => `${p.name}:${p.state}`), ["hv4:pending", "hv1:pinned"], "pending first");
    assert.throws(() => adm2.approve("hv9", "adele"), /no host key recorded/);
    adm2.approve("hv4", "adele");
    assert.equal(adm2.admit(...announcement("hv4", A)), true);
    assert.equal(PinStore.open(dir).get("hv4")!.pinnedBy, "adele", "an approval is written before it answers");
    assert.deepEqual([adm2.store.count("pinned"), adm2.store.count("pending"), adm2.store.count("revoked")], [2, 0, 0]);
  });

  it("a mismatch is a security alert: a monitoring error on the claimed host, to Zabbix as the CMA's items (the problem named by the summary); cleared when an admin revokes or forgets the pin", () => {
    const adm = new HostAdmission({ store: PinStore.open(""), settings: { policy: "open", enrolled: new Map(), allowHostsWithoutKeys: false }, cluster: CLUSTER, maxSkewMs: 30_000, log: silentLogger() });
    const errors = new MonitoringErrors(silentLogger());
    const stop = watchHostKeys(errors, adm, 60_000);
    const sent: ZabbixValue[] = [];
    const health = new CmaHealthTranslator({ emit: (_h: string, _g: string | undefined, v: ZabbixValue[]) => sent.push(...v) } as unknown as ConstructorParameters<typeof CmaHealthTranslator>[0], "ringwatch-cma", errors);
    errors.on("event", (e) => health.onEvent(e));
    assert.equal(adm.admit(...announcement("hv3", A)), true);
    assert.equal(adm.admit(...announcement("hv3", B, { address: "10.1.2.3" })), false);
    assert.equal(adm.admit(...announcement("hv3", C, { address: "10.1.2.4" })), false);
    const [e] = errors.active({ source: "hostKeyMismatch" });
    assert.equal(e!.host, "hv3");
    assert.equal(e!.evidence.refused, 2);
    assert.deepEqual(e!.evidence.sources, ["10.1.2.3", "10.1.2.4"]);
    const last = (key: string) => sent.filter((v) => v.key === key).at(-1)?.value;
    assert.equal(last(CMA_KEYS.hostKeyMismatches), 1);
    assert.equal(last(CMA_KEYS.hostKeyMismatchSummary), "host key mismatch for hv3 from 10.1.2.3", "the summary names the first address (updates ride with the heartbeat)");
    // the trigger on the CMA's own host: its name is the summary item's value when the problem starts
    const trigger = TEMPLATES.find((t) => t.role === "cma")!.triggers.find((t) => t.name === "ringwatch: {ITEM.LASTVALUE2}")!;
    assert.equal(trigger.expression, `last(/{T}/${CMA_KEYS.hostKeyMismatches})>0 and length(last(/{T}/${CMA_KEYS.hostKeyMismatchSummary}))>0`);
    assert.equal(trigger.priority, "high");
    adm.revoke("hv3", "adele");
    assert.equal(errors.active({ source: "hostKeyMismatch" }).length, 0, "the admin acted on that name");
    assert.equal(last(CMA_KEYS.hostKeyMismatches), 0);
    assert.equal(last(CMA_KEYS.hostKeyMismatchSummary), "");
    stop();
  });

  it("keys waiting for approval are bounded: made-up names past MAX_PENDING_KEYS are refused without being recorded", () => {
    const adm = new HostAdmission({ store: PinStore.open(""), settings: { policy: "approve", enrolled: new Map(), allowHostsWithoutKeys: false }, cluster: CLUSTER, maxSkewMs: 30_000, log: silentLogger() });
    for (let i = 0; i < MAX_PENDING_KEYS + 5; i++) assert.equal(adm.admit(...announcement(`made-up-${i}`, A)), false);
    assert.equal(adm.store.count("pending"), MAX_PENDING_KEYS);
    assert.equal(adm.store.get(`made-up-${MAX_PENDING_KEYS}`), undefined);
    assert.equal(adm.counters.refused.pending, MAX_PENDING_KEYS + 5);
  });
});

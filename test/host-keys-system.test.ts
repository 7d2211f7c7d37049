/**
 * Admission by host key across real processes: a real CMA and real nanoprobes on loopback (each
 * with its own identity key), and a rogue in-process endpoint holding the cluster key at
 * 127.0.0.9. The rogue announces as hv3 with its own key, then with hv1's private key: refused,
 * counted, alerted, and hv3's address, state and ring do not change. An admin revokes hv2: out of
 * the rings at once, shown revoked, its own key refused. The CMA restarts in approve mode: the pins
 * held (hv1 and hv3 re-admitted without approval, the rogue still refused, hv2 still revoked); a
 * new host hv4 waits, pending and out of the rings, until approved through the CLI, then joins.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Endpoint, Keyring, encodeEnvelope, generateHostKeys, keyFingerprint, makeAnnounceProof, readHostKeys, silentLogger } from "@ringwatch/shared";
import type { Envelope, HostKeys } from "@ringwatch/shared";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess, testIdentityKeyFile } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";
import { loopbackCluster } from "./support/loopback-cluster.js";
import { offlineToken } from "./support/access.js";
import type { OfflineToken } from "./support/access.js";

const TIMING = { heartbeatMs: 300, warntimeMs: 1000, deadtimeMs: 3000 };
const CLUSTER = "hostkeystest";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const FAST = { RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none", RINGWATCH_CONTROL_SOCKET: "off" };

interface HostView { name: string; state: string; address: string; port: number; revoked?: boolean }
interface Status { hostKeys: { policy: string; pins: Record<string, number>; refused: Record<string, number>; droppedFromUnadmitted: number; rotated: number } }

describe("system: hosts admitted by their keys (real CMA and nanoprobes, a rogue holding the cluster key)", function () {
  this.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-hostkeys-"));
  const fx = writeFixture(4);
  const procs: RunningProcess[] = [];
  let rogue: Endpoint | undefined;
  after(async () => {
    await rogue?.close();
    await Promise.all(procs.map((p) => p.stop()));
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an impostor as hv3 (its own key, then hv1's) is refused and raised with hv3 unchanged; a revoked host leaves the rings; pins survive a restart; approve mode admits a new host once approved", async () => {
    const cluster = await loopbackCluster(dir, CLUSTER, TIMING, fx.uri);
    const dataDir = join(dir, "cma-state");
    const cred: OfflineToken = await offlineToken(dataDir, "admin");
    let url = "";
    const startCma = async (extra: Record<string, string>): Promise<RunningProcess> => {
      const p = startProcess("cma", CMA_CLI, ["run"], cluster.cmaEnv({ ...FAST, RINGWATCH_HTTP_LISTEN: "127.0.0.1:0", ...extra }));
      procs.push(p);
      url = String((await p.waitFor((l) => l.msg === "CMA started", 15_000, "CMA started")).http);
      return p;
    };
    const get = async <T>(path: string): Promise<T> => {
      const r = await fetch(`${url}${path}`, { headers: cred.auth });
      assert.equal(r.status, 200, `GET ${path}: ${r.status}`);
      return (await r.json()) as T;
    };
    const hosts = async (): Promise<Map<string, HostView>> => new Map((await get<{ hosts: HostView[] }>("/api/hosts")).hosts.map((h) => [h.name, h]));
    const ringMembers = async (): Promise<string[]> => (await get<{ segments: { members: string[] }[] }>("/api/rings")).segments.flatMap((s) => s.members).sort();
    const status = (): Promise<Status> => get<Status>("/api/status");
    const nanoprobe = (id: string, i: number, extra: Record<string, string> = {}): RunningProcess => {
      const p = startProcess(id, NANOPROBE_CLI, ["run"], cluster.nanoprobeEnv(id, i, extra));
      procs.push(p);
      return p;
    };

    let cma = await startCma({});
    nanoprobe("hv1", 0);
    nanoprobe("hv2", 1);
    nanoprobe("hv3", 2);
    await cma.until(async () => ((await ringMembers()).join() === "hv1,hv2,hv3" ? true : undefined), 20_000, "hv1..hv3 in the ring");
    const before = await hosts();
    const hv3 = before.get("hv3")!;
    assert.equal(hv3.address, "127.0.0.4");
    assert.deepEqual((await status()).hostKeys.pins, { pinned: 3, pending: 0, revoked: 0 }, "trust on first use pinned all three");

    // the rogue: the cluster key, its own address, hv3's name
    rogue = await Endpoint.open({ identity: "hv3", keyring: Keyring.fromFile(CLUSTER, join(dir, "keys/cluster.key")), bindAddress: "127.0.0.9", port: cluster.port, log: silentLogger() });
    const cmaAddress = { address: "127.0.0.1", port: cluster.port };
    const announceAsHv3 = (proofKeys: HostKeys, show?: HostKeys): void => {
      const proof = makeAnnounceProof({ cluster: CLUSTER, host: "hv3", session: rogue!.session }, proofKeys);
      if (show) proof.keys = { identityKey: show.identityPublic, exchangeKey: show.exchangePublic, exchangeSignature: show.exchangeSignature };
      const env: Envelope = { announce: { host: { name: "hv3", machineId: "rogue", addresses: ["127.0.0.9"] }, version: "rogue", startedAtMs: rogue!.session.startMs, port: cluster.port, neighbours: [], proof } };
      rogue!.sendDatagram(cmaAddress, encodeEnvelope(env));
    };
    const refused = async (reason: string, atLeast: number): Promise<void> => {
      await cma.until(async () => ((await status()).hostKeys.refused[reason]! >= atLeast ? true : undefined), 10_000, `${atLeast} refused as ${reason}`, 100);
    };
    const hv3Unchanged = async (): Promise<void> => {
      const now = (await hosts()).get("hv3")!;
      assert.deepEqual([now.address, now.port, now.state, now.revoked ?? false], [hv3.address, hv3.port, "alive", false], "hv3's address and state unchanged");
      assert.equal((await ringMembers()).join(), "hv1,hv2,hv3", "the ring unchanged");
    };

    // 1. its own key: a mismatch
    const rogueKeys = generateHostKeys();
    for (let i = 0; i < 3; i++) {
      announceAsHv3(rogueKeys);
      await sleep(100);
    }
    await refused("mismatch", 3);
    await hv3Unchanged();
    const warn = await cma.waitFor((l) => l.msg === "announcement refused: host identity" && l.reason === "mismatch", 5000, "the refusal at warn");
    assert.equal(warn.level, 40);
    assert.equal(warn.from, `127.0.0.9:${cluster.port}`);
    const event = await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostKeyMismatch", 5000, "the membership event");
    assert.deepEqual([event.host, event.presented], ["hv3", keyFingerprint(rogueKeys.identityPublic)]);
    type Errors = { errors: { host: string; source: string; evidence: { summary: string; refused: number } }[] };
    const alert = (await get<Errors>("/api/monitoring-errors?source=hostKeyMismatch")).errors;
    assert.deepEqual(alert.map((e) => [e.host, e.evidence.summary]), [["hv3", "host key mismatch for hv3 from 127.0.0.9"]]);
    assert.ok(alert[0]!.evidence.refused >= 3);

    // 2. hv1's private key (a host holding its own key, speaking as another): the key shown is hv1's, a mismatch
    const hv1Keys = readHostKeys(testIdentityKeyFile("hv1"));
    announceAsHv3(hv1Keys);
    await refused("mismatch", 4);
    // ... or hv3's public key shown, signed with hv1's private key: the signature fails
    const hv3Public = readHostKeys(testIdentityKeyFile("hv3")); // only its public half is used: the rogue shows hv3's public key
    announceAsHv3(hv1Keys, hv3Public);
    await refused("badSignature", 1);
    await hv3Unchanged();

    // 3. an admin revokes hv2: out of the rings at once, shown revoked, its own key refused
    const revoke = await fetch(`${url}/api/host-keys/hv2/revoke`, { method: "POST", headers: cred.auth });
    assert.equal(revoke.status, 200, await revoke.clone().text());
    assert.equal(((await revoke.json()) as { state: string }).state, "revoked");
    assert.equal((await hosts()).get("hv2")!.revoked, true, "shown revoked at once");
    await cma.until(async () => ((await ringMembers()).join() === "hv1,hv3" ? true : undefined), 5000, "hv2 out of the rings");
    const hv2Keys = readHostKeys(testIdentityKeyFile("hv2"));
    const hv2Endpoint = await Endpoint.open({ identity: "hv2", keyring: Keyring.fromFile(CLUSTER, join(dir, "keys/cluster.key")), bindAddress: "127.0.0.3", port: 0, log: silentLogger() });
    hv2Endpoint.sendDatagram(cmaAddress, encodeEnvelope({ announce: {
      host: { name: "hv2", machineId: "m", addresses: [] }, version: "t", startedAtMs: hv2Endpoint.session.startMs, port: 0, neighbours: [],
      proof: makeAnnounceProof({ cluster: CLUSTER, host: "hv2", session: hv2Endpoint.session }, hv2Keys),
    } }));
    await refused("revoked", 1);
    // nothing else from a revoked host is heard: its goodbye is dropped at the CMA's one gate, counted
    await hv2Endpoint.send(cmaAddress, encodeEnvelope({ goodbye: { reason: "revoked host says goodbye" } }));
    await cma.until(async () => ((await status()).hostKeys.droppedFromUnadmitted >= 1 ? true : undefined), 5000, "the goodbye dropped");
    assert.equal(cma.lines.some((l) => l.msg === "membership event" && l.type === "hostLeft"), false);
    // out of the rings by the revocation itself, not by a false death (its neighbours reporting it, its probe replies not heard)
    assert.equal(cma.lines.some((l) => l.msg === "membership event" && l.type === "hostDead"), false, "nobody declared dead");
    assert.equal((await hosts()).get("hv2")!.state, "alive", "its last state kept, shown revoked");
    await hv2Endpoint.close();
    const audit = await get<{ entries: { action: string; target?: string; outcome: string }[] }>("/api/audit?action=hostKeyRevoke");
    assert.deepEqual(audit.entries.map((e) => `${e.action} ${e.target} ${e.outcome}`), ["hostKeyRevoke hv2 ok"]);

    // 4. the CMA restarts, now in approve mode: the pins hold
    await cma.stop();
    cma = await startCma({ RINGWATCH_HOST_KEY_POLICY: "approve" });
    await cma.until(async () => ((await ringMembers()).join() === "hv1,hv3" ? true : undefined), 20_000, "hv1 and hv3 re-admitted without approval");
    assert.equal((await hosts()).get("hv2")?.revoked, true, "hv2 still revoked");
    announceAsHv3(rogueKeys);
    await refused("mismatch", 1);
    await cma.until(async () => ((await hosts()).get("hv3")?.address === "127.0.0.4" ? true : undefined), 5000, "hv3 still at its address");
    // a new host waits for approval: pending, out of the rings, not heard
    nanoprobe("hv4", 3, { RINGWATCH_JOIN_BACKOFF_MAX_MS: "600" }); // it keeps asking often: joins soon after the approval
    await cma.until(async () => ((await status()).hostKeys.refused.pending! >= 1 ? true : undefined), 10_000, "hv4 waits");
    const cli = (...args: string[]) => runToExit(CMA_CLI, ["host-keys", ...args, "--url", url, "--token-file", cred.tokenFile]);
    const list = await cli("list");
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^policy: approve; 4 pin\(s\)/);
    const rows = list.stdout.split("\n").filter((l) => /^hv\d /.test(l)).map((l) => l.split("|").map((c) => c.trim()).slice(0, 2).join(":"));
    assert.deepEqual(rows, ["hv4:pending", "hv1:pinned", "hv3:pinned", "hv2:revoked"], "pending first");
    assert.equal((await hosts()).has("hv4"), false, "a pending host is not a member");
    assert.equal((await ringMembers()).includes("hv4"), false);
    const approve = await cli("approve", "hv4");
    assert.equal(approve.code, 0, approve.stderr);
    assert.match(approve.stdout, /^hv4: pinned \(SHA256:/);
    await cma.until(async () => ((await ringMembers()).join() === "hv1,hv3,hv4" ? true : undefined), 15_000, "hv4 joins once approved");
    const again = await cli("approve", "hv4");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /HTTP 409 not-pending/);
    const st = await status();
    console.log(`      refused by reason after the restart: ${JSON.stringify(st.hostKeys.refused)}; dropped from unadmitted hosts: ${st.hostKeys.droppedFromUnadmitted}`);
  });
});

/**
 * A host key rotated across real processes: a CMA and three nanoprobes on loopback. hv2 is killed
 * (SIGKILL: no goodbye, so its neighbours' rings do not change by themselves), `ringwatch-nanoprobe
 * keygen --rotate` replaces its key, and it starts again at once: its announcement shows the new
 * key countersigned by the old, the CMA re-pins it and sends its neighbours the new key, the
 * nanoprobe deletes the old key, and nobody is declared dead or even late. The old key, stolen, no longer admits anyone as hv2 — not even countersigning a key of its own.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Endpoint, Keyring, encodeEnvelope, generateHostKeys, keyFingerprint, makeAnnounceProof, readHostKeys } from "@ringwatch/shared";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";
import { loopbackCluster } from "./support/loopback-cluster.js";
import { offlineToken } from "./support/access.js";

const TIMING = { heartbeatMs: 300, warntimeMs: 1000, deadtimeMs: 3000 };

describe("system: a host key rotated without a false death (real CMA and nanoprobes)", function () {
  this.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-rotate-"));
  const fx = writeFixture(2);
  const procs: RunningProcess[] = [];
  let thief: Endpoint | undefined;
  after(async () => {
    await thief?.close();
    await Promise.all(procs.map((p) => p.stop()));
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("hv2 restarted with a rotated key is re-pinned and back in its ring; the old key admits nobody as hv2", async () => {
    const cluster = await loopbackCluster(dir, "rotatetest", TIMING, fx.uri);
    const cred = await offlineToken(join(dir, "cma-state"), "viewer");
    const cma = startProcess("cma", CMA_CLI, ["run"], cluster.cmaEnv({ RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none", RINGWATCH_HTTP_LISTEN: "127.0.0.1:0" }));
    procs.push(cma);
    const url = String((await cma.waitFor((l) => l.msg === "CMA started", 15_000, "CMA started")).http);
    const keyFile = (id: string): string => join(dir, `${id}.key`);
    const start = (id: string, i: number): RunningProcess => {
      const p = startProcess(id, NANOPROBE_CLI, ["run"], cluster.nanoprobeEnv(id, i, { RINGWATCH_IDENTITY_KEY_FILE: keyFile(id), RINGWATCH_STATUS_INTERVAL_MS: "250" }));
      procs.push(p);
      return p;
    };
    const names = ["hv1", "hv2", "hv3"];
    const nps = new Map(names.map((id, i) => [id, start(id, i)]));
    await Promise.all(names.map((id) => nps.get(id)!.waitFor((l) => l.msg === "neighbours assigned by the CMA" && (l.neighbours as string[]).length === 2, 15_000, `${id} in the ring`)));
    const pinOf = async (): Promise<string> => {
      const r = (await (await fetch(`${url}/api/host-keys`, { headers: cred.auth })).json()) as { pins: { name: string; fingerprint: string; state: string }[] };
      return r.pins.find((p) => p.name === "hv2")!.fingerprint;
    };
    const oldKeys = readHostKeys(keyFile("hv2"));
    assert.equal(await pinOf(), keyFingerprint(oldKeys.identityPublic), "pinned on first use");

    const old = nps.get("hv2")!;
    old.child.kill("SIGKILL");
    await old.exited;
    const rotated = await runToExit(NANOPROBE_CLI, ["keygen", "--rotate"], { RINGWATCH_IDENTITY_KEY_FILE: keyFile("hv2") });
    assert.equal(rotated.code, 0, rotated.stderr);
    const newKeys = readHostKeys(keyFile("hv2"));
    assert.match(rotated.stdout, new RegExp(`rotated from ${keyFingerprint(oldKeys.identityPublic).replace(/[+/]/g, "\\$&")}`));
    assert.equal(existsSync(`${keyFile("hv2")}.previous`), true);
    const again = await runToExit(NANOPROBE_CLI, ["keygen", "--rotate"], { RINGWATCH_IDENTITY_KEY_FILE: keyFile("hv2") });
    assert.equal(again.code, 2, "one rotation at a time");

    const assigned = (id: string): number => nps.get(id)!.lines.filter((l) => l.msg === "neighbours assigned by the CMA").length;
    const before = { hv1: assigned("hv1"), hv3: assigned("hv3") };
    const hv2 = start("hv2", 1);
    await hv2.waitFor((l) => l.msg === "host key rotation complete: the previous key is deleted", 15_000, "hv2 admitted under its new key");
    assert.equal(existsSync(`${keyFile("hv2")}.previous`), false, "the previous key deleted");
    assert.equal(await pinOf(), keyFingerprint(newKeys.identityPublic), "re-pinned to the new key");
    // its neighbours were sent their (unchanged) lists again, because hv2's key changed
    for (const id of ["hv1", "hv3"] as const) {
      const deadline = Date.now() + 10_000;
      while (assigned(id) <= before[id]) {
        assert.ok(Date.now() < deadline, `${id} reassigned with hv2's new key`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // hv2 was down for its restart (a LATE then is true); once its neighbours hold its new key, its
    // sealed heartbeats are heard: read from each neighbour's own status lines, in its order (the
    // CMA's log may hold a LATE sent before the reassignment). A ring change may still hand a
    // neighbour hv2 afresh (heartbeats 0) before hv2 itself has its new list, and at warntime 1 s
    // that can be late for a moment; what must never be is hv2 late or dead after it was heard.
    type Watched = { name: string; state: string; heartbeats: number };
    const hv2Seen = (id: string, from: number): Watched[] => nps.get(id)!.lines.slice(from).filter((l) => l.msg === "status").map((l) => (l.neighbours as Watched[]).find((n) => n.name === "hv2")).filter((n): n is Watched => n !== undefined);
    const heardAgain = { hv1: 0, hv3: 0 };
    for (const id of ["hv1", "hv3"] as const) {
      const lines = nps.get(id)!.lines;
      let from = lines.length - 1;
      while (lines[from].msg !== "neighbours assigned by the CMA") from--; // its reassignment, seen above
      const deadline = Date.now() + 5000;
      for (;;) {
        const i = lines.findIndex((l, j) => j > from && l.msg === "status" && (l.neighbours as Watched[]).some((n) => n.name === "hv2" && n.state === "ok"));
        if (i >= 0) {
          heardAgain[id] = i;
          break;
        }
        assert.ok(Date.now() < deadline, `${id} hears hv2 again once reassigned`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await new Promise((r) => setTimeout(r, 2 * TIMING.deadtimeMs)); // long enough for a LATE and a death if its sealed heartbeats were refused
    for (const id of ["hv1", "hv3"] as const) {
      const seen = hv2Seen(id, heardAgain[id]);
      assert.ok(seen.length >= 10, `${id}: ${seen.length} status lines`);
      assert.deepEqual(seen.filter((n) => n.state === "dead" || (n.state === "late" && n.heartbeats > 0)), [], `${id}: hv2 never late or dead once heard under its new key`);
      // heartbeats heard over the window (a fresh entry restarts its count at 0)
      const heard = seen.reduce((sum, n, i) => sum + (i === 0 ? 0 : n.heartbeats >= seen[i - 1].heartbeats ? n.heartbeats - seen[i - 1].heartbeats : n.heartbeats), 0);
      assert.ok(heard >= (2 * TIMING.deadtimeMs) / TIMING.heartbeatMs / 2, `${id} heard ${heard} of hv2's heartbeats in ${2 * TIMING.deadtimeMs} ms`);
      assert.equal(seen.at(-1)!.state, "ok", `${id} hears hv2 at the end`);
    }
    const events = (...types: string[]): string[] => cma.lines.filter((l) => l.msg === "membership event" && types.includes(String(l.type))).map((l) => `${String(l.type)} ${String(l.host)}`);
    assert.deepEqual(events("hostDead"), [], "no death");

    // a thief holding the old key: its own new key countersigned by the old one is a mismatch now
    const keyring = Keyring.fromFile("rotatetest", join(dir, "keys/cluster.key"));
    thief = await Endpoint.open({ identity: "hv2", keyring, bindAddress: "127.0.0.9" });
    const mine = generateHostKeys();
    for (const [keys, previous] of [[oldKeys, undefined], [mine, oldKeys]] as const) {
      thief.sendDatagram({ address: "127.0.0.1", port: cluster.port }, encodeEnvelope({ announce: {
        host: { name: "hv2", machineId: "", addresses: [] }, version: "thief", startedAtMs: thief.session.startMs, port: thief.address().port, neighbours: [],
        proof: makeAnnounceProof({ cluster: "rotatetest", host: "hv2", session: thief.session }, keys, previous),
      } }), { unsealed: true });
      await new Promise((r) => setTimeout(r, 500)); // each answers the CMA's challenge on its own (a link sends its last datagram again)
    }
    await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostKeyMismatch" && l.host === "hv2", 10_000, "the stolen old key refused");
    const status = (await (await fetch(`${url}/api/status`, { headers: cred.auth })).json()) as { hostKeys: { refused: { mismatch: number }; rotated: number } };
    assert.equal(status.hostKeys.rotated, 1);
    assert.ok(status.hostKeys.refused.mismatch >= 2, `both thief announcements refused (${status.hostKeys.refused.mismatch})`);
    assert.equal(await pinOf(), keyFingerprint(newKeys.identityPublic), "the pin held");
    const hv2Now = ((await (await fetch(`${url}/api/hosts`, { headers: cred.auth })).json()) as { hosts: { name: string; address: string }[] }).hosts.find((h) => h.name === "hv2")!;
    assert.equal(hv2Now.address, "127.0.0.3", "hv2's address unchanged");
  });
});

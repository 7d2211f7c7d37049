/**
 * The CMA's command key rotated across real processes, as the README's steps say: a CMA and three
 * nanoprobes on loopback, each nanoprobe with its own copy of cma-command.pub. `ringwatch-cma
 * keygen --next` makes the next key; it is appended to every nanoprobe's file and they are sent
 * SIGHUP; the CMA is restarted on the next key (same data dir). The nanoprobes take its key block
 * and its commands (their neighbours assigned again), and nobody is declared dead or late. Then
 * the old key is taken out of the files (SIGHUP): a thief holding the old private key gets nothing
 * to the command check (its key block opens nothing, and its cluster-key frames come from an
 * address the nanoprobe expects nobody at). A nanoprobe with a malformed key file does not start.
 */
import assert from "node:assert/strict";
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Endpoint, Keyring, PairKeys, commandKeyFingerprint, encodeEnvelope, hostKeysOf, loadCommandPrivateKey, loadCommandPublicKey, publicHalf, readHostKeys, signCommand } from "@ringwatch/shared";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, runToExit, startProcess, testIdentityKeyFile } from "./support/processes.js";
import type { LogLine, RunningProcess } from "./support/processes.js";
import { loopbackCluster } from "./support/loopback-cluster.js";

const TIMING = { heartbeatMs: 300, warntimeMs: 1000, deadtimeMs: 3000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("system: the CMA's command key rotated without a false death (real CMA and nanoprobes)", function () {
  this.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-cmakey-"));
  const fx = writeFixture(2);
  const procs: RunningProcess[] = [];
  let thief: Endpoint | undefined;
  let plainThief: Endpoint | undefined;
  after(async () => {
    await thief?.close();
    await plainThief?.close();
    await Promise.all(procs.map((p) => p.stop()));
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("next key appended and reloaded, CMA restarted on it: its commands accepted, no death, nothing late; the old key, taken out, is refused", async () => {
    const cluster = await loopbackCluster(dir, "cmakeytest", TIMING, fx.uri);
    const keys = join(dir, "keys");
    const pubFile = (id: string): string => join(dir, `${id}-cma.pub`);

    // a malformed key file: the nanoprobe refuses to start, naming the file and why
    writeFileSync(pubFile("bad"), `${readFileSync(join(keys, "cma-command.pub"), "utf8")}not a key\n`);
    const bad = await runToExit(NANOPROBE_CLI, ["run"], cluster.nanoprobeEnv("bad", 5, { RINGWATCH_CMA_PUBLIC_KEY_FILE: pubFile("bad") }));
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, new RegExp(`CMA command public key file ${pubFile("bad")}: holds "not a key", not a PEM public key`));

    const startCma = (n: number, keyFile: string): RunningProcess => {
      const p = startProcess(`cma${n}`, CMA_CLI, ["run"], cluster.cmaEnv({ RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none", RINGWATCH_HTTP_LISTEN: "off", RINGWATCH_COMMAND_KEY_FILE: keyFile }));
      procs.push(p);
      return p;
    };
    const cma1 = startCma(1, join(keys, "cma-command.key"));
    const started = await cma1.waitFor((l) => l.msg === "CMA started", 15_000, "CMA started");
    const names = ["hv1", "hv2", "hv3"];
    const nps = new Map(names.map((id, i) => {
      copyFileSync(join(keys, "cma-command.pub"), pubFile(id));
      const p = startProcess(id, NANOPROBE_CLI, ["run"], cluster.nanoprobeEnv(id, i, { RINGWATCH_CMA_PUBLIC_KEY_FILE: pubFile(id) }));
      procs.push(p);
      return [id, p] as const;
    }));
    await Promise.all(names.map((id) => nps.get(id)!.waitFor((l) => l.msg === "neighbours assigned by the CMA" && (l.neighbours as string[]).length === 2, 15_000, `${id} in the ring`)));
    const oldFp = commandKeyFingerprint(loadCommandPublicKey(join(keys, "cma-command.pub")));
    assert.equal(started.commandKey, oldFp);
    for (const id of names) assert.deepEqual(nps.get(id)!.lines.find((l) => l.msg === "nanoprobe started")!.cmaKeys, [oldFp]);

    // (a) the next key, beside the current one, never overwriting
    const made = await runToExit(CMA_CLI, ["keygen", "--dir", keys, "--next"]);
    assert.equal(made.code, 0, made.stderr);
    const nextFp = commandKeyFingerprint(loadCommandPublicKey(join(keys, "cma-command.next.pub")));
    assert.match(made.stdout, new RegExp(`next command key: ${nextFp.replace(/[+/]/g, "\\$&")}`));
    const again = await runToExit(CMA_CLI, ["keygen", "--dir", keys, "--next"]);
    assert.equal(again.code, 2, "a next key already there is never overwritten");

    // (b) every nanoprobe accepts the next key too
    const reloads = (id: string): LogLine[] => nps.get(id)!.lines.filter((l) => l.msg === "CMA command keys reloaded");
    for (const id of names) {
      appendFileSync(pubFile(id), readFileSync(join(keys, "cma-command.next.pub")));
      nps.get(id)!.child.kill("SIGHUP");
    }
    for (const id of names) {
      const l = await nps.get(id)!.waitFor((x) => x.msg === "CMA command keys reloaded", 5000, `${id} reloaded`);
      assert.deepEqual(l.accepted, [oldFp, nextFp]);
    }

    // (c) the CMA restarted on the next key, same data dir
    await sleep(1000); // the membership snapshot is written 500 ms after a change
    await cma1.stop();
    const assigned = (id: string): number => nps.get(id)!.lines.filter((l) => l.msg === "neighbours assigned by the CMA").length;
    const before = new Map(names.map((id) => [id, assigned(id)]));
    const cma2 = startCma(2, join(keys, "cma-command.next.key"));
    assert.equal((await cma2.waitFor((l) => l.msg === "CMA started", 15_000, "CMA restarted on the next key")).commandKey, nextFp);
    // each nanoprobe took the new CMA's key block (signed by the next key) and its signed SetNeighbours
    for (const id of names) {
      await nps.get(id)!.until(async () => (assigned(id) > before.get(id)! ? true : undefined), 15_000, `${id} assigned its neighbours by the CMA on the next key`);
    }
    await sleep(2 * TIMING.deadtimeMs); // long enough for a death if the ring or the CMA's view broke
    const events = (p: RunningProcess, ...types: string[]): string[] => p.lines.filter((l) => l.msg === "membership event" && types.includes(String(l.type))).map((l) => `${String(l.type)} ${String(l.host)}`);
    for (const p of [cma1, cma2]) assert.deepEqual(events(p, "hostLate", "hostDead"), [], `${p.name}: nobody late or dead`);
    for (const id of names) {
      const np = nps.get(id)!;
      assert.deepEqual(np.lines.filter((l) => l.msg === "reporting to the CMA").map((l) => `${String(l.kind)} ${String(l.subject)}`), [], `${id} reported nobody`);
      assert.deepEqual(np.lines.filter((l) => l.msg?.startsWith("command refused")), [], `${id} refused no command`);
    }

    // (d) the old key taken out: a command signed with it is refused and counted
    for (const id of names) {
      writeFileSync(pubFile(id), readFileSync(join(keys, "cma-command.next.pub")));
      nps.get(id)!.child.kill("SIGHUP");
    }
    for (const id of names) {
      await nps.get(id)!.until(async () => (reloads(id).length === 2 ? true : undefined), 5000, `${id} reloaded without the old key`);
      assert.deepEqual(reloads(id)[1].accepted, [nextFp]);
    }
    const keyring = Keyring.fromFile("cmakeytest", join(keys, "cluster.key"));
    // a thief holding the old private key: its key block (the old key's signature over an exchange key
    // of its own) opens nothing at hv1 now, and its cluster-key frames from elsewhere are nobody hv1 expects:
    // neither reaches the command check, and hv1 keeps its ring
    const oldKey = loadCommandPrivateKey(join(keys, "cma-command.key"));
    const hv1 = nps.get("hv1")!;
    const oldCma = new PairKeys("cmakeytest", "cma", hostKeysOf(oldKey));
    oldCma.trust("hv1", publicHalf(readHostKeys(testIdentityKeyFile("hv1"))));
    thief = await Endpoint.open({ identity: "cma", keyring, bindAddress: "127.0.0.9", pairKeys: oldCma });
    plainThief = await Endpoint.open({ identity: "thief", keyring, bindAddress: "127.0.0.10" }); // a name hv1 holds no keys of (as "cma" its frames would be refused as unsealed)
    thief.expect({ address: "127.0.0.2", port: cluster.port }, "hv1");
    const forged = signCommand(oldKey, { target: "hv1", setNeighbours: { neighbours: [], heartbeatMs: TIMING.heartbeatMs } });
    for (const t of [thief, plainThief]) void t.send({ address: "127.0.0.2", port: cluster.port }, encodeEnvelope({ command: forged })).catch(() => undefined);
    await sleep(1500);
    const lastAssignment = hv1.lines.filter((l) => l.msg === "neighbours assigned by the CMA").at(-1)!;
    assert.equal((lastAssignment.neighbours as string[]).length, 2, "hv1 still watches its two neighbours");

    // counted, and every frame between the CMA and the nanoprobes sealed: seen in the final status lines
    const thiefSent = thief.counters.framesSent;
    await thief.close();
    await plainThief.close();
    await hv1.stop();
    await cma2.stop();
    const cmaStatus = cma2.lines.find((l) => l.msg === "stopping") as { unsealedMessages: number; channel: Record<string, number> };
    assert.equal(cmaStatus.unsealedMessages, 0);
    assert.equal(cmaStatus.channel.unsealed, 0, "nothing unsealed from a keyed host at the CMA");
    assert.equal(cmaStatus.channel.unknownPeerKey, 0, "every sealed frame at the CMA opened");
    const final = hv1.lines.find((l) => l.msg === "final status") as { counters: { commandsRefused: number; unsealedHeartbeats: number }; commandsRefusedBy: { badSignature: number }; channel: Record<string, number> };
    assert.equal(final.counters.commandsRefused, 0, "nothing of the thieves got as far as the command check");
    assert.equal(final.counters.unsealedHeartbeats, 0);
    assert.equal(final.channel.unsealed, 0);
    assert.ok(final.channel.unknownPeerKey >= 1, "the old key's key block opened nothing");
    assert.ok(final.channel.unexpectedPeer >= 1, "the cluster-key thief, from an address hv1 expects nobody at, was dropped before any state");
    assert.ok(final.channel.unknownPeerKey <= thiefSent, `and those were the thief's only (${final.channel.unknownPeerKey} of its ${thiefSent}): the restarted CMA's key block taken at once`);
  });
});

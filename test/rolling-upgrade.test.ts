/**
 * A fleet upgraded in place, with real processes of both versions: four nanoprobes of the last
 * version before host identity (HMAC-only frames, frame version 1, no host keys: the compiled build
 * checked in as test/fixtures/nanoprobe-v1.tar.gz, made by scripts/make-v1-fixture.sh) join today's
 * CMA, which runs with allowHostsWithoutKeys. They are upgraded one at a time as a package upgrade
 * would (SIGTERM, then the new nanoprobe under the same name, with its own identity key). At every
 * step the rings are whole, each pair of neighbours heartbeats (old↔new on the cluster key, frame
 * version 1; new↔new sealed, version 2: read off the loopback wire by tcpdump) and nobody is ever
 * late or dead. At the end all four are pinned; the CMA restarted with allowHostsWithoutKeys off
 * still admits them, everything is sealed, and an old nanoprobe, unable to answer the CMA's challenges, never reaches admission (said at warn, counted). A CMA
 * restart half way (two old hosts, two new) loses nobody either.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, decodeEnvelope, decodeFrame, keyFingerprint, readHostKeys } from "@ringwatch/shared";
import { writeFixture } from "@ringwatch/libvirt/test-driver-fixture";
import { CMA_CLI, NANOPROBE_CLI, REPO, startProcess } from "./support/processes.js";
import type { LogLine, RunningProcess } from "./support/processes.js";
import { loopbackCluster } from "./support/loopback-cluster.js";
import { offlineToken } from "./support/access.js";
import { captureUdp } from "./support/wire-frames.js";
import type { Capture, WireFrame } from "./support/wire-frames.js";

const TIMING = { heartbeatMs: 300, warntimeMs: 1000, deadtimeMs: 3000 };
const NAMES = ["hv1", "hv2", "hv3", "hv4"];
const CMA_ADDRESS = "127.0.0.1";
const address = (i: number): string => `127.0.0.${i + 2}`;
/** how long each step's heartbeats are watched on the wire: past warntime, so a refused heartbeat would show as a late host */
const WINDOW_MS = 2 * TIMING.warntimeMs + TIMING.heartbeatMs;
const DATAGRAM = 3;

/** The old nanoprobe, unpacked under the repo: it finds its own (old) @ringwatch/shared first, and the rest (pino, protobufjs, @ringwatch/libvirt) in the repo's node_modules. */
function unpackV1(): { cli: string; dir: string } {
  const archive = join(REPO, "test/fixtures/nanoprobe-v1.tar.gz");
  assert.ok(existsSync(archive), `${archive} missing: bash scripts/make-v1-fixture.sh makes it`);
  const dir = join(REPO, "test/output", `nanoprobe-v1-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-xzf", archive, "-C", dir]);
  return { cli: join(dir, "nanoprobe/dist/src/cli.js"), dir };
}

type Generation = "v1" | "v2";
interface Running {
  proc: RunningProcess;
  gen: Generation;
  i: number;
}

describe("system: a fleet upgraded in place from HMAC-only nanoprobes (real processes of both versions)", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-upgrade-"));
  const fx = writeFixture(1);
  const procs: RunningProcess[] = [];
  let capture: Capture | undefined;
  let v1: { cli: string; dir: string } | undefined;
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await capture?.stop();
    fx.cleanup();
    if (v1) rmSync(v1.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it("old hosts join, are replaced one at a time by new ones without a false death, and once all are new the CMA drops hosts without keys", async () => {
    v1 = unpackV1();
    const cluster = await loopbackCluster(dir, "upgradetest", TIMING, fx.uri);
    capture = await captureUdp(cluster.port, join(dir, "run.pcap"));
    const keyring = Keyring.fromFile("upgradetest", join(dir, "keys/cluster.key"));
    const cred = await offlineToken(join(dir, "cma-state"), "viewer");
    const startCma = (allowHostsWithoutKeys: boolean): RunningProcess => {
      const p = startProcess("cma", CMA_CLI, ["run"], cluster.cmaEnv({
        RINGWATCH_GRAPH_STORE: "none", RINGWATCH_HISTORY_STORE: "none", RINGWATCH_HTTP_LISTEN: "127.0.0.1:0", RINGWATCH_ALLOW_HOSTS_WITHOUT_KEYS: String(allowHostsWithoutKeys),
      }));
      procs.push(p);
      return p;
    };
    let cma = startCma(true);
    const cmas = [cma];
    let url = String((await cma.waitFor((l) => l.msg === "CMA started", 15_000, "CMA started")).http);
    const api = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`, { headers: cred.auth })).json()) as T;
    const keyFile = (id: string): string => join(dir, `${id}.key`);

    const fleet = new Map<string, Running>();
    const start = (id: string, i: number, gen: Generation): RunningProcess => {
      const p = gen === "v1"
        ? startProcess(`${id}-v1`, v1!.cli, ["run"], cluster.nanoprobeEnv(id, i))
        : startProcess(`${id}-v2`, NANOPROBE_CLI, ["run"], cluster.nanoprobeEnv(id, i, { RINGWATCH_IDENTITY_KEY_FILE: keyFile(id) }));
      procs.push(p);
      fleet.set(id, { proc: p, gen, i });
      return p;
    };
    const assigned = (p: RunningProcess): string[] | undefined => {
      const l = p.lines.filter((x: LogLine) => x.msg === "neighbours assigned by the CMA").pop();
      return l ? [...(l.neighbours as string[])].sort() : undefined;
    };

    /** The CMA sees every running host alive, and their latest assignments make one ring through all of them. */
    const ringWhole = async (what: string): Promise<void> => {
      const names = [...fleet.keys()].sort();
      await cma.until(async () => {
        const hosts = (await api<{ hosts: { name: string; state: string }[] }>("/api/hosts")).hosts;
        if (!names.every((n) => hosts.find((h) => h.name === n)?.state === "alive")) return undefined;
        const nbrs = new Map(names.map((n) => [n, assigned(fleet.get(n)!.proc)]));
        // every host watches two others, each watched back, and walking from one visits all
        for (const [n, list] of nbrs) {
          if (!list || list.length !== Math.min(2, names.length - 1) || !list.every((m) => nbrs.get(m)?.includes(n))) return undefined;
        }
        const seen = new Set([names[0]]);
        for (let todo = [names[0]]; todo.length; ) for (const m of nbrs.get(todo.pop()!)!) if (!seen.has(m)) (seen.add(m), todo.push(m));
        return seen.size === names.length ? true : undefined;
      }, 20_000, `${what}: one whole ring of ${names.join(", ")}`);
    };

    /**
     * Watch the wire for a while: every assigned neighbour pair heartbeats, on the cluster key (v1)
     * when either side is old, sealed (v2) when both are new; the CMA and each host speak v1 if the
     * host is old, v2 if new (but its announcements, which stay on the cluster key by design).
     */
    const heartbeatsAsExpected = async (what: string): Promise<void> => {
      const from = Date.now();
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const to = Date.now();
      const frames = capture!.frames().filter((f) => f.sentAtMs >= from && f.sentAtMs <= to);
      const versions = (fs: WireFrame[]): string => [...new Set(fs.map((f) => f.version))].sort().join(",");
      for (const [id, a] of fleet) {
        for (const nb of assigned(a.proc)!) {
          const b = fleet.get(nb)!;
          const hb = frames.filter((f) => f.src === address(a.i) && f.dst === address(b.i) && f.sender === id && f.type === DATAGRAM);
          const want = a.gen === "v2" && b.gen === "v2" ? "2" : "1";
          assert.ok(hb.length >= 2, `${what}: ${id} (${a.gen}) → ${nb} (${b.gen}): ${hb.length} heartbeats on the wire`);
          assert.equal(versions(hb), want, `${what}: ${id} (${a.gen}) → ${nb} (${b.gen}) heartbeats in frame version ${want}`);
        }
        const fromCma = frames.filter((f) => f.src === CMA_ADDRESS && f.dst === address(a.i));
        if (fromCma.length) assert.equal(versions(fromCma), a.gen === "v2" ? "2" : "1", `${what}: the CMA → ${id} (${a.gen})`);
        const toCma = frames.filter((f) => f.src === address(a.i) && f.dst === CMA_ADDRESS);
        for (const f of toCma.filter((x) => x.version === 1 && a.gen === "v2")) {
          assert.ok(decodeEnvelope(decodeFrame(f.payload, keyring).payload).announce, `${what}: ${id} (new) sent the CMA an unsealed frame that is not an announcement`);
        }
        if (a.gen === "v1") assert.equal(versions(toCma) || "1", "1", `${what}: ${id} (old) → the CMA`);
      }
    };
    const events = (p: RunningProcess, ...types: string[]): string[] =>
      p.lines.filter((l) => l.msg === "membership event" && types.includes(String(l.type))).map((l) => `${String(l.type)} ${String(l.host)}`);
    const noFalseDeath = (what: string): void => {
      for (const c of cmas) assert.deepEqual(events(c, "hostDead", "deathNotConfirmed", "hostLate"), [], `${what}: nobody late or dead`);
    };

    // ---- today's fleet: four old nanoprobes, admitted without keys
    NAMES.forEach((id, i) => start(id, i, "v1"));
    await ringWhole("four old hosts");
    for (const { proc } of fleet.values()) {
      assert.equal(proc.lines.some((l) => /host identity key/.test(String(l.msg))), false, `${proc.name} is the old nanoprobe (no identity key)`);
    }
    const before = await api<{ hostKeys: { admittedWithoutKeys: number; pins: { pinned: number } } }>("/api/status");
    assert.ok(before.hostKeys.admittedWithoutKeys >= 4, `admitted without keys: ${before.hostKeys.admittedWithoutKeys}`);
    assert.equal(before.hostKeys.pins.pinned, 0);
    await heartbeatsAsExpected("all old");
    noFalseDeath("all old");

    // ---- one host at a time: stop the old nanoprobe (a package upgrade's SIGTERM), start the new one
    for (const [i, id] of NAMES.entries()) {
      const old = fleet.get(id)!.proc;
      const leftAt = cma.lines.length;
      assert.equal(await old.stop(), 0, `${id} (old) stopped cleanly`);
      fleet.delete(id);
      await cma.waitFor((l) => cma.lines.indexOf(l) >= leftAt && l.msg === "membership event" && l.type === "hostLeft" && l.host === id, 10_000, `${id} left`);
      await ringWhole(`${id} upgrading`);
      const p = start(id, i, "v2");
      await p.waitFor((l) => l.msg === "registered with the CMA", 15_000, `${id} (new) registered`);
      await ringWhole(`${id} upgraded`);
      await heartbeatsAsExpected(`${id} upgraded`);
      noFalseDeath(`${id} upgraded`);
      if (i === 1) {
        // half the fleet upgraded, the CMA restarts (still allowing hosts without keys): it seals at
        // once to the pinned hosts and speaks the cluster key to the others, and nobody is lost
        await cma.stop();
        cma = startCma(true);
        cmas.push(cma);
        url = String((await cma.waitFor((l) => l.msg === "CMA started", 15_000, "CMA restarted mid-upgrade")).http);
        await ringWhole("CMA restarted mid-upgrade");
        await heartbeatsAsExpected("CMA restarted mid-upgrade");
        noFalseDeath("CMA restarted mid-upgrade");
      }
    }

    // ---- all new: each pinned to the key in its own file
    const pins = (await api<{ pins: { name: string; state: string; fingerprint: string }[] }>("/api/host-keys")).pins;
    for (const id of NAMES) {
      const pin = pins.find((p) => p.name === id);
      assert.equal(pin?.state, "pinned", `${id} pinned`);
      assert.equal(pin.fingerprint, keyFingerprint(readHostKeys(keyFile(id)).identityPublic), `${id} pinned to its own key`);
    }

    // ---- allowHostsWithoutKeys off (a CMA restart): the keyed fleet stays, sealed; an old nanoprobe is refused
    await cma.stop();
    cma = startCma(false);
    cmas.push(cma);
    url = String((await cma.waitFor((l) => l.msg === "CMA started", 15_000, "CMA restarted")).http);
    await ringWhole("keys required");
    await heartbeatsAsExpected("keys required");
    const straggler = startProcess("hv5-v1", v1.cli, ["run"], cluster.nanoprobeEnv("hv5", NAMES.length));
    procs.push(straggler);
    // keys required, the CMA challenges every new session (no state before proof): an old nanoprobe
    // cannot answer, so nothing of it reaches admission; it is said at warn, by name and address
    await cma.waitFor((l) => typeof l.msg === "string" && l.msg.startsWith("challenged and not answering") && l.host === "hv5", 15_000, "the old hv5 not answering challenges");
    const after = await api<{ unansweredChallenges: number; hostKeys: { admittedWithoutKeys: number; pins: { pinned: number } } }>("/api/status");
    assert.ok(after.unansweredChallenges >= 1, "counted");
    assert.equal(after.hostKeys.admittedWithoutKeys, 0, "nobody admitted without keys");
    assert.equal(after.hostKeys.pins.pinned, NAMES.length);
    const hosts = (await api<{ hosts: { name: string }[] }>("/api/hosts")).hosts.map((h) => h.name).sort();
    assert.deepEqual(hosts, NAMES, "hv5 is not a member");
    assert.equal(straggler.lines.some((l) => l.msg === "registered with the CMA"), false, "hv5 never registered");
    noFalseDeath("the end");
  });
});

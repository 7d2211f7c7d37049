/**
 * System test of the processes as they stand: a real CMA and two real nanoprobes on loopback.
 * The nanoprobes announce themselves, receive signed neighbour assignments, heartbeat each other,
 * and everything stops cleanly on SIGTERM. Also: the command line refuses bad input clearly.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CMA_CLI, NANOPROBE_CLI, REPO, runToExit, startProcess } from "./support/processes.js";
import type { RunningProcess } from "./support/processes.js";

describe("system: CMA and nanoprobes as processes on loopback", function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), "rw-sys-"));
  const procs: RunningProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
  });

  it("keygen creates the keys once and refuses to overwrite them", async () => {
    const r1 = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /cluster\.key/);
    assert.match(r1.stdout, /cma-command\.pub/);
    const r2 = await runToExit(CMA_CLI, ["keygen", "--dir", join(dir, "keys")]);
    assert.equal(r2.code, 0);
    assert.match(r2.stdout, /already present/);
  });

  it("admits two nanoprobes, assigns them to each other, and they exchange heartbeats", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const common = { RINGWATCH_CLUSTER: "systest", RINGWATCH_CLUSTER_KEY_FILE: join(dir, "keys/cluster.key"), RINGWATCH_STATUS_INTERVAL_MS: "0" };
    const cma = startProcess("cma", CMA_CLI, ["run"], {
      ...common, RINGWATCH_COMMAND_KEY_FILE: join(dir, "keys/cma-command.key"), RINGWATCH_BIND_ADDRESS: "127.0.0.1", RINGWATCH_PORT: String(port),
      RINGWATCH_HEARTBEAT_MS: "200", RINGWATCH_MULTICAST_GROUP: "", RINGWATCH_DATA_DIR: join(dir, "cma-state"), RINGWATCH_HTTP_LISTEN: "127.0.0.1:0",
    });
    procs.push(cma);
    await cma.waitFor((l) => l.msg === "CMA started", 10_000, "CMA started");
    const nps = ["hv1", "hv2"].map((id, i) => {
      const p = startProcess(id, NANOPROBE_CLI, ["run", "--debug"], {
        ...common, RINGWATCH_STATUS_INTERVAL_MS: "300", RINGWATCH_IDENTITY: id, RINGWATCH_BIND_ADDRESS: `127.0.0.${i + 2}`, RINGWATCH_PORT: String(port),
        RINGWATCH_CMA: `127.0.0.1:${port}`, RINGWATCH_CMA_PUBLIC_KEY_FILE: join(dir, "keys/cma-command.pub"), RINGWATCH_JOIN_INTERVAL_MS: "300",
        RINGWATCH_SCHEDULE_START_WINDOW_MS: "500ms", // first discovery runs within 0.5 s, not 30 s
      });
      procs.push(p);
      return p;
    });
    for (const id of ["hv1", "hv2"]) await cma.waitFor((l) => l.msg === "membership event" && l.type === "hostJoined" && l.host === id, 10_000, `${id} joined`);
    const [hv1, hv2] = nps;
    await hv1.waitFor((l) => l.msg === "neighbours assigned by the CMA" && JSON.stringify(l.neighbours) === '["hv2"]', 10_000, "hv1 assigned hv2");
    await hv2.waitFor((l) => l.msg === "neighbours assigned by the CMA" && JSON.stringify(l.neighbours) === '["hv1"]', 10_000, "hv2 assigned hv1");
    // each nanoprobe runs the real discovery scripts and the CMA receives their documents
    for (const id of ["hv1", "hv2"]) {
      for (const t of ["os", "cpu-memory", "nics", "tcp-services"]) {
        await cma.waitFor((l) => l.msg === "discovery event" && l.host === id && l.discovertype === t, 20_000, `${t} from ${id}`);
      }
    }
    // let heartbeats flow (every 200 ms)
    await new Promise((r) => setTimeout(r, 1000));

    // rolling key rotation by SIGHUP: accept new everywhere, send with new everywhere, retire old
    const keyFile = join(dir, "keys/cluster.key");
    const oldKey = readFileSync(keyFile, "utf8").trim();
    const newKey = randomBytes(32).toString("hex");
    const all = [cma, ...nps];
    const hupAll = async (text: string, step: number): Promise<void> => {
      writeFileSync(keyFile, text, { mode: 0o600 });
      for (const p of all) p.child.kill("SIGHUP");
      for (const p of all) await p.waitFor((l) => l.msg === "cluster keys reloaded" && p.lines.filter((x) => x.msg === "cluster keys reloaded").length >= step, 5000, `reload ${step}`);
    };
    await hupAll(`${oldKey}\n${newKey}\n`, 1);
    await hupAll(`${newKey}\n${oldKey}\n`, 2);
    await hupAll(`${newKey}\n`, 3);
    // a broken key file is refused and the keys in use are kept
    writeFileSync(keyFile, "not a key\n", { mode: 0o600 });
    hv1.child.kill("SIGHUP");
    await hv1.waitFor((l) => l.msg === "cluster keys reloaded" ? false : /reload failed/.test(String(l.msg)), 5000, "reload refused");
    const before = hv1.lines.filter((l) => l.msg === "status").length;
    const heartbeatsIn = (l: Record<string, unknown>): number => (l.neighbours as { heartbeats: number }[])[0]?.heartbeats ?? 0;
    const atRotation = heartbeatsIn(hv1.lines.filter((l) => l.msg === "status").at(-1)!);
    // heartbeats keep arriving with the new key only, and nothing was refused as unauthenticated
    const later = await hv1.waitFor((l) => l.msg === "status" && hv1.lines.filter((x) => x.msg === "status").length >= before + 3, 10_000, "status after rotation");
    assert.ok(heartbeatsIn(later) >= atRotation + 3, `heartbeats after the rotation: ${atRotation} -> ${heartbeatsIn(later)}`);
    const codes = await Promise.all(nps.map((p) => p.stop()));
    assert.deepEqual(codes, [0, 0], "nanoprobes exit 0 on SIGTERM");
    for (const p of nps) {
      const fin = await p.waitFor((l) => l.msg === "final status", 1000, "final status");
      const st = fin as unknown as { neighbours: { name: string; heartbeats: number }[]; counters: { commandsRefused: number } };
      assert.equal(st.neighbours.length, 1);
      assert.ok(st.neighbours[0].heartbeats >= 3, `${p.name} received ${st.neighbours[0].heartbeats} heartbeats`);
      assert.equal(st.counters.commandsRefused, 0);
      assert.equal((fin as unknown as { channel: { badAuth: number } }).channel.badAuth, 0, `${p.name}: frames refused during the rotation`);
    }
    assert.equal(await cma.stop(), 0, "CMA exits 0 on SIGTERM");
  });

  it("refuses bad command lines and configuration with a clear message and exit code 2", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ heartbeatMs: "often" }));
    const r1 = await runToExit(NANOPROBE_CLI, ["--config", bad]);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /heartbeatMs: expected a duration/);
    const r2 = await runToExit(CMA_CLI, ["--no-such-flag"]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /Unknown option/);
    const r3 = await runToExit(NANOPROBE_CLI, ["run"], { RINGWATCH_PORT: "99999" });
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /RINGWATCH_PORT: port: expected a port/);
    for (const [cli, example] of [[CMA_CLI, "config/cma.example.json"], [NANOPROBE_CLI, "config/nanoprobe.example.json"]]) {
      const r = await runToExit(cli, ["--print-config", "--config", join(REPO, example)]);
      assert.equal(r.code, 0, `${example}: ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).port, 1984);
    }
    const r4 = await runToExit(CMA_CLI, ["--help"]);
    assert.equal(r4.code, 0);
    assert.match(r4.stdout, /keygen/);
    assert.match(r4.stdout, /RINGWATCH_HEARTBEAT_MS/);
  });
});

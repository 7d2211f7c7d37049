import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitUntil } from "@ringwatch/shared/testing";
import { DiscoveryRunner } from "../../src/discovery/runner.js";
import { stableHash } from "../../src/discovery/stable-hash.js";
import type { DiscoveryDocumentEvent, DiscoveryError, DiscoveryScript } from "../../src/discovery/types.js";

const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/discovery/", import.meta.url));
const fx = (name: string): string => join(FIXTURES, name);

/** A pid is gone when kill(0) fails or only a zombie is left (reaped later by init). */
function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

describe("discovery/runner (real processes)", function () {
  this.timeout(30_000);
  let dir: string;
  let runner: DiscoveryRunner | undefined;
  const documents: DiscoveryDocumentEvent[] = [];
  const errors: DiscoveryError[] = [];

  function make(scripts: DiscoveryScript[], opts: Partial<ConstructorParameters<typeof DiscoveryRunner>[0]> = {}): DiscoveryRunner {
    runner = new DiscoveryRunner({ scripts, ...opts });
    runner.on("document", (d) => documents.push(d));
    runner.on("error", (e) => errors.push(e));
    return runner;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rw-discovery-"));
    documents.length = 0;
    errors.length = 0;
  });
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("emits a good script's document once, not again while unchanged, again when changed", async () => {
    const state = join(dir, "state.json");
    writeFileSync(state, '{"b": 1, "a": [1, 2]}');
    const r = make([{ name: "good", command: fx("good.sh"), env: { STATE_FILE: state } }]);

    const first = await r.runNow("good");
    assert.equal(first.status, "document");
    assert.equal(documents.length, 1);
    assert.equal(documents[0].script, "good");
    assert.equal(documents[0].document.discovertype, "fixture");
    assert.deepEqual(documents[0].document.data, { b: 1, a: [1, 2] });
    assert.equal(documents[0].hash, stableHash({ a: [1, 2], b: 1 }));

    // Same data with keys in another order: not a change.
    writeFileSync(state, '{"a": [1, 2], "b": 1}');
    const second = await r.runNow("good");
    assert.ok(second.status === "document" && !second.changed);
    assert.equal(documents.length, 1);

    writeFileSync(state, '{"a": [1, 2], "b": 2}');
    await r.runNow("good");
    assert.equal(documents.length, 2);
    assert.deepEqual(documents[1].document.data, { a: [1, 2], b: 2 });

    r.resend();
    await r.runNow("good");
    assert.equal(documents.length, 3, "resend() re-emits an unchanged document");
    assert.equal(errors.length, 0);
    assert.equal(r.stats().good.runs, 4);
  });

  it("never runs two instances of one script at once", async () => {
    const state = join(dir, "state.json");
    const runs = join(dir, "runs.log");
    writeFileSync(state, "{}");
    const r = make([{ name: "slow", command: fx("good.sh"), env: { STATE_FILE: state, RUNS_FILE: runs, SLEEP: "0.3" } }]);
    const [a, b, c] = await Promise.all([r.runNow("slow"), r.runNow("slow"), r.runNow("slow")]);
    assert.equal(a, b);
    assert.equal(b, c);
    const lines = readFileSync(runs, "utf8").trim().split("\n");
    assert.equal(lines.length, 2, lines.join("; "));  // one start, one end
    assert.equal(r.stats().slow.runs, 1);
  });

  it("runs scripts on their interval and at start, with a concurrency limit", async () => {
    const state = join(dir, "state.json");
    const runs = join(dir, "runs.log");
    writeFileSync(state, "{}");
    const env = { STATE_FILE: state, RUNS_FILE: runs, SLEEP: "0.2" };
    const r = make([
      { name: "a", command: fx("good.sh"), env, intervalMs: 300 },
      { name: "b", command: fx("good.sh"), env, intervalMs: 300 },
      { name: "c", command: fx("good.sh"), env, intervalMs: 60_000 },
    ], { concurrency: 1 });
    r.start();
    await waitUntil(() => r.stats().a.runs >= 3, 10_000, "a ran 3 times");
    await r.stop();
    // Concurrency 1: the log alternates start/end, never two starts in a row.
    const events = readFileSync(runs, "utf8").trim().split("\n").map((l) => l.split(" ")[1]);
    for (let i = 0; i < events.length; i++) assert.equal(events[i], i % 2 === 0 ? "start" : "end", events.join(","));
    assert.equal(r.stats().c.runs, 1, "c ran once at start only");
    assert.equal(documents.filter((d) => d.script === "a").length, 1, "unchanged: emitted once");
  });

  it("kills a hanging script's whole process group at the timeout", async () => {
    const pidFile = join(dir, "pids");
    const r = make([{ name: "hang", command: fx("hang.sh"), env: { PID_FILE: pidFile }, timeoutMs: 500 }]);
    const t0 = Date.now();
    const out = await r.runNow("hang");
    assert.ok(out.status === "error");
    assert.equal(out.error.kind, "timeout");
    assert.equal(errors.length, 1);
    assert.equal(errors[0].kind, "timeout");
    assert.ok(Date.now() - t0 < 5000);
    const [shell, sleeper] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    await waitUntil(() => pidGone(shell) && pidGone(sleeper), 3000, "script and its child gone");
  });

  it("reports a non-zero exit with the stderr tail", async () => {
    const r = make([{ name: "fail", command: fx("fail.sh") }], { stderrTailBytes: 48 });
    await r.runNow("fail");
    assert.equal(errors.length, 1);
    assert.equal(errors[0].kind, "exit");
    assert.match(errors[0].detail, /exit code 3/);
    assert.match(errors[0].stderrTail, /unreadable\n$/);
    assert.ok(Buffer.byteLength(errors[0].stderrTail) <= 48);
    assert.doesNotMatch(errors[0].stderrTail, /starting/, "only the tail");
  });

  it("reports death by signal", async () => {
    const r = make([{ name: "sig", command: fx("self-kill.sh") }]);
    await r.runNow("sig");
    assert.equal(errors[0]?.kind, "signal");
    assert.match(errors[0].detail, /SIGTERM/);
  });

  it("reports garbage output and two documents as invalid-json", async () => {
    const r = make([{ name: "garbage", command: fx("garbage.sh") }, { name: "two", command: fx("two-documents.sh") }]);
    await r.runNow("garbage");
    await r.runNow("two");
    assert.deepEqual(errors.map((e) => [e.script, e.kind]), [["garbage", "invalid-json"], ["two", "invalid-json"]]);
    assert.equal(documents.length, 0);
  });

  it("reports valid JSON of the wrong shape as invalid-document", async () => {
    const r = make([{ name: "wrong", command: fx("wrong-shape.sh") }]);
    await r.runNow("wrong");
    assert.equal(errors[0]?.kind, "invalid-document");
    assert.match(errors[0].detail, /description/);
  });

  it("stops reading at the output cap (10 MiB printed, 4 MiB cap) and kills the script", async () => {
    const r = make([{ name: "huge", command: fx("huge.sh") }]);
    global.gc?.();
    const before = process.memoryUsage();
    let peak = before.arrayBuffers;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().arrayBuffers); }, 2);
    const out = await r.runNow("huge");
    clearInterval(sampler);
    // external buffers are released a collection or two later: give the GC a few rounds
    // (memory that is really retained stays, and fails the check below)
    let after = process.memoryUsage();
    for (let i = 0; i < 10 && after.arrayBuffers - before.arrayBuffers >= 1024 * 1024; i++) {
      global.gc?.();
      await new Promise((r) => setImmediate(r));
      after = process.memoryUsage();
    }
    assert.ok(out.status === "error");
    assert.equal(out.error.kind, "too-large");
    assert.match(out.error.detail, /4194304 bytes/);
    // Nothing of the output is kept once the run is over.
    const kept = after.arrayBuffers - before.arrayBuffers;
    assert.ok(kept < 1024 * 1024, `${kept} bytes of buffers kept`);
    // At most the cap plus a chunk or two was ever held, not the 10 MiB.
    assert.ok(peak - before.arrayBuffers < 6 * 1024 * 1024, `peak ${peak - before.arrayBuffers} bytes`);
  });

  it("reports a missing executable as spawn, and keeps running other scripts", async () => {
    const state = join(dir, "state.json");
    writeFileSync(state, '{"ok": true}');
    const missing = join(dir, "no-such-script");
    assert.ok(!existsSync(missing));
    const r = make([{ name: "missing", command: missing }, { name: "good", command: fx("good.sh"), env: { STATE_FILE: state } }]);
    const [m, g] = await Promise.all([r.runNow("missing"), r.runNow("good")]);
    assert.ok(m.status === "error");
    assert.equal(m.error.kind, "spawn");
    assert.match(m.error.detail, /ENOENT/);
    assert.equal(g.status, "document");
  });

  it("emits nothing and does not throw when nobody listens for errors", async () => {
    const r = new DiscoveryRunner({ scripts: [{ name: "fail", command: fx("fail.sh") }] });
    runner = r;
    const out = await r.runNow("fail");
    assert.equal(out.status, "error");
    assert.equal(r.stats().fail.lastError?.kind, "exit");
  });

  it("stop() kills running scripts and cancels queued ones", async () => {
    const pidFile = join(dir, "pids");
    const r = make([
      { name: "hang", command: fx("hang.sh"), env: { PID_FILE: pidFile } },
      { name: "queued", command: fx("garbage.sh") },
    ], { concurrency: 1 });
    const hang = r.runNow("hang");
    const queued = r.runNow("queued");
    await waitUntil(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").includes(" "), 3000, "hang started");
    await r.stop();
    assert.equal((await queued).status, "cancelled");
    const h = await hang;
    assert.ok(h.status === "error" && h.error.kind === "signal");
    assert.deepEqual(errors, [], "no events after stop()");
    const [shell, sleeper] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    await waitUntil(() => pidGone(shell) && pidGone(sleeper), 3000, "killed on stop");
  });
});

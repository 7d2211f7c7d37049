import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// dist/test/exit.test.js -> dist/src/index.js, dist/test/fixtures/...
const here = path.dirname(fileURLToPath(import.meta.url));
const indexUrl = pathToFileURL(path.resolve(here, "../src/index.js")).href;
const fixtureUrl = pathToFileURL(path.resolve(here, "./fixtures/test-driver-xml.js")).href;

function runScript(body: string, timeoutMs: number): Promise<{ code: number | null; ms: number; out: string; killed: boolean }> {
  const dir = mkdtempSync(path.join(tmpdir(), "rw-exit-"));
  const file = path.join(dir, "child.mjs");
  writeFileSync(file, `import { LibvirtConnection } from ${JSON.stringify(indexUrl)};
import { writeFixture } from ${JSON.stringify(fixtureUrl)};
const fx = writeFixture(3);
${body}
fx.cleanup();
console.log("done");
`);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let killed = false;
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, ms: Date.now() - t0, out, killed });
    });
  });
}

describe("libvirt/process exit", () => {
  it("exits after open + watch events + an event + close()", async () => {
    const r = await runScript(`
const conn = await LibvirtConnection.open(fx.uri);
await conn.watchLifecycle();
const uuid = fx.domains[0].uuid;
const got = new Promise((res) => conn.events.once("lifecycle", res));
await conn.suspend(uuid);
console.log("event", (await got).event);
await conn.close();`, 5000);
    assert.equal(r.killed, false, `child did not exit within 5 s: ${r.out}`);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /event suspended/);
    assert.match(r.out, /done/);
  });

  it("exits with a subscription left open once it is unref'd", async () => {
    const r = await runScript(`
const conn = await LibvirtConnection.open(fx.uri);
await conn.watchLifecycle();
conn.unref();`, 5000);
    assert.equal(r.killed, false, `child did not exit within 5 s: ${r.out}`);
    assert.equal(r.code, 0, r.out);
  });

  it("a throwing lifecycle listener is an ordinary uncaught error (exit 1), not swallowed or a crash", async () => {
    const r = await runScript(`
const conn = await LibvirtConnection.open(fx.uri);
await conn.watchLifecycle();
conn.events.on("lifecycle", () => { throw new Error("listener boom"); });
await conn.suspend(fx.domains[0].uuid);
await new Promise((res) => setTimeout(res, 2000));`, 5000);
    assert.equal(r.killed, false, r.out);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /listener boom/);
    assert.doesNotMatch(r.out, /done/);
  });

  it("stays alive while a subscription is referenced (the event path keeps the loop)", async () => {
    const r = await runScript(`
const conn = await LibvirtConnection.open(fx.uri);
await conn.watchLifecycle();`, 1500);
    assert.equal(r.killed, true, "a referenced subscription must keep the process running");
  });
});

import assert from "node:assert/strict";
import { runCapped } from "../../src/guest-addresses/capped-command.js";

describe("discovery-scripts/guest-addresses/capped-command", function () {
  this.timeout(20_000);

  it("returns the output and exit code of a command that ends by itself", async () => {
    const r = await runCapped("sh", ["-c", "printf 'out'; printf 'err' >&2; exit 3"], 1000, 10_000);
    assert.deepEqual(r, { code: 3, signal: null, stdout: "out", stderr: "err", truncated: false, timedOut: false });
  });

  it("stops a command at the byte cap and keeps exactly the bytes up to it", async () => {
    const r = await runCapped("yes", ["0123456789"], 100_000, 10_000);
    assert.equal(r.truncated, true);
    assert.equal(r.timedOut, false);
    assert.equal(r.stdout.length, 100_000);
    assert.equal(r.stdout.slice(0, 22), "0123456789\n0123456789\n");
  });

  it("stops a command that runs too long", async () => {
    const r = await runCapped("sleep", ["30"], 1000, 200);
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, "SIGKILL");
  });

  it("reports a command that cannot be started", async () => {
    const r = await runCapped("/nonexistent/ip", [], 1000, 10_000);
    assert.equal(r.startError?.code, "ENOENT");
    assert.equal(r.stdout, "");
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTextCapped } from "../src/proc-files.js";

describe("discovery-scripts/proc-files", () => {
  it("readTextCapped reads a whole small file, and at most maxBytes of a larger one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rw-capped-"));
    try {
      writeFileSync(join(dir, "f"), "0123456789");
      assert.deepEqual(await readTextCapped(join(dir, "f"), 10), { text: "0123456789", truncated: false });
      assert.deepEqual(await readTextCapped(join(dir, "f"), 4), { text: "0123", truncated: true });
      writeFileSync(join(dir, "big"), "x".repeat(200_000));
      assert.deepEqual(await readTextCapped(join(dir, "big"), 150_000), { text: "x".repeat(150_000), truncated: true });
      await assert.rejects(readTextCapped(join(dir, "absent"), 10), { code: "ENOENT" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("readTextCapped reads /proc files, whose size is reported as 0", async () => {
    const whole = await readTextCapped("/proc/self/status", 1 << 20);
    assert.equal(whole.truncated, false);
    assert.match(whole.text, /^Name:/);
    assert.deepEqual(await readTextCapped("/proc/self/status", 5), { text: "Name:", truncated: true });
  });
});

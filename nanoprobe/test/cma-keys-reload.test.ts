/** SIGHUP re-reads cmaPublicKeyFile: the keys found are taken into use and logged; a file that does not load leaves the keys in use. */
import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateCommandKeys } from "@ringwatch/shared";
import { reloadCmaKeysOnSighup } from "../src/cma-keys-reload.js";

describe("nanoprobe/cma-keys-reload", () => {
  const dir = mkdtempSync(join(tmpdir(), "rw-np-cmakeys-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("on SIGHUP: the file's keys accepted and their fingerprints logged; a malformed file logged as an error, the keys in use kept", () => {
    const current = generateCommandKeys(dir);
    const next = generateCommandKeys(dir, { next: true });
    const file = join(dir, "nanoprobe-cma.pub");
    writeFileSync(file, readFileSync(current.publicKeyPath, "utf8") + readFileSync(next.publicKeyPath, "utf8"));
    const taken: (readonly KeyObject[])[] = [];
    const logged: { level: string; o: Record<string, unknown>; m: string }[] = [];
    const log = { info: (o: object, m: string) => logged.push({ level: "info", o: o as Record<string, unknown>, m }), error: (o: object, m: string) => logged.push({ level: "error", o: o as Record<string, unknown>, m }) };
    const stop = reloadCmaKeysOnSighup({ acceptCmaKeys: (k) => taken.push(k) }, file, log);
    try {
      process.emit("SIGHUP", "SIGHUP");
      assert.equal(taken.length, 1);
      assert.equal(taken[0].length, 2);
      assert.deepEqual(logged[0], { level: "info", o: { cmaPublicKeyFile: file, accepted: [current.fingerprint, next.fingerprint] }, m: "CMA command keys reloaded" });
      writeFileSync(file, "-----BEGIN PUBLIC KEY-----\ntruncated\n");
      process.emit("SIGHUP", "SIGHUP");
      assert.equal(taken.length, 1, "nothing taken from a malformed file");
      assert.equal(logged[1].level, "error");
      assert.equal(logged[1].m, "CMA command key reload failed: keeping the keys in use");
      assert.match(String(logged[1].o.err), new RegExp(`^CMA command public key file ${file}: `));
    } finally {
      stop();
    }
  });
});

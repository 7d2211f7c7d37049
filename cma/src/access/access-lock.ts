/**
 * One writer at a time on the access file, across processes (the running CMA and the offline CLI):
 * an exclusive lock file beside it, created with O_EXCL, held only for a read-modify-write (a few
 * milliseconds, nothing asynchronous inside). A lock left by a crashed writer is taken over once it
 * is older than STALE_MS.
 */
import { closeSync, openSync, statSync, unlinkSync, writeSync } from "node:fs";

const STALE_MS = 10_000;
const WAIT_MS = 5_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function withFileLock<T>(path: string, fn: () => T): T {
  const lock = `${path}.lock`;
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lock, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > STALE_MS) {
        try {
          unlinkSync(lock);
        } catch {
          /* another process took it over first */
        }
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock} is held by another process (a CMA or CLI writing users or tokens); try again`);
      sleepSync(20);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* gone already */
    }
  }
}

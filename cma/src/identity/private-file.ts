/** A private state file (mode 0600) replaced whole: temp file, fsync, rename — a crash leaves the old file or the new one, never half of one. */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";

export function writePrivateFileAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

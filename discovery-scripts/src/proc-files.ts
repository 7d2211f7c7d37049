// Small readers for /proc and /sys files that may be missing or unreadable on some hosts.
import { open, readFile } from "node:fs/promises";

/** File contents, or undefined when it cannot be read (missing, EACCES, EINVAL from sysfs). */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * At most maxBytes of a file (for files from outside whose size is not ours to choose; /proc files
 * report size 0, so this reads until EOF or the cap). Throws when the file cannot be read.
 */
export async function readTextCapped(path: string, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(Math.min(maxBytes + 1, 64 * 1024));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, maxBytes + 1 - total), null);
      if (bytesRead === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
      total += bytesRead;
      if (total > maxBytes) break;
    }
    const all = Buffer.concat(chunks);
    return { text: all.subarray(0, maxBytes).toString("utf8"), truncated: total > maxBytes };
  } finally {
    await fh.close();
  }
}

/** Trimmed single-value sysfs/proc file, or undefined. */
export async function readValue(path: string): Promise<string | undefined> {
  const t = await readText(path);
  return t === undefined ? undefined : t.trim();
}

/** "Key: value" lines (as in /proc/cpuinfo blocks and /proc/meminfo) into a map. */
export function colonPairs(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

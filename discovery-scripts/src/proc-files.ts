// Small readers for /proc and /sys files that may be missing or unreadable on some hosts.
import { readFile } from "node:fs/promises";

/** File contents, or undefined when it cannot be read (missing, EACCES, EINVAL from sysfs). */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
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

// OS identity: /etc/os-release, kernel (uname), boot time and uptime.
import os from "node:os";
import { readText } from "../proc-files.js";

export interface OsData {
  name: string | null;
  version: string | null;
  id: string | null;
  prettyName: string | null;
  /** Every KEY=value of os-release, unquoted. */
  release: Record<string, string>;
  kernelName: string;
  kernelRelease: string;
  kernelVersion: string;
  machine: string;
  /** ISO time of boot (btime in /proc/stat). */
  bootTime: string | null;
  uptimeSeconds: number;
}

/** Parses os-release(5): KEY=value, value optionally single- or double-quoted with \-escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2];
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.endsWith(v[0])) {
      v = v.slice(1, -1);
      if (m[2][0] === '"') v = v.replace(/\\(["\\`$])/g, "$1");
    }
    out[m[1]] = v;
  }
  return out;
}

export async function collectOs(): Promise<OsData> {
  const release = parseOsRelease((await readText("/etc/os-release")) ?? (await readText("/usr/lib/os-release")) ?? "");
  const stat = (await readText("/proc/stat")) ?? "";
  const btime = /^btime\s+(\d+)/m.exec(stat);
  const uptime = Number(((await readText("/proc/uptime")) ?? "").split(/\s+/)[0]);
  return {
    name: release.NAME ?? null,
    version: release.VERSION_ID ?? release.VERSION ?? null,
    id: release.ID ?? null,
    prettyName: release.PRETTY_NAME ?? null,
    release,
    kernelName: os.type(),
    kernelRelease: os.release(),
    kernelVersion: os.version(),
    machine: os.machine(),
    bootTime: btime ? new Date(Number(btime[1]) * 1000).toISOString() : null,
    uptimeSeconds: Number.isFinite(uptime) ? Math.round(uptime) : Math.round(os.uptime()),
  };
}

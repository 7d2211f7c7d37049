// Which process owns which socket: /proc/<pid>/fd/* links read "socket:[<inode>]". Built once
// per run; processes we may not inspect (not root) are skipped and their sockets stay unowned.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface ProcessInfo {
  pid: number;
  /** /proc/<pid>/comm: the kernel's 15-character process name. */
  process: string | null;
  /** argv from /proc/<pid>/cmdline (empty for kernel threads or when unreadable). */
  cmdline: string[];
}

function pids(procRoot: string): number[] {
  return readdirSync(procRoot).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
}

/**
 * Socket inode → lowest pid holding it (a listener inherited by pre-forked workers belongs to
 * the parent, which is the lowest pid in the usual case). Synchronous on purpose: tens of
 * thousands of readlink calls are several times faster without a promise each.
 */
export function socketOwners(procRoot = "/proc"): Map<number, number> {
  const owners = new Map<number, number>();
  for (const pid of pids(procRoot)) {
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${pid}/fd`);
    } catch {
      continue;  // gone, or not ours to read
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`${procRoot}/${pid}/fd/${fd}`);
      } catch {
        continue;  // fd closed meanwhile
      }
      if (!link.startsWith("socket:[")) continue;
      const inode = parseInt(link.slice(8), 10);
      if (!owners.has(inode)) owners.set(inode, pid);
    }
  }
  return owners;
}

/** comm and cmdline per pid, read once per run. */
export class ProcessInfoCache {
  private readonly cache = new Map<number, ProcessInfo>();
  constructor(private readonly procRoot = "/proc") {}

  get(pid: number): ProcessInfo {
    let info = this.cache.get(pid);
    if (!info) {
      info = { pid, process: this.read(`${pid}/comm`)?.trim() ?? null, cmdline: this.cmdline(pid) };
      this.cache.set(pid, info);
    }
    return info;
  }

  private read(rel: string): string | undefined {
    try {
      return readFileSync(`${this.procRoot}/${rel}`, "utf8");
    } catch {
      return undefined;
    }
  }

  private cmdline(pid: number): string[] {
    const raw = this.read(`${pid}/cmdline`) ?? "";
    const args = raw.split("\0");
    if (args.length && args[args.length - 1] === "") args.pop();
    return args;
  }
}

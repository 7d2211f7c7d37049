/**
 * Test networks of Linux network namespaces (root only), made by scripts/netns.sh: N namespaces,
 * each with eth0 = 10.199.S.(10+i)/16 on one bridge in the root namespace, multicast flooded.
 * Addresses in 10.199.0.0/16 exist only inside these namespaces; tests send only to them or to
 * loopback. Every topology still up when the process exits (normally, or on SIGINT/SIGTERM) is
 * torn down, so namespaces never outlive a test run.
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { processAlive } from "@ringwatch/shared";

// compiled to test/dist/support/netns.js: the repository is three levels up
export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const NETNS_SH = `${REPO}scripts/netns.sh`;

const run = promisify(execFile);

export interface NetnsHost {
  /** namespace name, e.g. "rwt1234n0" */
  ns: string;
  /** the address of its eth0, e.g. "10.199.0.10" (prefix length 16) */
  address: string;
}

/** A prefix unique to this process that ends in a letter (see scripts/netns.sh) and fits the 15-character limit. */
export function uniquePrefix(stem = "rwt"): string {
  return `${stem}${process.pid}n`;
}

const live = new Set<NetnsTopology>();

function cleanupAllSync(): void {
  for (const t of live) t.destroySync();
}

process.on("exit", cleanupAllSync);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  const onSignal = (): void => {
    cleanupAllSync();
    process.removeListener(sig, onSignal);
    // nobody else handles it: die of the signal as we would have without this handler
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  process.on(sig, onSignal);
}

export class NetnsTopology {
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  private constructor(
    readonly prefix: string,
    readonly hosts: NetnsHost[],
  ) {}

  /** The bridge in the root namespace that every host's veth is on. */
  get bridge(): string {
    return `${this.prefix}br`;
  }

  /** True if this machine can create network namespaces (scripts/netns.sh check). */
  static available(): boolean {
    return NetnsTopology.check().ok;
  }

  /** Like available(), with the reason when it is false. */
  static check(): { ok: boolean; message: string } {
    const r = spawnSync("bash", [NETNS_SH, "check"], { encoding: "utf8" });
    const message = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() || (r.error ? String(r.error) : `exit code ${r.status}`);
    return { ok: r.status === 0, message };
  }

  /**
   * Namespaces prefix0..prefix{count-1}; host i is in segment segments[i] (default 0), i.e. has
   * address 10.199.segments[i].(10+i). Anything left over under this prefix is removed first.
   */
  static async create(prefix: string, count: number, segments: number[] = []): Promise<NetnsTopology> {
    await NetnsTopology.sweepStale();
    await NetnsTopology.script("down", prefix);
    const placeholder = new NetnsTopology(prefix, []);
    live.add(placeholder); // a failed or interrupted up is still cleaned up at exit
    let out: string;
    try {
      out = await NetnsTopology.script("up", prefix, String(count), ...segments.map(String));
    } catch (err) {
      await placeholder.destroy();
      throw err;
    }
    live.delete(placeholder);
    const hosts = out
      .trim()
      .split("\n")
      .map((line) => {
        const [ns, address] = line.trim().split(/\s+/);
        return { ns, address };
      });
    if (hosts.length !== count || hosts.some((h) => !h.ns || !/^10\.199\.\d+\.\d+$/.test(h.address))) {
      await NetnsTopology.script("down", prefix);
      throw new Error(`netns.sh up ${prefix} ${count}: unexpected output: ${out}`);
    }
    const t = new NetnsTopology(prefix, hosts);
    live.add(t);
    return t;
  }

  /** Run command with args inside namespace ns (ip netns exec), stdout/stderr piped. Killed by destroy(). */
  spawnIn(ns: string, command: string, args: string[] = [], env: Record<string, string> = {}): ChildProcess {
    if (this.destroyed) throw new Error(`topology ${this.prefix} is destroyed`);
    if (!this.hosts.some((h) => h.ns === ns)) throw new Error(`${ns} is not a namespace of topology ${this.prefix}`);
    const child = spawn("ip", ["netns", "exec", ns, command, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.add(child);
    child.on("exit", () => this.children.delete(child));
    return child;
  }

  /**
   * Remove topologies made with uniquePrefix(stem) by processes that no longer exist (a run killed
   * with SIGKILL cannot clean up after itself). Topologies of live processes are left alone.
   */
  static async sweepStale(stem = "rwt"): Promise<string[]> {
    const { stdout } = await run("ip", ["netns", "list"], { encoding: "utf8" });
    const stale = new Set<string>();
    for (const line of stdout.split("\n")) {
      const m = new RegExp(`^${stem}(\\d+)n\\d+\\b`).exec(line);
      if (m && !processAlive(Number(m[1]))) stale.add(`${stem}${m[1]}n`);
    }
    for (const p of stale) await NetnsTopology.script("down", p);
    return [...stale];
  }

  /** Kill every process in the namespaces, delete the namespaces, their veths and the bridge. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    for (const c of this.children) c.kill("SIGKILL");
    await NetnsTopology.script("down", this.prefix);
    live.delete(this);
  }

  /** destroy() for exit handlers, where nothing asynchronous runs any more. */
  destroySync(): void {
    this.destroyed = true;
    for (const c of this.children) c.kill("SIGKILL");
    spawnSync("bash", [NETNS_SH, "down", this.prefix], { stdio: "ignore" });
    live.delete(this);
  }

  private static async script(...args: string[]): Promise<string> {
    try {
      const { stdout } = await run("bash", [NETNS_SH, ...args], { encoding: "utf8" });
      return stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`scripts/netns.sh ${args.join(" ")} failed: ${(e.stderr ?? "").trim() || e.message}`);
    }
  }
}

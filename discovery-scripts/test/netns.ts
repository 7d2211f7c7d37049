// One throwaway network namespace for a test (root only): a name unique to this process, deleted
// by destroy() in an after hook and, should that never run, when the process exits; namespaces
// left by a killed earlier run are swept at the next create. (The system tests' multi-host
// topologies are test/support/netns.ts at the repository root.)
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { BIN, runCommand, type ScriptRun } from "./support.js";
import { processAlive } from "@ringwatch/shared";

const run = promisify(execFile);
const STEM = "rwds";
const live = new Set<string>();
let created = 0;

process.on("exit", () => {
  for (const ns of live) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
});

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run("ip", args, { encoding: "utf8" })).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip ${args.join(" ")} failed: ${(e.stderr ?? "").trim() || e.message}`);
  }
}

export class TestNamespace {
  private constructor(readonly name: string) {}

  /** Throws (so the test fails, never skips) when the namespace cannot be made. */
  static async create(): Promise<TestNamespace> {
    for (const line of (await ip("netns", "list")).split("\n")) {
      const m = new RegExp(`^(${STEM}(\\d+)n\\d+)\\b`).exec(line);
      if (m && !processAlive(Number(m[2]))) await ip("netns", "del", m[1]).catch(() => undefined);
    }
    const name = `${STEM}${process.pid}n${created++}`;
    live.add(name);
    await ip("netns", "add", name);
    return new TestNamespace(name);
  }

  /** `ip -n <ns> args...` */
  ip(...args: string[]): Promise<string> {
    return ip("-n", this.name, ...args);
  }

  /** Many `ip` commands in one process (`ip -n <ns> -batch -`), e.g. thousands of neighbour entries. */
  async ipBatch(lines: string[]): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const child = execFile("ip", ["-n", this.name, "-batch", "-"], { maxBuffer: 1 << 20 }, (err, _out, stderr) =>
        err ? reject(new Error(`ip -batch in ${this.name} failed: ${String(stderr).trim() || err.message}`)) : resolve());
      child.stdin?.end(lines.join("\n") + "\n");
    });
  }

  /** A discovery script run inside the namespace, as `ip netns exec <ns> bin/<name>`. */
  runBin(name: string, env: NodeJS.ProcessEnv = {}): Promise<ScriptRun> {
    return runCommand("ip", ["netns", "exec", this.name, `${BIN}${name}`], env);
  }

  /** Kills what still runs in it and deletes it (its interfaces go with it). */
  async destroy(): Promise<void> {
    const pids = (await ip("netns", "pids", this.name).catch(() => "")).split("\n").filter(Boolean).map(Number);
    for (const pid of pids) {
      try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
    }
    await ip("netns", "del", this.name);
    live.delete(this.name);
  }
}

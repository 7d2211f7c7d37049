// One run of one script as a child process with hard limits: its own process group (so a
// timeout kills everything it started), bounded stdout, a bounded stderr tail. Never rejects.
import { spawn, type ChildProcess } from "node:child_process";
import type { DiscoveryErrorKind } from "./types.js";

export interface RunLimits {
  timeoutMs: number;
  maxOutputBytes: number;
  stderrTailBytes: number;
}

export interface RunRequest {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
}

export type RunResult =
  | { ok: true; stdout: string; stderrTail: string; pid: number }
  | { ok: false; kind: Exclude<DiscoveryErrorKind, "invalid-json" | "invalid-document">; detail: string; stderrTail: string; pid: number | null };

/** After the child exits, wait this long for its pipes to close (a grandchild may hold them). */
const PIPE_GRACE_MS = 1000;

/** A handle to abort a run early (runner stop). */
export interface RunHandle {
  result: Promise<RunResult>;
  kill(): void;
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Group already gone.
  }
}

export function runProcess(req: RunRequest, limits: RunLimits): RunHandle {
  let child: ChildProcess;
  try {
    child = spawn(req.command, [...req.args], { detached: true, stdio: ["ignore", "pipe", "pipe"], env: req.env });
  } catch (e) {
    return { kill: () => undefined, result: Promise.resolve({ ok: false, kind: "spawn", detail: e instanceof Error ? e.message : String(e), stderrTail: "", pid: null }) };
  }

  const out: Buffer[] = [];
  let outBytes = 0;
  let errTail = Buffer.alloc(0);
  let tooLarge = false, timedOut = false, aborted = false;
  let spawnError: Error | null = null;

  child.stdout?.on("data", (chunk: Buffer) => {
    if (tooLarge) return;
    outBytes += chunk.length;
    if (outBytes > limits.maxOutputBytes) {
      // Stop holding output at once: memory stays bounded by the limit, not the script.
      tooLarge = true;
      out.length = 0;
      killGroup(child);
      child.stdout?.destroy();
      return;
    }
    out.push(chunk);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    errTail = Buffer.concat([errTail, chunk]);
    if (errTail.length > limits.stderrTailBytes) errTail = errTail.subarray(errTail.length - limits.stderrTailBytes);
  });

  const timer = setTimeout(() => { timedOut = true; killGroup(child); }, limits.timeoutMs);

  const result = new Promise<RunResult>((resolve) => {
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      child.stdout?.destroy();
      child.stderr?.destroy();
      const stderrTail = errTail.toString("utf8");
      const pid = child.pid ?? null;
      if (spawnError) return resolve({ ok: false, kind: "spawn", detail: spawnError.message, stderrTail, pid });
      if (tooLarge) return resolve({ ok: false, kind: "too-large", detail: `output exceeded ${limits.maxOutputBytes} bytes`, stderrTail, pid });
      if (timedOut) return resolve({ ok: false, kind: "timeout", detail: `killed after ${limits.timeoutMs} ms`, stderrTail, pid });
      if (aborted) return resolve({ ok: false, kind: "signal", detail: "killed: runner stopped", stderrTail, pid });
      if (signal) return resolve({ ok: false, kind: "signal", detail: `killed by ${signal}`, stderrTail, pid });
      if (code !== 0) return resolve({ ok: false, kind: "exit", detail: `exit code ${code}`, stderrTail, pid });
      resolve({ ok: true, stdout: Buffer.concat(out).toString("utf8"), stderrTail, pid: pid ?? 0 });
    };
    child.once("error", (e) => {
      // ENOENT, EACCES: the process never ran ("close" follows, but do not count on it).
      spawnError = e;
      if (child.pid === undefined) finish(null, null);
    });
    child.once("exit", (code, signal) => {
      grace = setTimeout(() => finish(code, signal), PIPE_GRACE_MS);
    });
    child.once("close", (code: number | null, signal: NodeJS.Signals | null) => finish(code, signal));
  });

  return {
    result,
    kill: () => { aborted = true; killGroup(child); },
  };
}

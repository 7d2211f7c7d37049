// One run of one script as a child process with hard limits: its own process group (so a
// timeout kills everything it started), bounded stdout, a bounded stderr tail, and its CPU when an
// accounting shell is given (cpu-accounting.ts). Never rejects.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { constants as osConstants } from "node:os";
import { MAX_ACCOUNTING_BYTES, WRAPPER, WRAPPER_ARGV0, WRAPPER_SHELL_FLAGS, isJobOf, parseAccounting, parseJobPid, type RunCpu } from "./cpu-accounting.js";
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
  /** bash to run the script under the CPU-accounting wrapper; absent: no wrapper, CPU unknown */
  accountingShell?: string | null;
}

/** `cpu`: the run's user + system CPU, null when unknown (no accounting, or its output missing or malformed). */
export type RunResult =
  | { ok: true; stdout: string; stderrTail: string; pid: number; cpu: RunCpu | null }
  | { ok: false; kind: Exclude<DiscoveryErrorKind, "invalid-json" | "invalid-document">; detail: string; stderrTail: string; pid: number | null; cpu: RunCpu | null };

/** After the child exits, wait this long for its pipes to close (a grandchild may hold them). */
const PIPE_GRACE_MS = 1000;
/** A wrapper still there this long after its job was killed (or that never named its job) is killed with its group. */
const KILL_BACKSTOP_MS = 1000;

/** Signal names by number, for a job the wrapper saw die of one (exit status 128 + n). */
const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, n]) => [n, name]));

/** A handle to abort a run early (runner stop). */
export interface RunHandle {
  result: Promise<RunResult>;
  kill(): void;
}

function killGroup(pgid: number | undefined): void {
  if (pgid === undefined || pgid <= 1) return;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // Group already gone.
  }
}

function spawnFailure(e: unknown): RunHandle {
  return { kill: () => undefined, result: Promise.resolve({ ok: false, kind: "spawn", detail: e instanceof Error ? e.message : String(e), stderrTail: "", pid: null, cpu: null }) };
}

export function runProcess(req: RunRequest, limits: RunLimits): RunHandle {
  const shell = req.accountingShell ?? null;
  let child: ChildProcess;
  try {
    // Under the wrapper a missing script would be bash's exit 127: say "spawn" as without it.
    if (shell && req.command.includes("/")) accessSync(req.command, fsConstants.X_OK);
    child = shell
      ? spawn(shell, [...WRAPPER_SHELL_FLAGS, WRAPPER, WRAPPER_ARGV0, req.command, ...req.args], { detached: true, stdio: ["ignore", "pipe", "pipe", "pipe"], env: req.env })
      : spawn(req.command, [...req.args], { detached: true, stdio: ["ignore", "pipe", "pipe"], env: req.env });
  } catch (e) {
    return spawnFailure(e);
  }

  // Accounting: the wrapper leads the detached group; the script leads its own (its pid, said on fd 3).
  let accounting = "";
  let jobPid: number | null = null;
  let killWanted = false;
  let backstop: NodeJS.Timeout | undefined;
  /** Set once the run is over: its pids may belong to someone else from then on. */
  let finished = false;
  const killJob = (): void => {
    if (jobPid !== null && child.pid !== undefined && isJobOf(jobPid, child.pid)) killGroup(jobPid);
  };
  /** Kills the run: the script's group (the wrapper then reaps it and reports its CPU), else the child's group. */
  const kill = (): void => {
    if (finished) return;
    if (!shell) return killGroup(child.pid);
    killWanted = true;
    killJob(); // before the pid line: done when it comes
    backstop ??= setTimeout(() => { if (!finished) { killJob(); killGroup(child.pid); } }, KILL_BACKSTOP_MS);
  };
  child.stdio[3]?.on("data", (chunk: Buffer) => {
    if (accounting.length > MAX_ACCOUNTING_BYTES) return;
    accounting += chunk.toString("latin1");
    if (jobPid === null) {
      jobPid = parseJobPid(accounting);
      if (jobPid !== null && killWanted) killJob();
    }
  });

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
      kill();
      child.stdout?.destroy();
      return;
    }
    out.push(chunk);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    errTail = Buffer.concat([errTail, chunk]);
    if (errTail.length > limits.stderrTailBytes) errTail = errTail.subarray(errTail.length - limits.stderrTailBytes);
  });

  const timer = setTimeout(() => { timedOut = true; kill(); }, limits.timeoutMs);

  const result = new Promise<RunResult>((resolve) => {
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      finished = true;
      clearTimeout(timer);
      clearTimeout(grace);
      clearTimeout(backstop);
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.stdio[3]?.destroy();
      const stderrTail = errTail.toString("utf8");
      const pid = shell ? jobPid : child.pid ?? null;
      const cpu = shell && accounting.length <= MAX_ACCOUNTING_BYTES ? parseAccounting(accounting).cpu : null;
      // The wrapper exits with its job's status: 128 + n when the job died of signal n.
      if (shell && !signal && code !== null && code > 128 && SIGNAL_NAMES.has(code - 128)) signal = SIGNAL_NAMES.get(code - 128) as NodeJS.Signals;
      if (spawnError) return resolve({ ok: false, kind: "spawn", detail: spawnError.message, stderrTail, pid, cpu });
      if (tooLarge) return resolve({ ok: false, kind: "too-large", detail: `output exceeded ${limits.maxOutputBytes} bytes`, stderrTail, pid, cpu });
      if (timedOut) return resolve({ ok: false, kind: "timeout", detail: `killed after ${limits.timeoutMs} ms`, stderrTail, pid, cpu });
      if (aborted) return resolve({ ok: false, kind: "signal", detail: "killed: runner stopped", stderrTail, pid, cpu });
      if (signal) return resolve({ ok: false, kind: "signal", detail: `killed by ${signal}`, stderrTail, pid, cpu });
      if (code !== 0) return resolve({ ok: false, kind: "exit", detail: `exit code ${code}`, stderrTail, pid, cpu });
      resolve({ ok: true, stdout: Buffer.concat(out).toString("utf8"), stderrTail, pid: pid ?? 0, cpu });
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
    kill: () => { aborted = true; kill(); },
  };
}

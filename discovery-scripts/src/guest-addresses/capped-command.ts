// Runs a command whose output size is not ours to choose: stdout is kept up to a byte cap (then
// the command is killed and what was read is still returned), the run is bounded in time.
import { spawn } from "node:child_process";

export interface CappedRun {
  /** Set when the command could not be started (ENOENT, EACCES, ...). */
  startError?: NodeJS.ErrnoException;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** First few KiB of stderr, for the message. */
  stderr: string;
  /** stdout reached maxBytes and the command was stopped. */
  truncated: boolean;
  timedOut: boolean;
}

const MAX_STDERR = 4096;

export function runCapped(command: string, args: string[], maxBytes: number, timeoutMs: number): Promise<CappedRun> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let outBytes = 0, stderr = "", truncated = false, timedOut = false, done = false;
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, timeoutMs);
    const finish = (r: Partial<CappedRun>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const text = Buffer.concat(out).subarray(0, maxBytes).toString("utf8");
      resolve({ code: null, signal: null, ...r, stdout: text, stderr, truncated, timedOut });
    };
    child.stdout.on("data", (d: Buffer) => {
      if (truncated) return;
      out.push(d);
      outBytes += d.length;
      if (outBytes > maxBytes) {
        truncated = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (d: Buffer) => { if (stderr.length < MAX_STDERR) stderr += d.toString("utf8").slice(0, MAX_STDERR - stderr.length); });
    child.once("error", (e) => finish({ startError: e as NodeJS.ErrnoException }));
    child.once("close", (code, signal) => finish({ code, signal }));
  });
}

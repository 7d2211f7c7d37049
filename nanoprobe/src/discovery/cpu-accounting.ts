// CPU per discovery run. Node gives no rusage for a child (its exit event carries code and signal
// only), and /proc/self/stat's cutime/cstime sum every child the nanoprobe reaped, in 10 ms ticks, so
// two scripts running at once could not be told apart. So each script is started by a small bash
// wrapper: it runs the script as a background job in its own process group (`set -m`), says the
// job's pid, waits for it and prints `times`, whose second line is getrusage(RUSAGE_CHILDREN) of the
// wrapper: user and system CPU of the script and of every descendant reaped below it, in ms. The
// runner kills the job's group (not the wrapper) at a timeout, so a killed run is counted too.
// Not counted: descendants the script left running (init reaps them) and the wrapper's own bash
// (~1–2 ms a run, bench/discovery.bench.ts measures it). All of it arrives on fd 3, which the
// script itself does not get; anything else there makes the run's CPU unknown, never a failure.
import { accessSync, constants, readFileSync } from "node:fs";

/**
 * bash -p: the environment's BASH_ENV, SHELLOPTS and functions do not reach the wrapper (the
 * script still gets the whole environment); -c: the wrapper's text follows.
 */
export const WRAPPER_SHELL_FLAGS = ["-p", "-c"] as const;

/** The wrapper, run as `bash -p -c WRAPPER ringwatch-discovery <command> <args...>`. */
export const WRAPPER = [
  'exec 4>&2 2>/dev/null',               // bash's own job notices ("Killed", "Exit 3") stay out of the script's stderr
  'set -m',                              // job control only to start the job: it leads its own process group
  '"$@" 2>&4 3>&- 4>&- &',               // the script, with its stderr and without our fds
  'job=$!',
  // Without job control again, wait returns at the job's end, not when it stops; (bash 5.2's
  // `wait -f` under set -m spun forever on ~1 % of fast jobs)
  'set +m',
  'echo "pid $job" >&3',
  'wait "$job"',
  'status=$?',
  'LC_ALL=C',                            // "0.123", not "0,123"
  'times >&3',
  'exit "$status"',
].join("\n");

export const WRAPPER_ARGV0 = "ringwatch-discovery";

/** Accounting output is three short lines; more is not ours. */
export const MAX_ACCOUNTING_BYTES = 512;

export interface RunCpu {
  userMs: number;
  systemMs: number;
}

export interface AccountingReport {
  /** the job's pid (leader of its own process group), once the wrapper said it */
  jobPid: number | null;
  /** the job's CPU, once the wrapper printed it; null when missing or malformed */
  cpu: RunCpu | null;
}

const PID_LINE = /^pid ([1-9][0-9]{0,9})$/;
const TIMES_LINE = /^([0-9]{1,9})m([0-9]{1,2})[.,]([0-9]{3})s ([0-9]{1,9})m([0-9]{1,2})[.,]([0-9]{3})s$/;

function timesMs(line: string): RunCpu | null {
  const m = TIMES_LINE.exec(line);
  if (!m) return null;
  const ms = (min: string, s: string, frac: string): number => Number(min) * 60_000 + Number(s) * 1000 + Number(frac);
  return { userMs: ms(m[1], m[2], m[3]), systemMs: ms(m[4], m[5], m[6]) };
}

/** The job's pid as soon as its line is complete (output so far); null before, or when it is not a pid line. */
export function parseJobPid(text: string): number | null {
  const nl = text.indexOf("\n");
  if (nl < 0) return null;
  const m = PID_LINE.exec(text.slice(0, nl));
  return m ? Number(m[1]) : null;
}

/** The wrapper's whole output: "pid N", the wrapper's own times, its children's times. */
export function parseAccounting(text: string): AccountingReport {
  const jobPid = parseJobPid(text);
  const lines = text.split("\n");
  const wellFormed = jobPid !== null && lines.length === 4 && lines[3] === "" && timesMs(lines[1]) !== null;
  return { jobPid, cpu: wellFormed ? timesMs(lines[2]) : null };
}

/**
 * True when `pid` is still the wrapper's job: a child of `wrapperPid` leading its own group. Checked
 * before killing a group whose number came from the wrapper's output, so a wrong line can never
 * kill someone else's processes.
 */
export function isJobOf(pid: number, wrapperPid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(ppid) === wrapperPid && Number(pgrp) === pid;
  } catch {
    return false;
  }
}

/** The shell that runs the wrapper, or null (accounting off, CPU unknown) when there is none. */
export function findAccountingShell(candidates: readonly string[] = ["/bin/bash", "/usr/bin/bash"]): string | null {
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

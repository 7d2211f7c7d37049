/**
 * Real processes for system tests: spawn a ringwatch CLI, read its JSON log lines, wait for a line
 * that matches, stop it with SIGTERM (SIGKILL after a timeout). Every process started is killed
 * when the test file ends, so nothing outlives the run.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitForValue } from "@ringwatch/shared/testing";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const CMA_CLI = `${REPO}cma/dist/src/cli.js`;
export const NANOPROBE_CLI = `${REPO}nanoprobe/dist/src/cli.js`;

export type LogLine = Record<string, unknown> & { msg?: string };

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export class RunningProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  private waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    live.add(child);
    createInterface({ input: child.stdout! }).on("line", (text) => {
      let l: LogLine;
      try {
        l = JSON.parse(text) as LogLine;
      } catch {
        l = { msg: text, raw: true };
      }
      this.lines.push(l);
      this.waiters = this.waiters.filter((w) => (w.match(l) ? (w.resolve(l), false) : true));
    });
    createInterface({ input: child.stderr! }).on("line", (t) => this.stderr.push(t));
    this.exited = new Promise((resolve) => child.on("exit", (code) => {
      live.delete(child);
      resolve(code);
    }));
  }

  /** The first log line (already seen or still to come) that matches, within timeoutMs. */
  waitFor(match: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: no log line "${what}" within ${timeoutMs} ms; stderr: ${this.stderr.slice(-5).join(" | ")}`)), timeoutMs);
      this.waiters.push({ match, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }

  /** check() until it answers a value, within timeoutMs; a timeout names this process's last warnings. */
  async until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string, pollMs = 250): Promise<T> {
    try {
      return await waitForValue(check, timeoutMs, what, pollMs);
    } catch (e) {
      const warnings = this.lines.filter((l) => (l.level as number) >= 40).slice(-3).map((l) => JSON.stringify(l));
      throw new Error(`${(e as Error).message}; ${this.name} said: ${warnings.join(" | ") || "(no warning)"}`);
    }
  }

  async stop(timeoutMs = 5000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

/** where a test nanoprobe keeps its identity key: one per name for the whole run (a restarted host keeps its key), never /var/lib */
export function testIdentityKeyFile(name: string): string {
  return join(tmpdir(), `ringwatch-test-keys-${process.pid}`, `${name.replace(/[^A-Za-z0-9._-]/g, "_")}.key`);
}
/** ...and the list of CMAs its leader sent (high availability) beside it, never /var/lib either */
export function testCmaAddressesFile(name: string): string {
  return testIdentityKeyFile(name).replace(/\.key$/, ".cma-addresses.json");
}
const testIdentityKey = (script: string, name: string): Record<string, string> =>
  (script === NANOPROBE_CLI ? { RINGWATCH_IDENTITY_KEY_FILE: testIdentityKeyFile(name), RINGWATCH_CMA_ADDRESSES_FILE: testCmaAddressesFile(name) } : {});

export function startProcess(name: string, script: string, args: string[], env: Record<string, string>): RunningProcess {
  // a test CMA serves HTTP on a free port unless told otherwise: never the default 1984 another run may hold
  const http = script === CMA_CLI && env.RINGWATCH_HTTP_LISTEN === undefined ? { RINGWATCH_HTTP_LISTEN: "127.0.0.1:0" } : {};
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...http, ...testIdentityKey(script, name), ...env }, stdio: ["ignore", "pipe", "pipe"] });
  return new RunningProcess(name, child);
}

export async function runToExit(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  live.delete(child);
  return { code, stdout, stderr };
}

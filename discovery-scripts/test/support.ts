// Helpers for running the compiled scripts the way the nanoprobe does: as executables.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { parseDocument } from "@ringwatch/shared";

export const BIN = fileURLToPath(new URL("../../bin/", import.meta.url));
export const FIXTURES = fileURLToPath(new URL("../../test/fixtures/", import.meta.url));

export interface ScriptRun { code: number | null; stdout: string; stderr: string; ms: number }

/** The data of the valid document of `discovertype` a run printed (the run must have succeeded). */
export function documentData<T>(r: ScriptRun, discovertype: string): T {
  assert.equal(r.code, 0, r.stderr);
  const p = parseDocument(r.stdout);
  assert.ok(p.ok);
  assert.equal(p.document.discovertype, discovertype);
  return p.document.data as unknown as T;
}

export function runBin(name: string, env: NodeJS.ProcessEnv = {}): Promise<ScriptRun> {
  return runCommand(`${BIN}${name}`, [], env);
}

/** Runs command to its end, collecting its output; env is added to this process's environment. */
export function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ScriptRun> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d: Buffer) => { stdout += d; });
    child.stderr.on("data", (d: Buffer) => { stderr += d; });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

export interface Peer { child: ChildProcess; listenPort: number; connected: number; tag: string }

/** Starts fixtures/tcp-peer.mjs and waits for its ready line. */
export function startPeer(tag: string, targets: string[] = []): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${FIXTURES}tcp-peer.mjs`, tag, ...targets], { stdio: ["ignore", "pipe", "inherit"] });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`tcp peer exited early (${code})`)));
    createInterface({ input: child.stdout! }).once("line", (line) => {
      const ready = JSON.parse(line) as { listenPort: number; connected: number };
      resolve({ child, tag, ...ready });
    });
  });
}

export async function stopPeer(p: Peer | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return;
  p.child.removeAllListeners("exit");
  await new Promise((r) => { p.child.once("exit", r); p.child.kill("SIGKILL"); });
}

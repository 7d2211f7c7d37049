/**
 * The real etcd for the high-availability tests: scripts/etcd.sh starts a 3-member cluster on
 * loopback (idempotent: a running one is reused, and scripts/test.sh stops it at the end). Each
 * test uses a key prefix of its own, so tests never see each other's keys.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { REPO } from "./processes.js";

const run = promisify(execFile);
export const ETCD_SH = `${REPO}scripts/etcd.sh`;

async function etcdSh(...args: string[]): Promise<string> {
  const { stdout } = await run("bash", [ETCD_SH, ...args], { timeout: 120_000 });
  return stdout;
}

let endpoints: Promise<string> | undefined;

/** Start etcd if it is not running; its client URLs, comma-separated (what etcdEndpoints takes). */
export function ensureEtcd(): Promise<string> {
  endpoints ??= (async () => {
    await etcdSh("start");
    const env = await etcdSh("env");
    const m = /RINGWATCH_ETCD_ENDPOINTS=(\S+)/.exec(env);
    if (!m) throw new Error(`etcd.sh env printed no endpoints: ${env}`);
    return m[1];
  })();
  return endpoints;
}

/** Signal member n (1..3): KILL loses it, STOP/CONT freezes it; startMember brings a lost one back. */
export async function signalMember(n: number, signal: "KILL" | "STOP" | "CONT" | "TERM"): Promise<void> {
  await etcdSh("stop-member", String(n), signal);
}

export async function startMember(n: number): Promise<void> {
  await etcdSh("start-member", String(n));
}

/** A key prefix no other test (or earlier run) uses. */
export function freshPrefix(what: string): string {
  return `/ringwatch-test/${what}-${randomBytes(4).toString("hex")}`;
}

/** `ringwatch-cma keygen`: the cluster key and the CMA's command key pair (or the next command key pair of a rotation), never overwriting. */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { generateCommandKeys, writeNewKeyFile, COMMAND_PRIVATE_KEY_FILE } from "@ringwatch/shared";

export const CLUSTER_KEY_FILE = "cluster.key";

export function keygen(dir: string): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const made: string[] = [];
  const ck = join(dir, CLUSTER_KEY_FILE);
  if (!existsSync(ck)) {
    writeNewKeyFile(ck);
    made.push(ck);
  }
  if (!existsSync(join(dir, COMMAND_PRIVATE_KEY_FILE))) {
    const p = generateCommandKeys(dir);
    made.push(p.privateKeyPath, p.publicKeyPath);
  }
  return made;
}

/**
 * `keygen --next`: the key pair a rotation of the command key moves to, beside the current one
 * (cma-command.next.key/.pub); refused if a next pair is already there (finish that rotation first).
 */
export function keygenNext(dir: string): { privateKeyPath: string; publicKeyPath: string; fingerprint: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return generateCommandKeys(dir, { next: true });
}

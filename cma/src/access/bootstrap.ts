/**
 * First start: with no user at all, the CMA creates `admin` with a password taken from
 * adminPasswordFile, or generated and printed once (stderr and the log). Never a fixed default.
 * With users present nothing happens (the file is not read), so the password file can be removed
 * after the first start.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "@ringwatch/shared";
import type { AccessStore } from "./access-store.js";
import { passwordProblem } from "./passwords.js";

export const BOOTSTRAP_ADMIN = "admin";

export interface Bootstrapped {
  user: string;
  /** the generated password (only when none was given in a file) */
  generatedPassword?: string;
}

/** First line of a password file, without its line end. */
export function readPasswordFile(path: string, option: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${option}: cannot read ${path}: ${(e as Error).message}`);
  }
  const pw = text.split(/\r?\n/)[0];
  const p = passwordProblem(pw);
  if (p) throw new ConfigError(`${option}: ${path}: ${p}`);
  return pw;
}

export async function bootstrapAdmin(store: AccessStore, passwordFile: string): Promise<Bootstrapped | undefined> {
  if (store.hasUsers()) return undefined;
  const given = passwordFile ? readPasswordFile(passwordFile, "adminPasswordFile") : undefined;
  const password = given ?? randomBytes(18).toString("base64url"); // 24 characters, 144 random bits
  try {
    await store.addUser(BOOTSTRAP_ADMIN, "admin", password);
  } catch (e) {
    if ((e as { code?: string }).code === "exists") return undefined; // another process made it meanwhile
    throw e;
  }
  return given ? { user: BOOTSTRAP_ADMIN } : { user: BOOTSTRAP_ADMIN, generatedPassword: password };
}

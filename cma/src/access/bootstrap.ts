/**
 * First start: with no user at all, the CMA creates `admin` with a password taken from
 * adminPasswordFile, or generated and printed once (stderr and the log). Never a fixed default.
 * With users present nothing happens (the file is not read), so the password file can be removed
 * after the first start. The creation is recorded in the audit log (actor "system", via "startup"),
 * where the password's source is named and the password never is.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "@ringwatch/shared";
import type { AuditRecord } from "../audit/audit-entry.js";
import type { AccessStore } from "./access-store.js";
import { passwordProblem } from "./passwords.js";

export const BOOTSTRAP_ADMIN = "admin";

export interface Bootstrapped {
  user: string;
  /** the generated password (only when none was given in a file) */
  generatedPassword?: string;
  /** why the creation could not be recorded in the audit log (the user was made all the same) */
  auditError?: string;
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

/** Where the first admin's creation is recorded (the CMA's audit log). */
export interface BootstrapAudit {
  record(r: AuditRecord): unknown;
}

export async function bootstrapAdmin(store: AccessStore, passwordFile: string, audit?: BootstrapAudit): Promise<Bootstrapped | undefined> {
  if (store.hasUsers()) return undefined;
  const given = passwordFile ? readPasswordFile(passwordFile, "adminPasswordFile") : undefined;
  const password = given ?? randomBytes(18).toString("base64url"); // 24 characters, 144 random bits
  try {
    await store.addUser(BOOTSTRAP_ADMIN, "admin", password);
  } catch (e) {
    if ((e as { code?: string }).code === "exists") return undefined; // another process made it meanwhile
    throw e;
  }
  let auditError: string | undefined;
  try {
    audit?.record({
      actor: "system", via: "startup", from: "local", action: "userAdd", target: BOOTSTRAP_ADMIN, outcome: "ok",
      detail: { role: "admin", firstStart: true, password: given ? "adminPasswordFile" : "generated" },
    });
  } catch (e) {
    // the admin exists already: its generated password must still reach the operator, so this is reported, not thrown
    auditError = (e as Error).message;
  }
  return { user: BOOTSTRAP_ADMIN, ...(given ? {} : { generatedPassword: password }), ...(auditError ? { auditError } : {}) };
}

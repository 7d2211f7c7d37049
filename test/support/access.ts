/**
 * An API token for a system test, made offline in the CMA's data directory before the CMA starts,
 * by the real CLI (`ringwatch-cma token create --data-dir`), as an operator would. Nothing in a
 * test switches access control off.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CMA_CLI, runToExit } from "./processes.js";

export interface OfflineToken {
  token: string;
  /** headers carrying it */
  auth: { authorization: string };
  /** a file holding it (for --token-file) */
  tokenFile: string;
}

export async function offlineToken(dataDir: string, role: "viewer" | "operator" | "admin" = "admin"): Promise<OfflineToken> {
  const r = await runToExit(CMA_CLI, ["token", "create", "--data-dir", dataDir, "--name", `system test ${role}`, "--role", role, "--expires", "1d"]);
  if (r.code !== 0) throw new Error(`token create failed (${r.code}): ${r.stderr}`);
  const token = r.stdout.trim();
  const tokenFile = join(dataDir, `test-token-${role}`);
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return { token, auth: { authorization: `Bearer ${token}` }, tokenFile };
}

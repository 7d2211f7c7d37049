/**
 * enrollmentTokenFile: the one-time token an admin made for this host ('ringwatch-cma host-keys
 * enroll NAME'), read once at start. The token itself never leaves the host: announcements carry
 * a proof of it bound to this host's name and identity key (shared/src/identity/enrollment-proof.ts).
 * A missing file is no token (the host may be in already, its file deleted: the caller warns); an
 * unreadable file, or one that holds no token, stops the start with the reason.
 */
import { readFileSync } from "node:fs";
import { ConfigError, parseEnrollmentToken } from "@ringwatch/shared";

/** a token is 43 characters: a file much bigger is not a token file */
const MAX_BYTES = 4096;

export function readEnrollmentTokenFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError(`enrollmentTokenFile ${path}: cannot read: ${(e as Error).message}`);
  }
  if (text.length > MAX_BYTES) throw new ConfigError(`enrollmentTokenFile ${path}: ${text.length} bytes is not a token`);
  try {
    return parseEnrollmentToken(text, `enrollmentTokenFile ${path}`);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

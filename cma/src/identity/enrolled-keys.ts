/**
 * hostKeysFile: the hosts an `enrolled` CMA admits, one `name fingerprint` line each (the
 * fingerprint `ringwatch-nanoprobe keygen` prints: SHA256: and 43 base64 characters). Blank lines
 * and lines starting with # are skipped. Read once at start; any line that is not a host and a
 * fingerprint, or a name listed twice, stops the CMA with the file, the line and the reason.
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "@ringwatch/shared";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** a fleet of 100,000 hosts fits; a file beyond it is not a list of hosts */
const MAX_LINES = 100_000;

/** name → fingerprint */
export type EnrolledKeys = ReadonlyMap<string, string>;

export function parseEnrolledKeys(text: string, source: string): EnrolledKeys {
  const keys = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_LINES) throw new ConfigError(`${source}: ${lines.length} lines, at most ${MAX_LINES}`);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const at = `${source}:${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 2) throw new ConfigError(`${at}: expected "name fingerprint", got ${fields.length} field(s): ${JSON.stringify(line.slice(0, 120))}`);
    const [name, fingerprint] = fields as [string, string];
    if (!NAME_RE.test(name)) throw new ConfigError(`${at}: bad host name ${JSON.stringify(name.slice(0, 80))}`);
    if (!FINGERPRINT_RE.test(fingerprint)) throw new ConfigError(`${at}: ${JSON.stringify(fingerprint.slice(0, 80))} is not a key fingerprint (SHA256: and 43 base64 characters, as 'ringwatch-nanoprobe keygen' prints it)`);
    if (keys.has(name)) throw new ConfigError(`${at}: ${name} is listed twice`);
    keys.set(name, fingerprint);
  });
  return keys;
}

export function readEnrolledKeys(path: string): EnrolledKeys {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`hostKeysFile ${path}: cannot read: ${(e as Error).message}`);
  }
  return parseEnrolledKeys(text, `hostKeysFile ${path}`);
}

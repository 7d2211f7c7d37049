/**
 * Cluster keys. A key file holds the key frames are sent with on its first line and, optionally, one
 * more accepted key on the second; frames made with either are accepted. A rolling rotation over
 * many hosts takes three steps, each rolled out everywhere before the next (a host that sends with
 * the new key before its peers accept it has its frames — acks included — refused):
 *   1. "old\nnew"  every host accepts the new key, still sends with the old one;
 *   2. "new\nold"  every host sends with the new key, still accepts the old one;
 *   3. "new"       the old key is retired.
 * Keys are 32 random bytes written as 64 hex characters; '#' starts a comment.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, statSync } from "node:fs";

export interface ClusterKey {
  id: number; // first 4 bytes of SHA-256(secret): lets the receiver pick the key without trying both
  secret: Buffer;
}

export const CLUSTER_KEY_BYTES = 32;

export function clusterIdOf(clusterName: string): number {
  return createHash("sha256").update(`ringwatch-cluster:${clusterName}`).digest().readUInt32BE(0);
}

export function makeClusterKey(secret: Buffer): ClusterKey {
  if (secret.length !== CLUSTER_KEY_BYTES) throw new RangeError(`cluster key must be ${CLUSTER_KEY_BYTES} bytes`);
  return { id: createHash("sha256").update(secret).digest().readUInt32BE(0), secret: Buffer.from(secret) };
}

export class Keyring {
  readonly clusterId: number;
  private keys: ClusterKey[];

  constructor(
    readonly clusterName: string,
    current: ClusterKey,
    previous?: ClusterKey,
  ) {
    if (!clusterName) throw new RangeError("cluster name must not be empty");
    this.clusterId = clusterIdOf(clusterName);
    this.keys = previous ? [current, previous] : [current];
  }

  get current(): ClusterKey {
    return this.keys[0];
  }

  byId(id: number): ClusterKey | undefined {
    // at most two keys: a linear scan beats a map
    for (const k of this.keys) if (k.id === id) return k;
    return undefined;
  }

  /** Swap keys in place (e.g. on SIGHUP after the key file changed). */
  rotate(current: ClusterKey, previous?: ClusterKey): void {
    this.keys = previous ? [current, previous] : [current];
  }

  static fromFile(clusterName: string, path: string): Keyring {
    const { current, previous } = readKeyFile(path);
    return new Keyring(clusterName, current, previous);
  }
}

export function parseKeyText(text: string, source = "key"): { current: ClusterKey; previous?: ClusterKey } {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => l.length > 0);
  if (lines.length < 1 || lines.length > 2) {
    throw new Error(`${source}: expected 1 or 2 keys (current, then previous), found ${lines.length}`);
  }
  const keys = lines.map((l, i) => {
    if (!/^[0-9a-fA-F]{64}$/.test(l)) throw new Error(`${source}: line ${i + 1} is not 64 hex characters`);
    return makeClusterKey(Buffer.from(l, "hex"));
  });
  if (keys.length === 2 && keys[0].id === keys[1].id) throw new Error(`${source}: current and previous key are the same`);
  return { current: keys[0], previous: keys[1] };
}

export function readKeyFile(path: string): { current: ClusterKey; previous?: ClusterKey } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`cluster key file ${path}: ${(e as Error).message}`);
  }
  const mode = statSync(path).mode & 0o077;
  if (mode & 0o044) process.emitWarning(`cluster key file ${path} is readable by group or others`);
  return parseKeyText(text, `cluster key file ${path}`);
}

/** Write a fresh key; with `keepPrevious`, the file's current key becomes the previous one. */
export function writeNewKeyFile(path: string, keepPrevious = false): ClusterKey {
  const secret = randomBytes(CLUSTER_KEY_BYTES);
  let text = `${secret.toString("hex")}\n`;
  if (keepPrevious) {
    const old = readKeyFile(path);
    text += `${old.current.secret.toString("hex")}\n`;
  }
  writeFileSync(path, text, { mode: 0o600 });
  return makeClusterKey(secret);
}

/** Re-read the key file into the keyring on every SIGHUP (step through a rotation without restarting). */
export function reloadKeysOnSighup(keyring: Keyring, path: string, log: { info(o: object, m: string): void; error(o: object, m: string): void }): () => void {
  const onHup = (): void => {
    try {
      const { current, previous } = readKeyFile(path);
      keyring.rotate(current, previous);
      log.info({ keyFile: path, sendKeyId: current.id.toString(16), acceptedKeyIds: [current.id, previous?.id].filter((x) => x !== undefined).map((x) => x!.toString(16)) }, "cluster keys reloaded");
    } catch (e) {
      log.error({ keyFile: path, err: (e as Error).message }, "cluster key reload failed: keeping the keys in use");
    }
  };
  process.on("SIGHUP", onHup);
  return () => process.off("SIGHUP", onHup);
}

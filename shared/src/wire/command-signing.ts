/**
 * Commands from the CMA are signed with its Ed25519 key; nanoprobes verify them with the public key
 * (or keys: during a rotation they hold the current and the next one, and accept either).
 * The cluster key only proves "a member sent this"; the signature proves "the CMA ordered this", so a
 * compromised hypervisor cannot reassign rings or reboot its neighbours' guests.
 * A verified command must also name this host, be unexpired, and not have been seen before.
 * With CMAs in high availability (etcd), each leader signs with its epoch: a command from an epoch
 * older than the newest this host accepted comes from a deposed leader and is refused.
 */
import { createPrivateKey, createPublicKey, randomUUID, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { keyFingerprint, rawPublicKey } from "../identity/host-keys.js";
import { decodeCommand, encodeCommand, MessageError } from "../messages/codec.js";
import type { Command, SignedCommand } from "../messages/codec.js";
import { newKeyPair } from "../identity/key-pairs.js";

export const COMMAND_PRIVATE_KEY_FILE = "cma-command.key";
export const COMMAND_PUBLIC_KEY_FILE = "cma-command.pub";
/** where `ringwatch-cma keygen --next` puts the key a rotation moves to, beside the current one */
export const NEXT_COMMAND_PRIVATE_KEY_FILE = "cma-command.next.key";
export const NEXT_COMMAND_PUBLIC_KEY_FILE = "cma-command.next.pub";
/** a nanoprobe's key file holds the current key and the next (a rotation); a few more is a mistake, not a need */
export const MAX_COMMAND_PUBLIC_KEYS = 4;
/** How long a command stays valid by default: long enough for retransmits, short enough to bound replay memory. */
export const DEFAULT_COMMAND_TTL_MS = 60_000;

/**
 * Write a new key pair into dir: private key (PKCS#8 PEM, mode 0600) and public key (SPKI PEM);
 * `next`: the next key of a rotation (cma-command.next.key/.pub). Never overwrites (EEXIST).
 */
export function generateCommandKeys(dir: string, opts: { next?: boolean } = {}): { privateKeyPath: string; publicKeyPath: string; fingerprint: string } {
  mkdirSync(dir, { recursive: true });
  const privateKeyPath = join(dir, opts.next ? NEXT_COMMAND_PRIVATE_KEY_FILE : COMMAND_PRIVATE_KEY_FILE);
  const publicKeyPath = join(dir, opts.next ? NEXT_COMMAND_PUBLIC_KEY_FILE : COMMAND_PUBLIC_KEY_FILE);
  // neither half written when the other is there: no private key left without its public one
  for (const p of [privateKeyPath, publicKeyPath]) if (existsSync(p)) throw new Error(`EEXIST: ${p} already exists (never overwritten)`);
  const { privateKey, publicKey } = newKeyPair("ed25519");
  writeFileSync(privateKeyPath, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  writeFileSync(publicKeyPath, publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644, flag: "wx" });
  return { privateKeyPath, publicKeyPath, fingerprint: commandKeyFingerprint(publicKey) };
}

/** How a command key is shown to people: as a host key (SHA256: and the base64 of the raw key's hash). */
export function commandKeyFingerprint(key: KeyObject): string {
  return keyFingerprint(rawPublicKey(key.type === "private" ? createPublicKey(key) : key));
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${what} ${path}: ${(e as Error).message}`);
  }
}

export function loadCommandPrivateKey(path: string): KeyObject {
  const k = createPrivateKey(readPem(path, "CMA command private key"));
  if (k.asymmetricKeyType !== "ed25519") throw new Error(`${path}: not an Ed25519 private key`);
  return k;
}

export function loadCommandPublicKey(path: string): KeyObject {
  const k = createPublicKey(readPem(path, "CMA command public key"));
  if (k.asymmetricKeyType !== "ed25519") throw new Error(`${path}: not an Ed25519 public key`);
  return k;
}

const PEM_PUBLIC_KEY = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g;

/**
 * The CMA's command public keys from a nanoprobe's file: one or more SPKI PEM blocks, concatenated
 * (the current key, and during a rotation the next); blank lines and '#' comment lines between them.
 * The same key twice counts once. Throws naming `source` and what is wrong.
 */
export function parseCommandPublicKeys(text: string, source: string): KeyObject[] {
  const keys: KeyObject[] = [];
  const seen = new Set<string>();
  for (const block of text.match(PEM_PUBLIC_KEY) ?? []) {
    let k: KeyObject;
    try {
      k = createPublicKey(block);
    } catch (e) {
      throw new Error(`${source}: public key ${keys.length + 1} does not parse (${(e as Error).message})`);
    }
    if (k.asymmetricKeyType !== "ed25519") throw new Error(`${source}: public key ${keys.length + 1} is ${k.asymmetricKeyType ?? "of unknown type"}, not Ed25519`);
    const fp = commandKeyFingerprint(k);
    if (seen.has(fp)) continue;
    seen.add(fp);
    keys.push(k);
  }
  const rest = text.replace(PEM_PUBLIC_KEY, "").split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  if (rest.length > 0) {
    const what = /PRIVATE KEY/.test(rest[0]) ? "a private key (a nanoprobe needs only the public key: cma-command.pub)" : `"${rest[0].slice(0, 40)}"`;
    throw new Error(`${source}: holds ${what}, not a PEM public key`);
  }
  if (keys.length === 0) throw new Error(`${source}: no PEM public key in it`);
  if (keys.length > MAX_COMMAND_PUBLIC_KEYS) throw new Error(`${source}: ${keys.length} keys, at most ${MAX_COMMAND_PUBLIC_KEYS} (the current one and the next)`);
  return keys;
}

/** The CMA's command public keys (current, and next during a rotation) from a nanoprobe's cmaPublicKeyFile. */
export function loadCommandPublicKeys(path: string): KeyObject[] {
  return parseCommandPublicKeys(readPem(path, "CMA command public key file"), `CMA command public key file ${path}`);
}

export type CommandDraft = Omit<Command, "id" | "issuedAtMs" | "expiresAtMs"> & Partial<Pick<Command, "id" | "issuedAtMs" | "expiresAtMs">>;

export function signCommand(privateKey: KeyObject, draft: CommandDraft, now = Date.now()): SignedCommand {
  const cmd: Command = { ...draft, id: draft.id ?? randomUUID(), issuedAtMs: draft.issuedAtMs ?? now, expiresAtMs: draft.expiresAtMs ?? now + DEFAULT_COMMAND_TTL_MS };
  const body = encodeCommand(cmd);
  return { body, signature: sign(null, body, privateKey) };
}

export type CommandRefusal = "malformed" | "badSignature" | "wrongTarget" | "expired" | "notYetValid" | "replayed" | "staleEpoch";

export class CommandRefused extends Error {
  constructor(
    readonly reason: CommandRefusal,
    detail: string,
  ) {
    super(`command refused (${reason}): ${detail}`);
    this.name = "CommandRefused";
  }
}

/**
 * Verifies signed commands for one host: signed by any of the CMA's public keys it holds (replaced
 * by setPublicKeys: a key taken out is refused from then on). Remembers executed command ids until they expire, so
 * memory is bounded by (commands per TTL); `maxRemembered` caps it against a flood of valid ones.
 */
export class CommandVerifier {
  private seen = new Map<string, number>(); // id -> expiresAtMs
  readonly refused: Record<CommandRefusal, number> = { malformed: 0, badSignature: 0, wrongTarget: 0, expired: 0, notYetValid: 0, replayed: 0, staleEpoch: 0 };
  private keys: readonly KeyObject[] = [];
  /** the newest leadership epoch of an accepted command (kept in memory: a restarted nanoprobe takes the first leader that commands it) */
  newestEpoch = 0;

  constructor(
    publicKeys: KeyObject | readonly KeyObject[],
    private readonly self: string,
    private readonly maxClockSkewMs = 30_000,
    private readonly maxRemembered = 100_000,
    /** commands addressed to every host ("*") that this host accepts (only harmless ones) */
    private readonly acceptBroadcast: (cmd: Command) => boolean = () => false,
  ) {
    this.setPublicKeys(Array.isArray(publicKeys) ? publicKeys : [publicKeys as KeyObject]);
  }

  get publicKeys(): readonly KeyObject[] {
    return this.keys;
  }

  /** Accept commands signed by these keys, and only these, from now on (a reload of cmaPublicKeyFile). */
  setPublicKeys(keys: readonly KeyObject[]): void {
    if (keys.length === 0) throw new RangeError("at least one CMA public key is needed");
    for (const k of keys) if (k.type !== "public" || k.asymmetricKeyType !== "ed25519") throw new RangeError("a CMA command key is an Ed25519 public key");
    this.keys = [...keys];
  }

  verify(sc: SignedCommand, now = Date.now()): Command & { action?: string } {
    try {
      return this.check(sc, now);
    } catch (e) {
      if (e instanceof CommandRefused) this.refused[e.reason]++;
      throw e;
    }
  }

  private check(sc: SignedCommand, now: number): Command & { action?: string } {
    if (!sc || !(sc.body instanceof Uint8Array) || !(sc.signature instanceof Uint8Array) || sc.signature.length !== 64) {
      throw new CommandRefused("malformed", "missing body or 64-byte signature");
    }
    let ok = false;
    // at most a few keys, the current one first in the file: the first usually answers
    for (const k of this.keys) {
      try {
        ok = verify(null, sc.body, k, sc.signature);
      } catch {
        ok = false;
      }
      if (ok) break;
    }
    if (!ok) throw new CommandRefused("badSignature", "not signed by the CMA command key");
    let cmd: Command & { action?: string };
    try {
      cmd = decodeCommand(sc.body);
    } catch (e) {
      throw new CommandRefused("malformed", e instanceof MessageError ? e.message : "undecodable");
    }
    if (!cmd.id) throw new CommandRefused("malformed", "no command id");
    if (cmd.target !== this.self && !(cmd.target === "*" && this.acceptBroadcast(cmd))) {
      throw new CommandRefused("wrongTarget", `for "${cmd.target}", this is "${this.self}"`);
    }
    if (now > cmd.expiresAtMs + this.maxClockSkewMs) throw new CommandRefused("expired", `expired at ${new Date(cmd.expiresAtMs).toISOString()}`);
    if (cmd.issuedAtMs > now + this.maxClockSkewMs) throw new CommandRefused("notYetValid", `issued in the future`);
    const epoch = cmd.epoch ?? 0;
    if (epoch < this.newestEpoch) throw new CommandRefused("staleEpoch", `from leadership epoch ${epoch}, older than ${this.newestEpoch}: a deposed CMA`);
    this.forgetExpired(now);
    if (this.seen.has(cmd.id)) throw new CommandRefused("replayed", `command ${cmd.id} already executed`);
    if (this.seen.size >= this.maxRemembered) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(cmd.id, cmd.expiresAtMs);
    this.newestEpoch = epoch;
    return cmd;
  }

  private forgetExpired(now: number): void {
    // insertion order is close to expiry order: stop at the first live one (a later-expiring
    // entry ahead of it only delays cleanup; the size cap still holds)
    for (const [id, exp] of this.seen) {
      if (now <= exp + this.maxClockSkewMs) break;
      this.seen.delete(id);
    }
  }
}

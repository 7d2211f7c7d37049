/**
 * Commands from the CMA are signed with its Ed25519 key; nanoprobes verify them with the public key.
 * The cluster key only proves "a member sent this"; the signature proves "the CMA ordered this", so a
 * compromised hypervisor cannot reassign rings or reboot its neighbours' guests.
 * A verified command must also name this host, be unexpired, and not have been seen before.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeCommand, encodeCommand, MessageError } from "../messages/codec.js";
import type { Command, SignedCommand } from "../messages/codec.js";

export const COMMAND_PRIVATE_KEY_FILE = "cma-command.key";
export const COMMAND_PUBLIC_KEY_FILE = "cma-command.pub";
/** How long a command stays valid by default: long enough for retransmits, short enough to bound replay memory. */
export const DEFAULT_COMMAND_TTL_MS = 60_000;

/** Write a new key pair into dir: private key (PKCS#8 PEM, mode 0600) and public key (SPKI PEM). */
export function generateCommandKeys(dir: string): { privateKeyPath: string; publicKeyPath: string } {
  mkdirSync(dir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const privateKeyPath = join(dir, COMMAND_PRIVATE_KEY_FILE);
  const publicKeyPath = join(dir, COMMAND_PUBLIC_KEY_FILE);
  writeFileSync(privateKeyPath, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  writeFileSync(publicKeyPath, publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644, flag: "wx" });
  return { privateKeyPath, publicKeyPath };
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

export type CommandDraft = Omit<Command, "id" | "issuedAtMs" | "expiresAtMs"> & Partial<Pick<Command, "id" | "issuedAtMs" | "expiresAtMs">>;

export function signCommand(privateKey: KeyObject, draft: CommandDraft, now = Date.now()): SignedCommand {
  const cmd: Command = { ...draft, id: draft.id ?? randomUUID(), issuedAtMs: draft.issuedAtMs ?? now, expiresAtMs: draft.expiresAtMs ?? now + DEFAULT_COMMAND_TTL_MS };
  const body = encodeCommand(cmd);
  return { body, signature: sign(null, body, privateKey) };
}

export type CommandRefusal = "malformed" | "badSignature" | "wrongTarget" | "expired" | "notYetValid" | "replayed";

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
 * Verifies signed commands for one host. Remembers executed command ids until they expire, so
 * memory is bounded by (commands per TTL); `maxRemembered` caps it against a flood of valid ones.
 */
export class CommandVerifier {
  private seen = new Map<string, number>(); // id -> expiresAtMs
  readonly refused: Record<CommandRefusal, number> = { malformed: 0, badSignature: 0, wrongTarget: 0, expired: 0, notYetValid: 0, replayed: 0 };

  constructor(
    private readonly publicKey: KeyObject,
    private readonly self: string,
    private readonly maxClockSkewMs = 30_000,
    private readonly maxRemembered = 100_000,
    /** commands addressed to every host ("*") that this host accepts (only harmless ones) */
    private readonly acceptBroadcast: (cmd: Command) => boolean = () => false,
  ) {}

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
    try {
      ok = verify(null, sc.body, this.publicKey, sc.signature);
    } catch {
      ok = false;
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
    this.forgetExpired(now);
    if (this.seen.has(cmd.id)) throw new CommandRefused("replayed", `command ${cmd.id} already executed`);
    if (this.seen.size >= this.maxRemembered) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(cmd.id, cmd.expiresAtMs);
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

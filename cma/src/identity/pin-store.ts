/**
 * The CMA's pins: host name → the identity key it was admitted with (and the exchange key that key
 * signed), whether that pin is in force (pinned), waits for an admin (pending) or was revoked, and
 * when and by whom. Kept in <dataDir>/host-keys.json, written atomically (temp file, fsync,
 * rename); a file that does not read back as pins stops the CMA at start with the reason: an
 * emptied pin store would let any impostor be admitted on first use, so it is never silently reset.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { writePrivateFileAtomically } from "./private-file.js";
import { join } from "node:path";
import { ConfigError, checkPublicHostKeys, keyFingerprint } from "@ringwatch/shared";
import type { PublicHostKeys } from "@ringwatch/shared";

export type PinState = "pinned" | "pending" | "revoked";
export const PIN_STATES: readonly PinState[] = ["pinned", "pending", "revoked"];

export interface HostPin {
  name: string;
  state: PinState;
  keys: PublicHostKeys;
  /** keyFingerprint(keys.identityPublic): how people compare keys */
  fingerprint: string;
  /** first announcement with this key (ms) */
  firstSeenAt: number;
  /** when it was pinned (ms); absent while pending */
  pinnedAt?: number;
  /** who pinned it: "first use" (open), "enrolled" (hostKeysFile), "rotation", or the admin who approved */
  pinnedBy?: string;
  revokedAt?: number;
  revokedBy?: string;
  /** where the announcement that created or last changed it came from ("address:port") */
  lastAddress?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const FILE = "host-keys.json";

function pinToJson(p: HostPin): Record<string, unknown> {
  return {
    ...p,
    keys: { identity: p.keys.identityPublic.toString("base64"), exchange: p.keys.exchangePublic.toString("base64"), exchangeSignature: p.keys.exchangeSignature.toString("base64") },
  };
}

function pinFromJson(x: unknown, where: string): HostPin {
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}`);
  };
  if (!x || typeof x !== "object" || Array.isArray(x)) fail("not an object");
  const o = x as Record<string, unknown>;
  if (typeof o.name !== "string" || !NAME_RE.test(o.name)) fail(`bad name ${JSON.stringify(o.name)}`);
  if (!PIN_STATES.includes(o.state as PinState)) fail(`bad state ${JSON.stringify(o.state)}`);
  const k = o.keys as Record<string, unknown> | undefined;
  const b64 = (v: unknown, what: string): Buffer => (typeof v === "string" && /^[A-Za-z0-9+/]+=*$/.test(v) ? Buffer.from(v, "base64") : fail(`${what} is not base64`));
  if (!k || typeof k !== "object") fail("no keys");
  let keys: PublicHostKeys;
  try {
    keys = checkPublicHostKeys({ identityPublic: b64(k!.identity, "keys.identity"), exchangePublic: b64(k!.exchange, "keys.exchange"), exchangeSignature: b64(k!.exchangeSignature, "keys.exchangeSignature") });
  } catch (e) {
    return fail((e as Error).message);
  }
  const fingerprint = keyFingerprint(keys.identityPublic);
  if (o.fingerprint !== fingerprint) fail(`fingerprint ${JSON.stringify(o.fingerprint)} is not the key's (${fingerprint})`);
  const time = (key: string, required: boolean): number | undefined => {
    const v = o[key];
    if (v === undefined && !required) return undefined;
    return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : fail(`${key} is not a time`);
  };
  const text = (key: string): string | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    return typeof v === "string" && v.length <= 256 ? v : fail(`${key} is not a short string`);
  };
  const p: HostPin = { name: o.name as string, state: o.state as PinState, keys, fingerprint, firstSeenAt: time("firstSeenAt", true)! };
  const pinnedAt = time("pinnedAt", false), revokedAt = time("revokedAt", false);
  const pinnedBy = text("pinnedBy"), revokedBy = text("revokedBy"), lastAddress = text("lastAddress");
  return { ...p, ...(pinnedAt !== undefined ? { pinnedAt } : {}), ...(pinnedBy !== undefined ? { pinnedBy } : {}), ...(revokedAt !== undefined ? { revokedAt } : {}),
    ...(revokedBy !== undefined ? { revokedBy } : {}), ...(lastAddress !== undefined ? { lastAddress } : {}) };
}

export class PinStore {
  private readonly pins = new Map<string, HostPin>();
  private readonly byState: Record<PinState, number> = { pinned: 0, pending: 0, revoked: 0 };
  /** undefined: in memory only (a CMA without dataDir) */
  readonly path: string | undefined;

  private constructor(path: string | undefined) {
    this.path = path;
  }

  /** The pins in dataDir ("" keeps them in memory); a file that does not read back as pins is a ConfigError. */
  static open(dataDir: string): PinStore {
    if (!dataDir) return new PinStore(undefined);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const store = new PinStore(join(dataDir, FILE));
    store.load();
    return store;
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.path!, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // first start
      throw new ConfigError(`host key pins ${this.path}: cannot read: ${(e as Error).message}`);
    }
    try {
      const doc = JSON.parse(text) as { version?: unknown; pins?: unknown };
      if (!doc || typeof doc !== "object" || doc.version !== 1 || !Array.isArray(doc.pins)) throw new Error("not a pin file (version 1 with a list of pins)");
      for (const [i, x] of (doc.pins as unknown[]).entries()) {
        const p = pinFromJson(x, `pins[${i}]`);
        if (this.pins.has(p.name)) throw new Error(`pins[${i}]: ${p.name} is pinned twice`);
        this.set(p);
      }
    } catch (e) {
      this.pins.clear();
      for (const s of PIN_STATES) this.byState[s] = 0;
      throw new ConfigError(`host key pins ${this.path} are damaged (${(e as Error).message}); the CMA does not start without its pins: restore the file from a backup, or move it aside to re-admit every host as new`);
    }
  }

  get(name: string): HostPin | undefined {
    return this.pins.get(name);
  }

  /** Every pin, by name. */
  all(): HostPin[] {
    return [...this.pins.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get size(): number {
    return this.pins.size;
  }

  /** How many pins are in this state. */
  count(state: PinState): number {
    return this.byState[state];
  }

  /** The public keys pinned for a host, only while its pin is in force (for its session keys). */
  keysOf(name: string): PublicHostKeys | undefined {
    const p = this.pins.get(name);
    return p?.state === "pinned" ? p.keys : undefined;
  }

  /** Set (or replace) a pin in memory; save() writes it. */
  set(p: HostPin): void {
    const before = this.pins.get(p.name);
    if (before) this.byState[before.state]--;
    this.pins.set(p.name, p);
    this.byState[p.state]++;
  }

  delete(name: string): boolean {
    const before = this.pins.get(name);
    if (!before) return false;
    this.byState[before.state]--;
    return this.pins.delete(name);
  }

  /** Write every pin: temp file, fsync, rename (a crash leaves the old file or the new one, never half of one). */
  save(): void {
    if (!this.path) return;
    writePrivateFileAtomically(this.path, JSON.stringify({ version: 1, pins: this.all().map(pinToJson) }));
  }
}

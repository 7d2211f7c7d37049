/**
 * Pair keys: what seals a frame for one peer and opens the frames a peer sealed for us.
 *
 * Each process holds an X25519 exchange key, vouched for by its identity key (host-keys.ts). For a
 * peer it trusts (the CMA learns a host's keys from its proven announcement; a nanoprobe learns its
 * neighbours' from the CMA's signed SetNeighbours, and the CMA's own from a key block signed by the
 * CMA's command key), it agrees a secret with X25519 and derives one key per direction and sender
 * session with HKDF-SHA256: the key is new on every process start, so the frame counter used as the
 * nonce never repeats under a key. A sealed frame is encrypted and authenticated with
 * AES-256-GCM under it: no third host, cluster key or not, can read, forge or reflect it.
 *
 * No state before proof: a frame that does not open leaves nothing behind. A key block (a sender's
 * exchange key, signed) is only taken into use once a frame carrying it opened and passed the
 * endpoint's freshness checks (accepted()).
 */
import { createHash, diffieHellman, hkdfSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { checkPublicHostKeys, publicKeyFromRaw, RAW_PUBLIC_KEY_BYTES } from "../identity/host-keys.js";
import type { HostKeys, PublicHostKeys } from "../identity/host-keys.js";
import { WITH_KEY_BYTES } from "../wire/frame.js";
import type { Frame, FrameSeal, SealedHeader, SessionId } from "../wire/frame.js";
import type { WireHostKeys } from "../messages/codec.js";

const INFO = "ringwatch frame v2";
/** a session as a map key, cheaply (this runs for every frame) */
const sessionKey = (s: SessionId): string => `${s.startMs}.${s.random}`;
/** direction keys remembered per (peer, sender session): enough for every peer's current and previous incarnation */
const MAX_CACHED_KEYS = 131_072;
/** verified key blocks remembered (a nanoprobe sees one: the CMA's; a CMA restarting sees a few) */
const MAX_PROBES = 64;

interface PeerEntry {
  /** identity keys this name may prove itself with (a host: its pin; the CMA: the command key, current and next) */
  identities: Buffer[];
  /** its exchange key, once known (verified against one of identities), and the identity key's signature over it */
  exchange: Buffer | undefined;
  exchangeSignature: Buffer | undefined;
  exchangeKey: KeyObject | undefined;
  /** keyTag(), computed once */
  tag?: string;
  /** the X25519 secret agreed with it (computed once per exchange key) */
  secret?: Buffer;
  /** its sessions that sealed a frame for us (they know our exchange key: no key block needed) */
  provenSessions: Set<string>;
  /** send-direction key (our session is fixed) */
  sendKey: { key: Buffer; keyId: number } | undefined;
}

export class PairKeys {
  private readonly peers = new Map<string, PeerEntry>();
  /** identity keys whose signed key block makes a sender known under the name it uses (a nanoprobe: the CMA's command keys) */
  private signers: Buffer[] = [];
  private readonly receiveKeys = new Map<string, Buffer>();
  /** a key block that opened the frame being handled: taken into use by accepted() */
  private candidate: { name: string; entry: PeerEntry; cacheKey: string; key: Buffer } | undefined;
  /**
   * Key blocks whose signature verified, by sender and block: its copies (retransmits sent before
   * we sealed a frame back) reuse the entry and its agreed secret instead of a new X25519 agreement
   * each. Only signed blocks from trusted identities get here; bounded.
   */
  private readonly probes = new Map<string, PeerEntry>();
  private counter = 0;
  private readonly withKey: Buffer;

  constructor(
    readonly cluster: string,
    readonly self: string,
    readonly keys: HostKeys,
  ) {
    this.withKey = Buffer.concat([keys.exchangePublic, keys.exchangeSignature]);
    if (this.withKey.length !== WITH_KEY_BYTES) throw new Error("bad own key block");
  }

  /**
   * Trust `name` with these public keys (replaces what was known of it); throws if the exchange key
   * is not signed by the identity key. The same keys again (the CMA re-trusts a host at each of its
   * announcements) are not checked again: a signature verified once is not verified twice.
   * `vouched`: the keys came signed by the CMA, which verified them (checkPublicHostKeys).
   */
  trust(name: string, k: PublicHostKeys, vouched = false): void {
    const old = this.peers.get(name);
    if (old?.exchange?.equals(k.exchangePublic) && old.identities[0]?.equals(k.identityPublic) && old.exchangeSignature?.equals(k.exchangeSignature)) return;
    const checked = checkPublicHostKeys(k, vouched);
    this.dropProbes(name);
    this.peers.set(name, newEntry(checked.identityPublic, checked.exchangePublic, checked.exchangeSignature));
  }

  /**
   * Senders whose key block is signed by one of these identity keys are trusted under their name (a
   * nanoprobe: the CMA's current and next command key). Replaces the set: a sender known through a
   * signer taken out is forgotten (its frames no longer open; it must show a key block signed by a
   * signer still trusted).
   */
  trustSigners(identityPublics: Buffer[]): void {
    const removed = this.signers.filter((old) => !identityPublics.some((k) => k.equals(old)));
    this.signers = identityPublics.map((k) => Buffer.from(k));
    this.probes.clear(); // a signer no longer trusted must not open frames through a block it signed
    if (removed.length === 0) return;
    for (const [name, e] of this.peers) {
      if (!removed.some((r) => r.equals(e.identities[0]))) continue;
      this.peers.delete(name);
      for (const k of this.receiveKeys.keys()) if (k.startsWith(`${name}|`)) this.receiveKeys.delete(k);
    }
  }

  /** The frame being handled (or the peer) is `name`'s, under an exchange key one of the trusted signers signed (a nanoprobe: the CMA's). */
  vouchedBySigner(name: string): boolean {
    const e = this.candidate?.name === name ? this.candidate.entry : this.peers.get(name);
    const id = e?.identities[0];
    return id !== undefined && this.signers.some((k) => k.equals(id));
  }

  forget(name: string): void {
    this.peers.delete(name);
    this.dropProbes(name);
  }

  /** Key blocks verified under what was known of `name`: no longer valid once that changes. */
  private dropProbes(name: string): void {
    for (const k of this.probes.keys()) if (k.startsWith(`${name}|`)) this.probes.delete(k);
  }

  /** We know this peer's exchange key: frames to it are sealed, and its own must be. */
  knows(name: string): boolean {
    return this.peers.get(name)?.exchange !== undefined;
  }

  publicKeysOf(name: string): PublicHostKeys | undefined {
    const e = this.peers.get(name);
    return e?.exchange && e.exchangeSignature ? { identityPublic: e.identities[0], exchangePublic: e.exchange, exchangeSignature: e.exchangeSignature } : undefined;
  }

  /** A short, stable tag of a peer's exchange key ("" when unknown): tells a rotated key from the one others hold, cheaply. */
  keyTag(name: string): string {
    const e = this.peers.get(name);
    if (!e?.exchange) return "";
    return (e.tag ??= e.exchange.toString("base64", 0, 6));
  }

  /** As publicKeysOf, in the shape the messages carry (a neighbour's keys in SetNeighbours). */
  wireKeysOf(name: string): WireHostKeys | undefined {
    const k = this.publicKeysOf(name);
    return k ? { identityKey: k.identityPublic, exchangeKey: k.exchangePublic, exchangeSignature: k.exchangeSignature } : undefined;
  }

  /** How to seal the next frame to `name` (undefined: its key is not known, send with the cluster key). */
  sealFor(name: string, mySession: SessionId, theirSession: SessionId): FrameSeal | undefined {
    const e = this.peers.get(name);
    if (!e?.exchange) return undefined;
    e.sendKey ??= this.derive(e, this.self, name, mySession, this.keys.exchangePublic, e.exchange);
    const proven = e.provenSessions.has(sessionKey(theirSession));
    return { keyId: e.sendKey.keyId, key: e.sendKey.key, counter: ++this.counter, withKey: proven ? undefined : this.withKey };
  }

  /** The FrameOpener: the key for a sealed frame from h.sender, or undefined (dropped, nothing kept). */
  readonly open = (h: SealedHeader): Buffer | undefined => {
    this.candidate = undefined;
    const cacheKey = `${h.sender}|${sessionKey(h.senderSession)}|${h.keyId}`;
    const cached = this.receiveKeys.get(cacheKey);
    if (cached) return cached;
    const e = this.peers.get(h.sender);
    if (e?.exchange) {
      const k = this.derive(e, h.sender, this.self, h.senderSession, e.exchange, this.keys.exchangePublic);
      if (k.keyId === h.keyId) {
        this.candidate = { name: h.sender, entry: e, cacheKey, key: k.key };
        return k.key;
      }
    }
    // a key block: a sender we know by identity (or a trusted signer) with an exchange key not seen yet
    if (!h.withKey) return undefined;
    const probeKey = `${h.sender}|${h.withKey.toString("base64")}`;
    const known = this.probes.get(probeKey);
    if (known) return this.probeWith(known, h, cacheKey);
    const exchange = h.withKey.subarray(0, RAW_PUBLIC_KEY_BYTES);
    const signature = h.withKey.subarray(RAW_PUBLIC_KEY_BYTES);
    for (const identity of [...(e?.identities ?? []), ...this.signers]) {
      try {
        checkPublicHostKeys({ identityPublic: identity, exchangePublic: exchange, exchangeSignature: signature });
      } catch {
        continue;
      }
      const probe = newEntry(identity, Buffer.from(exchange), Buffer.from(signature));
      if (this.probes.size >= MAX_PROBES) this.probes.delete(this.probes.keys().next().value as string);
      this.probes.set(probeKey, probe);
      return this.probeWith(probe, h, cacheKey);
    }
    return undefined;
  };

  /** The key a verified key block gives for this frame (undefined: the frame was not sealed with it). */
  private probeWith(probe: PeerEntry, h: SealedHeader, cacheKey: string): Buffer | undefined {
    const k = this.derive(probe, h.sender, this.self, h.senderSession, probe.exchange!, this.keys.exchangePublic);
    if (k.keyId !== h.keyId) return undefined;
    this.candidate = { name: h.sender, entry: probe, cacheKey, key: k.key };
    return k.key;
  }

  /** The endpoint accepted a sealed frame (opened, fresh, from the address its session speaks from): remember what it proved. */
  accepted(f: Frame): void {
    const c = this.candidate;
    this.candidate = undefined;
    if (c && c.name === f.sender) {
      // a key block's entry (its secret already agreed) replaces what was known; a known entry stays
      if (this.peers.get(c.name) !== c.entry) this.peers.set(c.name, c.entry);
      if (this.receiveKeys.size >= MAX_CACHED_KEYS) this.receiveKeys.delete(this.receiveKeys.keys().next().value as string);
      this.receiveKeys.set(c.cacheKey, c.key);
    }
    const e = this.peers.get(f.sender);
    if (e) {
      const s = sessionKey(f.senderSession);
      if (!e.provenSessions.has(s)) {
        if (e.provenSessions.size >= 4) e.provenSessions.delete(e.provenSessions.values().next().value as string);
        e.provenSessions.add(s);
      }
    }
  }

  private derive(e: PeerEntry, sender: string, receiver: string, senderSession: SessionId, senderExchange: Buffer, receiverExchange: Buffer): { key: Buffer; keyId: number } {
    const secret = (e.secret ??= diffieHellman({ privateKey: this.keys.exchange, publicKey: e.exchangeKey! }));
    const salt = Buffer.alloc(10);
    salt.writeUIntBE(senderSession.startMs, 0, 6);
    salt.writeUInt32BE(senderSession.random >>> 0, 6);
    const info = Buffer.concat([Buffer.from(`${INFO}\0${this.cluster}\0${sender}\0${receiver}\0`, "utf8"), senderExchange, receiverExchange]);
    const key = Buffer.from(hkdfSync("sha256", secret, salt, info, 32));
    const keyId = createHash("sha256").update(senderExchange).update(receiverExchange).digest().readUInt32BE(0);
    return { key, keyId };
  }
}

function newEntry(identity: Buffer, exchange: Buffer, exchangeSignature: Buffer): PeerEntry {
  return { identities: [identity], exchange, exchangeSignature, exchangeKey: publicKeyFromRaw(exchange, "x25519"), provenSessions: new Set(), sendKey: undefined };
}

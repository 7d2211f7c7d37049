/**
 * A UDP endpoint: one socket, one identity, one session per process start, and a Link of reliable
 * state per remote address. Every datagram that arrives is either accepted or counted under exactly
 * one drop reason; nothing thrown while handling input escapes the socket handler.
 */
import { createSocket } from "node:dgram";
import type { Socket, RemoteInfo } from "node:dgram";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { Reassembler } from "../wire/fragment.js";
import { COOKIE_BYTES, FrameError, FrameType, decodeFrame, encodeFrame, sessionEquals, sessionToString, MAX_IDENTITY_BYTES } from "../wire/frame.js";
import type { Frame, SessionId } from "../wire/frame.js";
import { CookieJar } from "./challenge.js";
import { RetransmitBudget } from "./retransmit-budget.js";
import type { Keyring } from "../wire/keyring.js";
import { silentLogger } from "../log.js";
import { newCounters, totalDrops } from "./counters.js";
import type { EndpointCounters } from "./counters.js";
import { Link } from "./link.js";
import type { PairKeys } from "./pair-keys.js";
import type { InboundMessage, LinkContext, PeerAddress, PeerInfo } from "./link.js";
import { resolveChannelOptions } from "./options.js";
import type { ChannelOptions } from "./options.js";

export interface EndpointOptions {
  /** who we are on the wire (host name); 1..64 bytes UTF-8 */
  identity: string;
  keyring: Keyring;
  /** default 0.0.0.0 */
  bindAddress?: string;
  /** default 0 (an ephemeral port) */
  port?: number;
  log?: Logger;
  channel?: Partial<ChannelOptions>;
  /** a fixed session, for tests that simulate a restart with a chosen incarnation */
  session?: SessionId;
  /** share the port with other sockets (a CMA on 0.0.0.0:1984 beside nanoprobes on 127.x:1984) */
  reuseAddr?: boolean;
  multicast?: MulticastOptions;
  impairment?: EndpointImpairment;
  /** this process's pair keys: frames to peers whose keys it knows are sealed, and theirs must be (pair-keys.ts) */
  pairKeys?: PairKeys;
  /** a sender session not yet heard from an address must echo a challenge's cookie first (challenge.ts) */
  challengeNewPeers?: boolean;
  /** before anything is kept for a sender session new at an address: is this peer expected there? (a nanoprobe: its CMA, its neighbours) */
  acceptPeer?: PeerFilter;
}

/** sealed: the frame opened under the pair keys of `sender` */
export type PeerFilter = (sender: string, from: PeerAddress, sealed: boolean) => boolean;

export interface MulticastOptions {
  /** e.g. 224.0.2.5 */
  group: string;
  /** local address of the interface to send and listen on (IP_MULTICAST_IF / IP_ADD_MEMBERSHIP) */
  interfaceAddress?: string;
  /** hops; 1 keeps announcements inside the segment */
  ttl?: number;
  /** receive datagrams sent to the group (the CMA does; nanoprobes only send to it) */
  join?: boolean;
}

/** Simulated network trouble, for the ring simulator: drop or delay what goes out, drop what comes in. */
export interface EndpointImpairment {
  /** true: drop; a number: delay by that many ms; false/undefined: send now */
  outgoing?(to: PeerAddress): boolean | number | undefined;
  /** true: drop before it is even counted (it never "arrived") */
  incoming?(from: PeerAddress): boolean;
}

export interface EndpointEvents {
  message: [InboundMessage];
  giveUp: [{ peer: PeerInfo; pendingMessages: number }];
  peerRestart: [{ peer: PeerInfo; previous: SessionId }];
  /** a frame of a sender session not proven at its address was dropped and challenged (challenge.ts) */
  challenged: [{ sender: string; from: PeerAddress }];
  /** a sender session echoed a valid cookie: it is proven at that address from now on */
  proven: [{ sender: string; from: PeerAddress }];
}

export function newSession(): SessionId {
  return { startMs: Date.now(), random: randomBytes(4).readUInt32BE(0) };
}

export class Endpoint extends EventEmitter<EndpointEvents> {
  readonly identity: string;
  readonly session: SessionId;
  readonly counters: EndpointCounters = newCounters();
  readonly opts: ChannelOptions;
  /** the multicast group this socket joined; undefined when it joined none */
  readonly joinedGroup: string | undefined;
  private readonly links = new Map<string, Link>();
  /** (identity, session) -> the address it speaks from. Keyed by session, not by identity alone:
   * otherwise a second session claiming a name (another member holding the cluster key) could take
   * that name's traffic over. */
  private readonly speakers = new Map<string, string>();
  private readonly ctx: LinkContext;
  private datagramSeq = 0;
  private closed = false;
  impairment: EndpointImpairment | undefined;
  /** set: new sender sessions are challenged (challenge.ts) */
  private readonly cookies: CookieJar | undefined;
  acceptPeer: PeerFilter | undefined;
  /** the last datagram sent to a multicast group (a join): sent again, to whoever answers it with a challenge */
  private lastGroupDatagram: { payload: Buffer; unsealed: boolean; at: number } | undefined;

  private constructor(
    readonly socket: Socket,
    readonly keyring: Keyring,
    opts: EndpointOptions,
    readonly log: Logger,
  ) {
    super();
    const idBytes = Buffer.byteLength(opts.identity ?? "");
    if (idBytes < 1 || idBytes > MAX_IDENTITY_BYTES) throw new RangeError(`identity must be 1..${MAX_IDENTITY_BYTES} bytes of UTF-8`);
    this.identity = opts.identity;
    this.session = opts.session ?? newSession();
    this.opts = resolveChannelOptions(opts.channel);
    this.impairment = opts.impairment;
    this.joinedGroup = opts.multicast?.join ? opts.multicast.group : undefined;
    this.cookies = opts.challengeNewPeers ? new CookieJar(this.opts.challengesPerSecond) : undefined;
    this.acceptPeer = opts.acceptPeer;
    const self = this;
    this.ctx = {
      identity: this.identity,
      session: this.session,
      keyring,
      pairKeys: opts.pairKeys,
      opts: this.opts,
      counters: this.counters,
      log,
      reassembler: new Reassembler({
        maxMessageBytes: this.opts.maxMessageBytes,
        maxPartialMessages: this.opts.maxPartialDatagrams,
        maxPartialBytes: this.opts.maxPartialDatagramBytes,
        timeoutMs: this.opts.partialDatagramTimeoutMs,
      }),
      retransmitBudget: new RetransmitBudget(this.opts.retransmitsPerSecond),
      rxBufferedBytes: 0,
      transmit: (buf, to) => this.transmit(buf, to),
      deliver: (m) => {
        try {
          self.emit("message", m);
        } catch (e) {
          self.counters.handlerErrors++;
          log.error({ err: e, peer: `${m.from.address}:${m.from.port}` }, "message handler threw");
        }
      },
      nextDatagramSeq: (n) => {
        const first = self.datagramSeq + 1;
        self.datagramSeq += n;
        return first;
      },
      onGiveUp: (link, n) => self.emit("giveUp", { peer: link.peer, pendingMessages: n }),
      onPeerRestart: (link, previous) => self.emit("peerRestart", { peer: link.peer, previous }),
    };
    socket.on("message", (buf, rinfo) => this.onDatagram(buf, rinfo));
    socket.on("error", (err) => {
      this.counters.sendErrors++;
      log.warn({ err }, "socket error");
    });
  }

  /** Bind a UDP socket and start receiving. */
  static async open(opts: EndpointOptions): Promise<Endpoint> {
    const channel = resolveChannelOptions(opts.channel);
    const socket = createSocket({ type: "udp4", reuseAddr: opts.reuseAddr ?? false, recvBufferSize: channel.socketBufferBytes, sendBufferSize: channel.socketBufferBytes });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(opts.port ?? 0, opts.bindAddress ?? "0.0.0.0", () => {
        socket.off("error", reject);
        resolve();
      });
    });
    const mc = opts.multicast;
    if (mc) {
      try {
        if (mc.interfaceAddress) socket.setMulticastInterface(mc.interfaceAddress);
        socket.setMulticastTTL(mc.ttl ?? 1);
        socket.setMulticastLoopback(true);
        if (mc.join) socket.addMembership(mc.group, mc.interfaceAddress);
      } catch (e) {
        socket.close();
        throw new Error(`multicast ${mc.group} on ${mc.interfaceAddress ?? "default interface"}: ${(e as Error).message}`);
      }
    }
    const log = (opts.log ?? silentLogger()).child({ component: "endpoint" });
    const ep = new Endpoint(socket, opts.keyring, opts, log);
    log.debug({ identity: ep.identity, session: sessionToString(ep.session), address: ep.address() }, "endpoint open");
    return ep;
  }

  address(): PeerAddress {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  /** Reliable, in-order, exactly-once. Resolves when acknowledged; waits while the peer's queue is full. */
  send(to: PeerAddress, payload: Buffer): Promise<void> {
    return this.link(to).send(payload);
  }

  /** As send, but undefined (nothing queued) when the peer's queue is full. */
  trySend(to: PeerAddress, payload: Buffer): Promise<void> | undefined {
    return this.link(to).trySend(payload);
  }

  /** Expect `name` at this address (frames to it are sealed for that name once its keys are known), before it has spoken. */
  expect(to: PeerAddress, name: string): void {
    this.link(to).expectedId = name;
  }

  get pairKeys(): PairKeys | undefined {
    return this.ctx.pairKeys;
  }

  /**
   * Fire-and-forget (heartbeats): authenticated and replay-protected, never retransmitted. Sealed
   * when the peer's keys are known, unless `unsealed` (an announcement: a restarted CMA must be able
   * to read it, and its own signature proves the sender).
   */
  sendDatagram(to: PeerAddress, payload: Buffer, opts?: { unsealed?: boolean }): void {
    if (isMulticast(to.address)) this.lastGroupDatagram = { payload, unsealed: opts?.unsealed === true, at: performance.now() };
    this.link(to).sendDatagram(payload, opts?.unsealed === true);
  }

  /** State of the link to a peer, if any (for tests, stats and the web UI). */
  linkStats(to: PeerAddress): ReturnType<Link["stats"]> | undefined {
    return this.links.get(`${to.address}:${to.port}`)?.stats();
  }

  get receiveBufferedBytes(): number {
    return this.ctx.rxBufferedBytes;
  }

  get partialDatagramBytes(): number {
    return this.ctx.reassembler.partialBytes;
  }

  /** Forget a peer's state (e.g. it left the cluster); pending sends to it are rejected. */
  forget(to: PeerAddress): void {
    const key = `${to.address}:${to.port}`;
    const l = this.links.get(key);
    if (l) {
      l.close();
      this.links.delete(key);
      this.ctx.reassembler.dropPrefix(`${key}|`);
    }
  }

  totalDrops(): number {
    return totalDrops(this.counters);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.links.values()) l.close();
    this.links.clear();
    this.ctx.retransmitBudget.stop();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private link(to: PeerAddress): Link {
    if (this.closed) throw new Error("endpoint closed");
    const key = `${to.address}:${to.port}`;
    let l = this.links.get(key);
    if (!l) {
      if (this.links.size >= this.opts.maxPeers) this.evictOne();
      l = new Link(this.ctx, { address: to.address, port: to.port });
      this.links.set(key, l);
    }
    return l;
  }

  /** Make room for a new peer: the least recently active idle one goes (counted). */
  private evictOne(): void {
    let victim: Link | undefined;
    for (const l of this.links.values()) {
      if (l.idle && (!victim || l.lastActive < victim.lastActive)) victim = l;
    }
    victim ??= [...this.links.values()].reduce((a, b) => (a.lastActive <= b.lastActive ? a : b));
    this.forget(victim.remote);
    this.counters.peersEvicted++;
  }

  private transmit(buf: Buffer, to: PeerAddress): void {
    if (this.closed) return;
    const im = this.impairment?.outgoing?.(to);
    if (im === true) return;
    if (typeof im === "number" && im > 0) {
      setTimeout(() => {
        if (!this.closed) this.socket.send(buf, to.port, to.address, () => {});
      }, im).unref?.();
      return;
    }
    this.socket.send(buf, to.port, to.address, (err) => {
      if (err) {
        this.counters.sendErrors++;
        this.log.debug({ err: err.message, to }, "send failed");
      }
    });
  }

  /** One CHALLENGE to the address a new sender session spoke from (bounded in rate; nothing kept). */
  private challenge(f: Frame, rinfo: RemoteInfo): void {
    if (this.listenerCount("challenged") > 0) this.emit("challenged", { sender: f.sender, from: { address: rinfo.address, port: rinfo.port } });
    if (!this.cookies!.takeToken()) {
      this.counters.challengesNotSent++;
      return;
    }
    const cookie = this.cookies!.cookieFor(rinfo.address, rinfo.port, f.sender, f.senderSession);
    const buf = encodeFrame(
      { type: FrameType.CHALLENGE, flags: 0, seq: 1, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: cookie, sender: this.identity, senderSession: this.session, receiverSession: f.senderSession, timestampMs: Date.now() },
      this.keyring,
    );
    this.counters.challengesSent++;
    this.transmit(buf, { address: rinfo.address, port: rinfo.port });
  }

  /**
   * A challenge to this session: answered towards an address we already send to (the link sends
   * again, with the cookie, what was dropped), or, while joining through a multicast group, by the
   * last datagram sent to the group, to whoever challenged it (the CMA, from its own address).
   * Anything else is ignored: a challenge never makes us send to an address of the challenger's choosing.
   */
  private onChallenge(f: Frame, rinfo: RemoteInfo): void {
    if (!sessionEquals(f.receiverSession, this.session) || f.payload.length !== COOKIE_BYTES) {
      this.counters.unsolicitedChallenge++;
      return;
    }
    const to = { address: rinfo.address, port: rinfo.port };
    const link = this.links.get(`${to.address}:${to.port}`);
    const g = this.lastGroupDatagram;
    if (link) link.answerChallenge(f.payload);
    else if (g && performance.now() - g.at < GROUP_ANSWER_WITHIN_MS) {
      this.lastGroupDatagram = undefined; // once
      const l = this.link(to);
      l.cookie = f.payload;
      l.sendDatagram(g.payload, g.unsealed);
    } else {
      this.counters.unsolicitedChallenge++;
      return;
    }
    this.counters.framesAccepted++;
    this.counters.challengesAnswered++;
  }

  private onDatagram(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.impairment?.incoming?.({ address: rinfo.address, port: rinfo.port })) return;
    this.counters.datagramsReceived++;
    try {
      const pairKeys = this.ctx.pairKeys;
      const frame = decodeFrame(buf, this.keyring, pairKeys?.open);
      if (Math.abs(Date.now() - frame.timestampMs) > this.opts.maxClockSkewMs) {
        this.counters.stale++;
        return;
      }
      if (frame.type === FrameType.CHALLENGE) return this.onChallenge(frame, rinfo);
      // a peer whose keys we know seals its stream: a cluster-key frame of it is someone else's
      // (its announcements and other datagrams go up, marked unsealed, for the application to judge)
      if (!frame.sealed && frame.type !== FrameType.DATAGRAM && pairKeys?.knows(frame.sender)) {
        this.counters.unsealed++;
        return;
      }
      const key = `${rinfo.address}:${rinfo.port}`;
      // a session speaks from one address: its frames from any other address are captured copies
      const speaker = `${frame.sender}|${sessionToString(frame.senderSession)}`;
      const from = this.speakers.get(speaker);
      if (from !== undefined && from !== key) {
        this.counters.replay++;
        return;
      }
      if (from === undefined) {
        // no state before proof: an unexpected peer is dropped; a new session must show it receives at this address
        if (this.acceptPeer && !this.acceptPeer(frame.sender, { address: rinfo.address, port: rinfo.port }, frame.sealed === true)) {
          this.counters.unexpectedPeer++;
          return;
        }
        if (this.cookies && !(frame.cookie && this.cookies.verify(frame.cookie, rinfo.address, rinfo.port, frame.sender, frame.senderSession))) {
          this.counters.challenged++;
          this.challenge(frame, rinfo);
          return;
        }
        if (this.speakers.size >= 2 * this.opts.maxPeers) this.speakers.delete(this.speakers.keys().next().value as string);
        this.speakers.set(speaker, key);
        if (this.cookies && this.listenerCount("proven") > 0) this.emit("proven", { sender: frame.sender, from: { address: rinfo.address, port: rinfo.port } });
      }
      if (frame.sealed) pairKeys!.accepted(frame);
      const link = this.link({ address: rinfo.address, port: rinfo.port });
      const drop = link.receive(frame);
      if (drop) this.counters[drop]++;
      else {
        this.counters.framesAccepted++;
        // the peer speaks to this session of ours: it has taken our cookie, no need to echo it further
        if (link.cookie && sessionEquals(frame.receiverSession, this.session)) link.cookie = undefined;
      }
    } catch (e) {
      if (e instanceof FrameError) {
        this.counters[e.reason]++;
        if (this.log.isLevelEnabled("trace")) this.log.trace({ from: `${rinfo.address}:${rinfo.port}`, reason: e.reason, err: e.message }, "datagram dropped");
      } else {
        this.counters.internalError++;
        this.log.error({ err: e, from: `${rinfo.address}:${rinfo.port}` }, "internal error handling datagram");
      }
    }
  }
}

/** a join datagram sent to a group is sent again to a challenger only this soon after */
const GROUP_ANSWER_WITHIN_MS = 2000;

function isMulticast(address: string): boolean {
  const first = Number(address.split(".", 1)[0]);
  return first >= 224 && first <= 239;
}

/**
 * Reliable, in-order, exactly-once delivery to and from one remote address (one peer).
 *
 * Send side: messages are compressed when that pays, cut into frames with consecutive sequence
 * numbers, sent within a window of `windowFrames`, and retransmitted on RTO (estimated from RTT,
 * exponential backoff per frame) or early when selective acks show a hole (fast retransmit).
 *
 * Stream sync: before DATA flows the sender sends RESET(seq = first unacked) and waits for an ack
 * from the receiver's current incarnation. DATA is only accepted when it names the receiver's
 * session, so frames captured before either side restarted can never be delivered again. RESET only
 * moves the receiver's stream forward, so replaying an old one does nothing. The same handshake
 * resumes a stream after a give-up or after the receiver lost its state (it answers NEED_RESET).
 *
 * Receive side: frames are buffered up to `receiveWindowFrames` ahead of the next expected one,
 * delivered in order, duplicates dropped and re-acked; acks are cumulative plus up to 8 SACK blocks,
 * piggybacked on DATA when there is any, else sent after `ackDelayMs` or at once after a hole.
 */
import type { Logger } from "pino";
import { decompress, maybeCompress } from "../wire/compress.js";
import { splitPayload } from "../wire/fragment.js";
import type { Reassembler } from "../wire/fragment.js";
import {
  Flag,
  FrameType,
  MAX_SACK_BLOCKS,
  NO_SESSION,
  compareSessions,
  encodeFrame,
  payloadCapacity,
  sessionEquals,
  sessionIsNone,
  sessionToString,
} from "../wire/frame.js";
import type { Frame, FrameFields, SackBlock, SessionId } from "../wire/frame.js";
import type { Keyring } from "../wire/keyring.js";
import type { EndpointCounters } from "./counters.js";
import type { PairKeys } from "./pair-keys.js";
import type { ChannelOptions } from "./options.js";
import { ReplayWindow } from "./replay-window.js";
import type { BudgetWaiter, RetransmitBudget } from "./retransmit-budget.js";
import { RttEstimator } from "./rtt-estimator.js";

export interface PeerAddress {
  address: string;
  port: number;
}

export interface PeerInfo extends PeerAddress {
  /** identity the peer claims in its (authenticated) frames */
  id: string;
  session: SessionId;
}

export interface InboundMessage {
  payload: Buffer;
  from: PeerInfo;
  /** false for the fire-and-forget path */
  reliable: boolean;
  /** every frame of it was sealed under the sender's pair key (the sender is who it says); false: only the cluster key vouches for it */
  sealed: boolean;
}

/** The peer stopped acknowledging for giveUpAfterMs; the message may or may not have arrived. */
export class GiveUpError extends Error {
  constructor(peer: string) {
    super(`peer ${peer} did not acknowledge in time`);
    this.name = "GiveUpError";
  }
}
/** The peer restarted before acknowledging; the old incarnation may or may not have received it. */
export class PeerRestartedError extends Error {
  constructor(peer: string) {
    super(`peer ${peer} restarted before acknowledging`);
    this.name = "PeerRestartedError";
  }
}
export class ChannelClosedError extends Error {
  constructor() {
    super("endpoint closed");
    this.name = "ChannelClosedError";
  }
}

/** What a link needs from its endpoint. */
export interface LinkContext {
  readonly identity: string;
  readonly session: SessionId;
  readonly keyring: Keyring;
  /** seals frames for peers whose keys are known (undefined: this endpoint has no pair keys) */
  readonly pairKeys: PairKeys | undefined;
  readonly opts: ChannelOptions;
  readonly counters: EndpointCounters;
  readonly log: Logger;
  readonly reassembler: Reassembler;
  /** paces retransmissions on timeout over all links (retransmit-budget.ts) */
  readonly retransmitBudget: RetransmitBudget;
  /** receive-buffer bytes held by all links together */
  rxBufferedBytes: number;
  transmit(buf: Buffer, to: PeerAddress): void;
  deliver(msg: InboundMessage): void;
  nextDatagramSeq(count: number): number;
  onGiveUp(link: Link, pendingMessages: number): void;
  onPeerRestart(link: Link, previous: SessionId): void;
}

interface OutMessage {
  framesLeft: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface OutFrame {
  seq: number;
  flags: number;
  fragIndex: number;
  fragCount: number;
  payload: Buffer;
  msg: OutMessage;
  sentAt: number; // performance.now() of the last transmission
  retries: number;
  sacked: boolean;
}

interface Partial {
  count: number;
  chunks: Buffer[];
  bytes: number;
  compressed: boolean;
  /** every fragment so far was sealed */
  sealed: boolean;
}

const now = (): number => performance.now();
/** a link answers challenges at most this often (a flood of them sends nothing more) */
const CHALLENGE_ANSWER_MS = 200;
/** the last datagram is sent again on a challenge only if it is this recent (an announcement, a heartbeat) */
const RESEND_DATAGRAM_WITHIN_MS = 2000;

export class Link implements BudgetWaiter {
  readonly key: string;
  remoteId = "";
  /** who we expect at this address before it has spoken (a neighbour, the CMA): frames to it are sealed for that name */
  expectedId = "";
  remoteSession: SessionId = NO_SESSION;
  lastActive = Date.now();
  /** the peer's challenge cookie (challenge.ts): echoed on our frames until the peer shows it took one */
  cookie: Buffer | undefined;
  /** the last datagram sent, sent again (once) if the peer challenges it */
  private lastDatagram: { payload: Buffer; unsealed: boolean; at: number } | undefined;
  private lastChallengeAt = -Infinity;

  // ---- send side
  private synced = false;
  private resetSeq = 1;
  private resetSentAt = -Infinity;
  private resetRetries = 0;
  private nextSeq = 1;
  private sndUna = 1;
  private inflight: OutFrame[] = []; // seqs sndUna.., in order; sacked ones stay until cumulatively acked
  private queue: OutFrame[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private waiters: { payload: Buffer; resolve: (p: Promise<void>) => void; reject: (e: Error) => void }[] = [];
  private waking = false;
  private lastProgressAt = now();
  /** consecutive RTO expiries without ack progress: the timeout doubles with each (reset by progress) */
  private backoff = 0;
  private retransmitTimer: NodeJS.Timeout | undefined;
  /** a retransmit is due and waits for the endpoint's budget, which calls retransmitGranted */
  private awaitingBudget = false;
  readonly rtt: RttEstimator;

  // ---- receive side
  private rcvNext = 0; // 0: no stream state for the peer (it must RESET first)
  private ooo = new Map<number, Frame>();
  private oooBytes = 0;
  private partial: Partial | undefined;
  private ackOwed = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private lastControlReplyAt = -Infinity;
  private datagramWindow: ReplayWindow | undefined;
  private closed = false;

  constructor(
    private readonly ctx: LinkContext,
    readonly remote: PeerAddress,
  ) {
    this.key = `${remote.address}:${remote.port}`;
    this.rtt = new RttEstimator(ctx.opts.minRtoMs, ctx.opts.maxRtoMs, ctx.opts.initialRtoMs);
  }

  get peer(): PeerInfo {
    return { ...this.remote, id: this.remoteId, session: this.remoteSession };
  }

  /** Nothing in flight or queued and no receive state worth keeping: can be evicted. */
  get idle(): boolean {
    return this.inflight.length === 0 && this.queue.length === this.queueHead && this.ooo.size === 0 && !this.partial;
  }

  /** Would a message of this size be accepted right now without waiting? */
  hasRoomFor(bytes: number): boolean {
    return this.waiters.length === 0 && (this.queue.length === this.queueHead || this.queuedBytes + bytes <= this.ctx.opts.maxQueuedBytes);
  }

  stats(): { inflight: number; queued: number; queuedBytes: number; rtoMs: number; srttMs: number; synced: boolean; waiting: number } {
    return {
      inflight: this.inflight.length,
      queued: this.queue.length - this.queueHead,
      queuedBytes: this.queuedBytes,
      rtoMs: this.rtt.rtoMs,
      srttMs: this.rtt.srttMs,
      synced: this.synced,
      waiting: this.waiters.length,
    };
  }

  // ================================================================== sending

  /**
   * Queue a message; resolves once the peer acknowledged every frame of it. While the queue is full
   * the message waits (back-pressure) and is queued in call order when room frees up. The returned
   * promise may be ignored: a rejection then goes unobserved instead of crashing the process.
   */
  send(payload: Buffer): Promise<void> {
    let p: Promise<void>;
    if (this.closed) p = Promise.reject(new ChannelClosedError());
    else if (payload.length > this.ctx.opts.maxMessageBytes) {
      p = Promise.reject(new RangeError(`message of ${payload.length} bytes exceeds maxMessageBytes ${this.ctx.opts.maxMessageBytes}`));
    } else if (!this.hasRoomFor(payload.length)) {
      p = new Promise<void>((resolve, reject) => this.waiters.push({ payload, resolve, reject }));
    } else p = this.enqueue(payload);
    p.catch(noop);
    return p;
  }

  /** Like send, but returns undefined instead of waiting when the queue is full. */
  trySend(payload: Buffer): Promise<void> | undefined {
    return this.hasRoomFor(payload.length) ? this.send(payload) : undefined;
  }

  private enqueue(payload: Buffer): Promise<void> {
    const { data, compressed } = maybeCompress(payload, this.ctx.opts.compressThreshold);
    // room for a full SACK section in every DATA frame, so a piggybacked ack always fits
    const oneFrame = payloadCapacity(this.ctx.identity, FrameType.DATA, MAX_SACK_BLOCKS, false);
    const chunks = data.length <= oneFrame ? [data] : splitPayload(data, payloadCapacity(this.ctx.identity, FrameType.DATA, MAX_SACK_BLOCKS, true));
    this.ctx.counters.messagesSent++;
    return new Promise<void>((resolve, reject) => {
      const msg: OutMessage = { framesLeft: chunks.length, resolve, reject };
      const fragmented = chunks.length > 1;
      const flags = (compressed ? Flag.COMPRESSED : 0) | (fragmented ? Flag.FRAGMENT : 0);
      if (this.inflight.length === 0 && this.queue.length === this.queueHead) this.lastProgressAt = now();
      chunks.forEach((payload, i) => {
        this.queue.push({ seq: this.nextSeq++, flags, fragIndex: i, fragCount: chunks.length, payload, msg, sentAt: 0, retries: 0, sacked: false });
        this.queuedBytes += payload.length;
      });
      this.pump();
    });
  }

  /** Move queued frames into flight while the window allows. */
  private pump(): void {
    if (this.closed) return;
    if (!this.synced) {
      if (this.inflight.length > 0 || this.queue.length > this.queueHead) this.sendReset(false);
      return;
    }
    const limit = this.sndUna + this.ctx.opts.windowFrames;
    while (this.queueHead < this.queue.length && this.queue[this.queueHead].seq < limit) {
      const f = this.queue[this.queueHead++];
      this.queuedBytes -= f.payload.length;
      this.inflight.push(f);
      this.transmitData(f);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    this.wakeWaiters();
    this.armRetransmit();
  }

  /** Queue waiting messages, oldest first, while they fit (enqueue → pump re-enters: guarded). */
  private wakeWaiters(): void {
    if (this.waking) return;
    this.waking = true;
    try {
      while (this.waiters.length > 0) {
        const w = this.waiters[0];
        if (this.closed) w.reject(new ChannelClosedError());
        else if (this.queue.length === this.queueHead || this.queuedBytes + w.payload.length <= this.ctx.opts.maxQueuedBytes) {
          w.resolve(this.enqueue(w.payload));
        } else break;
        this.waiters.shift();
      }
    } finally {
      this.waking = false;
    }
  }

  private transmitData(f: OutFrame): void {
    f.sentAt = now();
    const recv = this.receiveAckFields();
    this.send_({
      type: FrameType.DATA,
      flags: f.flags | recv.flags,
      seq: f.seq,
      ack: recv.ack,
      sack: recv.sack,
      fragIndex: f.fragIndex,
      fragCount: f.fragCount,
      payload: f.payload,
    });
    this.ackSent();
  }

  private sendReset(force: boolean): void {
    const t = now();
    if (!force && t - this.resetSentAt < this.rtt.backedOff(this.resetRetries)) {
      this.armRetransmit();
      return;
    }
    if (this.resetSentAt !== -Infinity) this.resetRetries++;
    this.resetSentAt = t;
    if (this.retransmitTimer) clearTimeout(this.retransmitTimer);
    this.retransmitTimer = undefined;
    this.ctx.log.debug({ peer: this.key, seq: this.resetSeq, retries: this.resetRetries }, "stream sync: RESET sent");
    this.send_({ type: FrameType.RESET, flags: 0, seq: this.resetSeq, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: EMPTY });
    this.armRetransmit();
  }

  private send_(f: Omit<FrameFields, "sender" | "senderSession" | "receiverSession" | "timestampMs">, unsealed = false): void {
    // explicit fields, not a spread: this runs once per frame
    const fields: FrameFields = {
      type: f.type, flags: f.flags, seq: f.seq, ack: f.ack, sack: f.sack, fragIndex: f.fragIndex, fragCount: f.fragCount, payload: f.payload,
      sender: this.ctx.identity, senderSession: this.ctx.session, receiverSession: this.remoteSession, timestampMs: Date.now(), cookie: this.cookie,
    };
    const name = this.remoteId || this.expectedId;
    const seal = name && !unsealed ? this.ctx.pairKeys?.sealFor(name, this.ctx.session, this.remoteSession) : undefined;
    const buf = encodeFrame(fields, this.ctx.keyring, seal);
    this.ctx.counters.framesSent++;
    this.ctx.transmit(buf, this.remote);
  }

  /** Send one fire-and-forget message (may be fragmented; each fragment authenticated and replay-protected). */
  sendDatagram(payload: Buffer, unsealed = false): void {
    if (payload.length > this.ctx.opts.maxMessageBytes) throw new RangeError(`datagram of ${payload.length} bytes exceeds maxMessageBytes`);
    this.lastDatagram = { payload, unsealed, at: now() };
    const { data, compressed } = maybeCompress(payload, this.ctx.opts.compressThreshold);
    const one = payloadCapacity(this.ctx.identity, FrameType.DATAGRAM, 0, false);
    const chunks = data.length <= one ? [data] : splitPayload(data, payloadCapacity(this.ctx.identity, FrameType.DATAGRAM, 0, true));
    const first = this.ctx.nextDatagramSeq(chunks.length);
    const flags = (compressed ? Flag.COMPRESSED : 0) | (chunks.length > 1 ? Flag.FRAGMENT : 0);
    chunks.forEach((c, i) =>
      this.send_({ type: FrameType.DATAGRAM, flags, seq: first + i, ack: 0, sack: [], fragIndex: i, fragCount: chunks.length, payload: c }, unsealed),
    );
  }

  /**
   * The peer challenged us (it holds nothing for our session yet): take its cookie and send again,
   * with it, what it dropped: the stream frames in flight (or the RESET) and the last datagram if it
   * is recent. At most once per CHALLENGE_ANSWER_MS, whatever arrives.
   */
  answerChallenge(cookie: Buffer): void {
    this.cookie = cookie;
    const t = now();
    if (t - this.lastChallengeAt < CHALLENGE_ANSWER_MS) return;
    this.lastChallengeAt = t;
    if (!this.synced) {
      if (this.inflight.length > 0 || this.queue.length > this.queueHead) this.sendReset(true);
    } else {
      for (const fr of this.inflight) {
        if (fr.sacked) continue;
        this.ctx.counters.retransmits++;
        this.transmitData(fr);
      }
      this.armRetransmit();
    }
    const d = this.lastDatagram;
    if (d && t - d.at < RESEND_DATAGRAM_WITHIN_MS) this.sendDatagram(d.payload, d.unsealed);
  }

  // ---- acks received for our stream

  private onAckFields(f: Frame): void {
    if (f.flags & Flag.NEED_RESET) {
      // the peer holds no stream for us: resync from the first unacked frame, then retransmit it all
      if (this.synced) {
        this.ctx.log.debug({ peer: this.key, from: this.sndUna }, "peer lost our stream: resyncing");
        this.synced = false;
        this.resetSeq = this.sndUna;
        this.resetRetries = 0;
        this.resetSentAt = -Infinity;
      }
      this.pump();
      return;
    }
    const t = now();
    if (!this.synced) {
      if (f.ack + 1 < this.resetSeq) return; // an ack from before our RESET
      this.synced = true;
      this.resetRetries = 0;
      this.lastProgressAt = t;
      if (this.resetSentAt !== -Infinity) this.rtt.sample(t - this.resetSentAt);
      this.resetSentAt = -Infinity;
      for (const fr of this.inflight) fr.sentAt = 0; // due at once: the peer's old state is gone
      this.ctx.log.debug({ peer: this.key, from: this.resetSeq }, "stream sync: acknowledged");
    }
    let progress = false;
    if (f.ack >= this.sndUna) {
      const n = Math.min(this.inflight.length, f.ack - this.sndUna + 1);
      for (let i = 0; i < n; i++) {
        const fr = this.inflight[i];
        if (!fr.sacked) this.ackFrame(fr, t);
      }
      this.inflight.splice(0, n);
      this.sndUna = f.ack + 1;
      progress = n > 0;
    }
    let highestSacked = 0;
    for (const b of f.sack) {
      for (let s = Math.max(b.start, this.sndUna); s <= b.end; s++) {
        const fr = this.inflight[s - this.sndUna];
        if (!fr) break;
        if (!fr.sacked) {
          fr.sacked = true;
          this.ackFrame(fr, t);
          progress = true;
        }
      }
      highestSacked = Math.max(highestSacked, b.end);
    }
    if (progress) {
      this.lastProgressAt = t;
      if (this.backoff > 0) {
        this.backoff = 0;
        this.armRetransmit(true);
      }
    }
    // fast retransmit: a frame three or more behind a sacked one is lost, not reordered
    if (highestSacked > 0) {
      for (const fr of this.inflight) {
        if (fr.seq + 3 > highestSacked) break;
        if (!fr.sacked && t - fr.sentAt > Math.max(this.rtt.srttMs, 1)) {
          fr.retries++;
          this.ctx.counters.retransmits++;
          this.ctx.counters.fastRetransmits++;
          this.transmitData(fr);
        }
      }
    }
    this.pump();
  }

  private ackFrame(fr: OutFrame, t: number): void {
    // fr.retries > 0: which transmission is acked is ambiguous, so no RTT sample
    if (fr.retries === 0) this.rtt.sample(t - fr.sentAt); // Karn: only frames sent once
    if (--fr.msg.framesLeft === 0) fr.msg.resolve();
  }

  // ---- retransmission timer

  /**
   * Arm the retransmit timer for the earliest due frame. An armed timer is left alone unless
   * `force`: frames sent later are due later, so it can only fire early (a cheap empty scan), never
   * late — except when the backoff drops, which forces a re-arm. Saves a window scan per ack.
   */
  private armRetransmit(force = false): void {
    if (this.closed || this.awaitingBudget) return;
    if (this.retransmitTimer && !force) {
      if (this.inflight.length === 0 && this.synced) {
        clearTimeout(this.retransmitTimer);
        this.retransmitTimer = undefined;
      }
      return;
    }
    let due = Infinity;
    if (!this.synced && (this.inflight.length > 0 || this.queue.length > this.queueHead)) {
      due = this.resetSentAt + this.rtt.backedOff(this.resetRetries);
    } else {
      const timeout = this.rtt.backedOff(this.backoff);
      for (const fr of this.inflight) {
        if (!fr.sacked) due = Math.min(due, fr.sentAt + timeout);
      }
    }
    if (due === Infinity) {
      if (this.retransmitTimer) clearTimeout(this.retransmitTimer);
      this.retransmitTimer = undefined;
      return;
    }
    if (this.retransmitTimer) clearTimeout(this.retransmitTimer);
    this.retransmitTimer = setTimeout(() => this.onRetransmitTimer(), Math.max(1, due - now()));
    this.retransmitTimer.unref?.();
  }

  private onRetransmitTimer(granted = false): void {
    this.retransmitTimer = undefined;
    if (this.closed) return;
    const t = now();
    const pending = this.inflight.length > 0 || this.queue.length > this.queueHead;
    if (pending && t - this.lastProgressAt > this.ctx.opts.giveUpAfterMs) {
      this.giveUp();
      return;
    }
    const budget = this.ctx.retransmitBudget;
    if (!this.synced) {
      const resetDue = pending && t - this.resetSentAt >= this.rtt.backedOff(this.resetRetries);
      if (resetDue && !granted && !budget.mayRetransmit()) return this.waitForBudget();
      const before = this.resetRetries;
      this.sendReset(false);
      budget.spend(this.resetRetries - before);
      return;
    }
    const timeout = this.rtt.backedOff(this.backoff);
    if (!granted && !budget.mayRetransmit() && this.inflight.some((fr) => !fr.sacked && t - fr.sentAt >= timeout)) return this.waitForBudget();
    let sent = 0;
    for (const fr of this.inflight) {
      if (!fr.sacked && t - fr.sentAt >= timeout) {
        fr.retries++;
        sent++;
        this.ctx.counters.retransmits++;
        this.transmitData(fr);
      }
    }
    budget.spend(sent);
    if (sent > 0) {
      this.backoff++;
      this.ctx.log.debug({ peer: this.key, frames: sent, from: this.sndUna, nextTimeoutMs: Math.round(this.rtt.backedOff(this.backoff)) }, "retransmit on timeout");
    }
    this.armRetransmit();
  }

  private waitForBudget(): void {
    this.awaitingBudget = true;
    this.ctx.counters.retransmitsPaced++;
    this.ctx.retransmitBudget.wait(this);
  }

  /** The endpoint's budget has a token for us: retransmit what is due (an ack may have made it nothing). */
  retransmitGranted(): void {
    this.awaitingBudget = false;
    this.onRetransmitTimer(true);
  }

  /** Reject everything pending and start a fresh stream position for whatever is sent next. */
  private abandonSend(err: Error): number {
    const msgs = new Set<OutMessage>();
    for (const fr of this.inflight) msgs.add(fr.msg);
    for (let i = this.queueHead; i < this.queue.length; i++) msgs.add(this.queue[i].msg);
    this.inflight = [];
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.sndUna = this.nextSeq;
    this.synced = false;
    this.resetSeq = this.nextSeq;
    this.resetRetries = 0;
    this.resetSentAt = -Infinity;
    this.backoff = 0;
    if (this.retransmitTimer) clearTimeout(this.retransmitTimer);
    this.retransmitTimer = undefined;
    for (const m of msgs) if (m.framesLeft > 0) m.reject(err);
    this.wakeWaiters();
    return msgs.size;
  }

  private giveUp(): void {
    const n = this.abandonSend(new GiveUpError(this.key));
    this.ctx.counters.giveUps++;
    this.ctx.log.debug({ peer: this.key, id: this.remoteId, pendingMessages: n }, "giving up: no acks");
    this.ctx.onGiveUp(this, n);
  }

  // ================================================================== receiving

  /**
   * Handle an authenticated frame from this link's address. Returns the drop reason, or undefined
   * when the frame was accepted. Session checks are done here because they need the link's state.
   */
  receive(f: Frame): keyof EndpointCounters | undefined {
    this.lastActive = Date.now();
    // 1. which incarnation of the peer sent it
    if (sessionIsNone(this.remoteSession)) {
      this.remoteSession = f.senderSession;
    } else if (!sessionEquals(f.senderSession, this.remoteSession)) {
      if (compareSessions(f.senderSession, this.remoteSession) < 0) return "staleSession";
      this.peerRestarted(f.senderSession);
    }
    this.remoteId = f.sender;
    // 2. which incarnation of us it was meant for
    const toUs = sessionEquals(f.receiverSession, this.ctx.session);
    const toNobody = sessionIsNone(f.receiverSession);
    switch (f.type) {
      case FrameType.DATAGRAM:
        // our reply carries our session, so a sender that missed our restart learns it
        if (!toUs && !toNobody) return this.replyNeedReset("wrongDestination");
        return this.receiveDatagram(f);
      case FrameType.RESET:
        if (!toUs && !toNobody) return this.replyNeedReset("wrongDestination");
        return this.receiveReset(f);
      case FrameType.ACK:
        if (!toUs) return "wrongDestination";
        this.onAckFields(f);
        return undefined;
      case FrameType.DATA:
        if (!toUs) return this.replyNeedReset("wrongDestination");
        return this.receiveData(f);
    }
  }

  private peerRestarted(session: SessionId): void {
    const previous = this.remoteSession;
    this.ctx.counters.peerRestarts++;
    this.ctx.log.debug({ peer: this.key, previous: sessionToString(previous), session: sessionToString(session) }, "peer restarted: stream state reset");
    this.remoteSession = session;
    this.resetReceive();
    this.datagramWindow = undefined;
    this.ctx.reassembler.dropPrefix(`${this.key}|`);
    this.abandonSend(new PeerRestartedError(this.key));
    this.ctx.onPeerRestart(this, previous);
  }

  private resetReceive(): void {
    this.ctx.rxBufferedBytes -= this.oooBytes + (this.partial?.bytes ?? 0);
    this.ooo.clear();
    this.oooBytes = 0;
    this.partial = undefined;
    this.rcvNext = 0;
    this.ackOwed = 0;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  private receiveReset(f: Frame): keyof EndpointCounters | undefined {
    if (this.rcvNext !== 0 && f.seq < this.rcvNext) {
      this.sendAck(); // an old RESET (replayed or long delayed): never moves the stream back
      return "duplicate";
    }
    if (this.rcvNext === 0 || f.seq > this.rcvNext) {
      this.ctx.log.debug({ peer: this.key, from: f.seq, was: this.rcvNext }, "stream sync: peer RESET accepted");
      this.resetReceive();
      this.rcvNext = f.seq;
    }
    this.sendAck();
    return undefined;
  }

  private receiveData(f: Frame): keyof EndpointCounters | undefined {
    this.onAckFields(f); // the peer's ack of our own stream rides on its DATA
    if (this.rcvNext === 0) return this.replyNeedReset("needReset");
    if (f.seq < this.rcvNext || this.ooo.has(f.seq)) {
      this.sendAck();
      return "duplicate";
    }
    if (f.seq >= this.rcvNext + this.ctx.opts.receiveWindowFrames) return "outOfWindow";
    if (f.seq === this.rcvNext) {
      const reason = this.consume(f);
      this.rcvNext++;
      // later frames that were waiting for this one
      for (let next = this.ooo.get(this.rcvNext); next; next = this.ooo.get(this.rcvNext)) {
        this.ooo.delete(this.rcvNext);
        this.oooBytes -= next.payload.length;
        this.ctx.rxBufferedBytes -= next.payload.length;
        this.consume(next);
        this.rcvNext++;
      }
      if (this.ooo.size > 0) this.sendAck();
      else this.scheduleAck();
      return reason;
    }
    if (this.ctx.rxBufferedBytes + f.payload.length > this.ctx.opts.maxReceiveBufferBytes) return "bufferFull";
    this.ooo.set(f.seq, f);
    this.oooBytes += f.payload.length;
    this.ctx.rxBufferedBytes += f.payload.length;
    this.sendAck(); // a hole: tell the sender now
    return undefined;
  }

  /** Take the next in-order frame into the message being assembled; deliver when complete. */
  private consume(f: Frame): keyof EndpointCounters | undefined {
    const compressed = (f.flags & Flag.COMPRESSED) !== 0;
    if (!(f.flags & Flag.FRAGMENT)) {
      if (this.partial) this.dropPartial(); // an honest sender never interleaves
      this.deliverPayload(f.payload, compressed, true, f.sealed === true);
      return undefined;
    }
    if (f.fragIndex === 0) {
      if (this.partial) this.dropPartial();
      if (f.fragCount * f.payload.length > this.ctx.opts.maxMessageBytes + f.payload.length) {
        this.ctx.counters.badPayload++;
        return "fragmentRejected";
      }
      this.partial = { count: f.fragCount, chunks: [], bytes: 0, compressed, sealed: true };
    }
    const p = this.partial;
    if (!p || f.fragIndex !== p.chunks.length || f.fragCount !== p.count || compressed !== p.compressed) {
      if (p) this.dropPartial();
      return "fragmentRejected";
    }
    if (p.bytes + f.payload.length > this.ctx.opts.maxMessageBytes) {
      this.dropPartial();
      this.ctx.counters.badPayload++;
      return "fragmentRejected";
    }
    p.chunks.push(f.payload);
    p.bytes += f.payload.length;
    p.sealed &&= f.sealed === true;
    this.ctx.rxBufferedBytes += f.payload.length;
    if (p.chunks.length === p.count) {
      this.dropPartial();
      this.deliverPayload(Buffer.concat(p.chunks, p.bytes), p.compressed, true, p.sealed);
    }
    return undefined;
  }

  private dropPartial(): void {
    if (!this.partial) return;
    this.ctx.rxBufferedBytes -= this.partial.bytes;
    this.partial = undefined;
  }

  private deliverPayload(data: Buffer, compressed: boolean, reliable: boolean, sealed: boolean): void {
    let payload = data;
    if (compressed) {
      try {
        payload = decompress(data, this.ctx.opts.maxMessageBytes);
      } catch (e) {
        this.ctx.counters.badPayload++;
        this.ctx.log.debug({ peer: this.key, err: (e as Error).message }, "message dropped: bad compressed payload");
        return;
      }
    }
    if (reliable) this.ctx.counters.messagesDelivered++;
    else this.ctx.counters.datagramsDelivered++;
    this.ctx.deliver({ payload, from: this.peer, reliable, sealed });
  }

  private receiveDatagram(f: Frame): keyof EndpointCounters | undefined {
    this.datagramWindow ??= new ReplayWindow();
    if (!this.datagramWindow.accept(f.seq)) return "replay";
    const compressed = (f.flags & Flag.COMPRESSED) !== 0;
    if (!(f.flags & Flag.FRAGMENT)) {
      this.deliverPayload(f.payload, compressed, false, f.sealed === true);
      return undefined;
    }
    const r = this.ctx.reassembler;
    const before = { evicted: r.evicted, expired: r.expired };
    const cap = payloadCapacity(this.remoteId || "x", FrameType.DATAGRAM, 0, true);
    // sealed and unsealed fragments never make one message
    const out = r.add(`${this.key}|${sessionToString(this.remoteSession)}|${f.sealed ? "s" : "c"}|${f.seq - f.fragIndex}`, f.fragIndex, f.fragCount, f.payload, compressed, Date.now(), Math.max(cap, f.payload.length));
    this.ctx.counters.reassemblyEvicted += r.evicted - before.evicted;
    this.ctx.counters.reassemblyExpired += r.expired - before.expired;
    switch (out.kind) {
      case "complete":
        this.deliverPayload(out.payload, out.compressed, false, f.sealed === true);
        return undefined;
      case "pending":
        return undefined;
      case "duplicate":
        return "replay";
      case "rejected":
        if (out.reason === "oversized") this.ctx.counters.badPayload++;
        return "fragmentRejected";
    }
  }

  // ---- acks we send

  private receiveAckFields(): { ack: number; sack: SackBlock[]; flags: number } {
    if (this.rcvNext === 0) return { ack: 0, sack: [], flags: Flag.NEED_RESET };
    return { ack: this.rcvNext - 1, sack: this.sackBlocks(), flags: 0 };
  }

  private sackBlocks(): SackBlock[] {
    if (this.ooo.size === 0) return [];
    const seqs = [...this.ooo.keys()].sort((a, b) => a - b);
    const blocks: SackBlock[] = [];
    for (const s of seqs) {
      const last = blocks[blocks.length - 1];
      if (last && s === last.end + 1) last.end = s;
      else if (blocks.length < MAX_SACK_BLOCKS) blocks.push({ start: s, end: s });
      else break;
    }
    return blocks;
  }

  private scheduleAck(): void {
    if (++this.ackOwed >= 2) {
      this.sendAck();
      return;
    }
    if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        if (this.ackOwed > 0) this.sendAck();
      }, this.ctx.opts.ackDelayMs);
      this.ackTimer.unref?.();
    }
  }

  private ackSent(): void {
    this.ackOwed = 0;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  sendAck(): void {
    if (this.closed) return;
    const a = this.receiveAckFields();
    this.send_({ type: FrameType.ACK, flags: a.flags, seq: 0, ack: a.ack, sack: a.sack, fragIndex: 0, fragCount: 1, payload: EMPTY });
    this.ctx.counters.acksSent++;
    this.ackSent();
  }

  /** Tell the peer (at most every controlReplyIntervalMs) that it must RESET; the reply carries our session. */
  private replyNeedReset(reason: keyof EndpointCounters): keyof EndpointCounters {
    const t = now();
    if (t - this.lastControlReplyAt >= this.ctx.opts.controlReplyIntervalMs) {
      this.lastControlReplyAt = t;
      this.send_({ type: FrameType.ACK, flags: Flag.NEED_RESET, seq: 0, ack: 0, sack: [], fragIndex: 0, fragCount: 1, payload: EMPTY });
      this.ctx.counters.acksSent++;
    }
    return reason;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.retransmitBudget.forget(this);
    this.abandonSend(new ChannelClosedError());
    this.resetReceive();
  }
}

const EMPTY = Buffer.alloc(0);
const noop = (): void => {};

/**
 * Tuning of the reliable channel, each default with the reason for it. One place, like
 * memberlist's config.go: change a default here and every endpoint follows.
 */
export interface ChannelOptions {
  /** Frames in flight per peer before the sender waits for acks. 128 × ~1.3 KB ≈ 166 KB per RTT: far
   * above what a nanoprobe sends, enough for a CMA pushing config bursts. */
  windowFrames: number;
  /** Frames the receiver buffers ahead of the next in-order one. Must be ≥ the sender's window. */
  receiveWindowFrames: number;
  /** Bytes per peer accepted beyond the window before send() waits (back-pressure). */
  maxQueuedBytes: number;
  /** RTO bounds. Data-centre RTTs are well under 1 ms, so RFC 6298's 1 s floor would turn one lost
   * frame into a second of delay; 20 ms still keeps spurious retransmits rare (acks are delayed ≤ ackDelayMs). */
  minRtoMs: number;
  maxRtoMs: number;
  /** RTO before the first RTT sample. */
  initialRtoMs: number;
  /** An in-order frame is acked after this delay unless a second one arrives first (halves ack traffic). */
  ackDelayMs: number;
  /** No ack progress for this long with data outstanding: reject what is pending and emit giveUp.
   * 30 s outlasts the default deadtime (10 s), so ring logic decides about death, not the transport. */
  giveUpAfterMs: number;
  /** Frames whose timestamp is further than this from our clock are dropped as stale: bounds how long
   * a captured frame can be replayed to a restarted receiver. Hosts run NTP; 30 s is generous. */
  maxClockSkewMs: number;
  /** Largest message (after decompression). Fragment count is u16 on the wire. */
  maxMessageBytes: number;
  /** Payloads at least this big are deflated, and sent compressed only when that saves bytes. 0 = never.
   * 1024: what fits one frame goes as it is (deflating each signed assignment of ~300 B saved a few
   * bytes and was ~40 % of the CMA's assignment path in a profile of a 10,000-host join). */
  compressThreshold: number;
  /** Peers with state kept at once: a CMA needs one per host. Idle ones are evicted first. 262,144
   * leaves room past the 100,000 simulated hosts measured; at 65,536 a 100,000-host join stalled
   * near 67,000 admitted, each new host evicting another's link with its assignment in flight. A
   * flood cannot fill it: with challenges on (the CMA), a session gets state only once it proves its address. */
  maxPeers: number;
  /** Bytes held for out-of-order frames and partial messages, all peers together. */
  maxReceiveBufferBytes: number;
  /** Fire-and-forget path: partial fragmented datagrams held at once, their bytes, and their lifetime. */
  maxPartialDatagrams: number;
  maxPartialDatagramBytes: number;
  partialDatagramTimeoutMs: number;
  /** Replies to frames we cannot use (need reset, wrong destination) are sent at most this often per peer. */
  controlReplyIntervalMs: number;
  /** Kernel socket buffers: room for bursts while the event loop is busy. */
  socketBufferBytes: number;
  /** Frames retransmitted on timeout per second, all peers together (retransmit-budget.ts); 0 = unpaced.
   * A CMA handles ~4,000 datagrams a second; when its socket overflows every link times out at once,
   * and unpaced retransmits (each drawing an ack) took all of that in a 30,000-host join. */
  retransmitsPerSecond: number;
  /** Challenges (challenge.ts) sent at most per second, all addresses together: a CMA restarted under
   * 10,000 hosts answers each once within a few seconds; a flood of replays gets no more than this. */
  challengesPerSecond: number;
}

export const DEFAULT_CHANNEL_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  windowFrames: 128,
  receiveWindowFrames: 256,
  maxQueuedBytes: 8 * 1024 * 1024,
  minRtoMs: 20,
  maxRtoMs: 2000,
  initialRtoMs: 200,
  ackDelayMs: 2,
  giveUpAfterMs: 30_000,
  maxClockSkewMs: 30_000,
  maxMessageBytes: 4 * 1024 * 1024,
  compressThreshold: 1024,
  maxPeers: 262_144,
  maxReceiveBufferBytes: 64 * 1024 * 1024,
  maxPartialDatagrams: 256,
  maxPartialDatagramBytes: 4 * 1024 * 1024,
  partialDatagramTimeoutMs: 5_000,
  controlReplyIntervalMs: 20,
  socketBufferBytes: 4 * 1024 * 1024,
  challengesPerSecond: 5000,
  retransmitsPerSecond: 1000,
});

export function resolveChannelOptions(partial: Partial<ChannelOptions> = {}): ChannelOptions {
  const o: ChannelOptions = { ...DEFAULT_CHANNEL_OPTIONS, ...partial };
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new RangeError(`channel option ${k}: expected a non-negative number, got ${String(v)}`);
  }
  if (o.windowFrames < 1) throw new RangeError("windowFrames must be at least 1");
  if (o.receiveWindowFrames < o.windowFrames) throw new RangeError("receiveWindowFrames must be ≥ windowFrames");
  if (o.receiveWindowFrames > 0xffff) throw new RangeError("receiveWindowFrames must fit sack offsets (≤ 65535)");
  if (o.minRtoMs > o.maxRtoMs) throw new RangeError("minRtoMs must be ≤ maxRtoMs");
  return o;
}

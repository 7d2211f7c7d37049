/**
 * Counters an endpoint exposes. Every datagram received ends in exactly one of: a frame accepted
 * (framesAccepted) or one drop reason. Messages delivered to the application are counted apart.
 */
export interface EndpointCounters {
  datagramsReceived: number;
  framesAccepted: number;
  messagesDelivered: number;
  datagramsDelivered: number;
  framesSent: number;
  messagesSent: number;
  retransmits: number;
  fastRetransmits: number;
  retransmitsPaced: number; // a link's retransmit timer fired with the endpoint's budget spent: it waited for a token
  acksSent: number;
  giveUps: number;
  peerRestarts: number;
  // drops, one per datagram
  truncated: number;
  oversized: number;
  badVersion: number;
  wrongCluster: number;
  badAuth: number;
  malformed: number;
  unknownPeerKey: number; // a sealed frame no key here opens (unknown peer, key or session): dropped, no state, no reply
  unsealed: number; // a cluster-key frame from a peer whose frames must be sealed (its keys are known)
  challenged: number; // from a session or address not proven yet (or a cookie that does not verify): dropped, no state; answered with one challenge at most
  unexpectedPeer: number; // from a peer this process expects nobody as, at that address (a nanoprobe: not its CMA, not a neighbour): dropped, no state, no reply
  unsolicitedChallenge: number; // a challenge for another session of ours, or stale: ignored
  stale: number; // timestamp outside the allowed clock skew
  staleSession: number; // from an earlier incarnation of a peer we know
  wrongDestination: number; // meant for an earlier incarnation of this endpoint
  duplicate: number; // reliable frame already received
  replay: number; // fire-and-forget frame already received or too old
  outOfWindow: number; // reliable frame too far ahead of the receive window
  needReset: number; // DATA from a peer with no stream state here (it must RESET first)
  bufferFull: number; // not accepted because receive buffers are at their bound (sender retransmits)
  fragmentRejected: number; // inconsistent or oversized fragment
  internalError: number; // a bug: caught so the socket handler never throws
  // per message, not per datagram
  badPayload: number; // authenticated frames, but the message would not inflate or was too large
  handlerErrors: number; // the application's message handler threw (caught, logged)
  sendErrors: number; // the socket refused a send
  // other reassembly outcomes
  reassemblyEvicted: number;
  reassemblyExpired: number;
  peersEvicted: number;
  // challenges (challenge.ts)
  challengesSent: number;
  challengesNotSent: number; // over the rate bound: the frame is dropped all the same
  challengesAnswered: number; // challenges received and answered (our frames to that address carry the cookie)
}

export const DROP_COUNTERS = [
  "truncated",
  "oversized",
  "badVersion",
  "wrongCluster",
  "badAuth",
  "malformed",
  "unknownPeerKey",
  "unsealed",
  "challenged",
  "unexpectedPeer",
  "unsolicitedChallenge",
  "stale",
  "staleSession",
  "wrongDestination",
  "duplicate",
  "replay",
  "outOfWindow",
  "needReset",
  "bufferFull",
  "fragmentRejected",
  "internalError",
] as const satisfies readonly (keyof EndpointCounters)[];

export type DropCounter = (typeof DROP_COUNTERS)[number];

export function newCounters(): EndpointCounters {
  return {
    datagramsReceived: 0,
    framesAccepted: 0,
    messagesDelivered: 0,
    datagramsDelivered: 0,
    framesSent: 0,
    messagesSent: 0,
    retransmits: 0,
    fastRetransmits: 0,
    retransmitsPaced: 0,
    acksSent: 0,
    giveUps: 0,
    peerRestarts: 0,
    truncated: 0,
    oversized: 0,
    badVersion: 0,
    wrongCluster: 0,
    badAuth: 0,
    malformed: 0,
    unknownPeerKey: 0,
    unsealed: 0,
    challenged: 0,
    unexpectedPeer: 0,
    unsolicitedChallenge: 0,
    stale: 0,
    staleSession: 0,
    wrongDestination: 0,
    duplicate: 0,
    replay: 0,
    outOfWindow: 0,
    needReset: 0,
    bufferFull: 0,
    badPayload: 0,
    fragmentRejected: 0,
    internalError: 0,
    handlerErrors: 0,
    sendErrors: 0,
    reassemblyEvicted: 0,
    reassemblyExpired: 0,
    peersEvicted: 0,
    challengesSent: 0,
    challengesNotSent: 0,
    challengesAnswered: 0,
  };
}

export function totalDrops(c: EndpointCounters): number {
  let n = 0;
  for (const k of DROP_COUNTERS) n += c[k];
  return n;
}

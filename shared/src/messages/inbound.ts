/** The first step of every message handler: decode the envelope, or say why it was dropped. */
import type { Logger } from "pino";
import type { InboundMessage } from "../channel/link.js";
import { decodeEnvelope } from "./codec.js";

export type DecodedEnvelope = ReturnType<typeof decodeEnvelope>;

/** The decoded envelope, or undefined (logged at debug) when the payload is not one; callers count it. */
export function decodeInbound(m: InboundMessage, log: Logger): DecodedEnvelope | undefined {
  try {
    return decodeEnvelope(m.payload);
  } catch (e) {
    log.debug({ from: m.from.id, err: (e as Error).message }, "undecodable message dropped");
    return undefined;
  }
}

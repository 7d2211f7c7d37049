/**
 * No state before proof (as WireGuard's cookie reply and DTLS's HelloVerifyRequest): a frame from a
 * sender session this endpoint has not yet seen speak from that address is dropped, and answered
 * with one CHALLENGE frame carrying a cookie. The cookie is a MAC, under a secret of this process,
 * over the address, the sender, its session and the minute, so nothing is kept per challenge. Only
 * a sender that receives at that address can echo it (Flag.COOKIE); a copied frame replayed from
 * another address, or from a spoofed one, creates nothing here and gets at most that one challenge,
 * whose rate is bounded too.
 *
 * The challenge is authenticated with the cluster key (a frame of version 1, so a host that has
 * not learnt our keys yet can read it); a process takes a challenge only for its own current
 * session, fresh, and answers it only towards an address it was already sending to.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { SessionId } from "../wire/frame.js";
import { COOKIE_BYTES } from "../wire/frame.js";

/** a cookie holds for the minute it was made in and the next one */
const COOKIE_PERIOD_MS = 60_000;

export class CookieJar {
  private readonly secret = randomBytes(32);
  private tokens: number;
  private refilledAt = performance.now();

  /** ratePerSecond: challenges sent at most (a burst of one second's worth) */
  constructor(private readonly ratePerSecond: number) {
    this.tokens = ratePerSecond;
  }

  cookieFor(address: string, port: number, sender: string, session: SessionId, nowMs = Date.now()): Buffer {
    return this.mac(address, port, sender, session, Math.floor(nowMs / COOKIE_PERIOD_MS));
  }

  verify(cookie: Buffer, address: string, port: number, sender: string, session: SessionId, nowMs = Date.now()): boolean {
    const period = Math.floor(nowMs / COOKIE_PERIOD_MS);
    return timingSafeEqual(cookie, this.mac(address, port, sender, session, period)) || timingSafeEqual(cookie, this.mac(address, port, sender, session, period - 1));
  }

  /** May one more challenge go out now? (a token bucket: bounded, whatever arrives) */
  takeToken(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((now - this.refilledAt) / 1000) * this.ratePerSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  private mac(address: string, port: number, sender: string, session: SessionId, period: number): Buffer {
    return createHmac("sha256", this.secret).update(`${address}\0${port}\0${sender}\0${session.startMs}.${session.random}\0${period}`).digest().subarray(0, COOKIE_BYTES);
  }
}

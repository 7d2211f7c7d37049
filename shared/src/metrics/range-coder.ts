/**
 * A binary adaptive range coder (the LZMA design: 11-bit probabilities, 32-bit range, carry
 * propagation through a cached byte) and, on top of it, a coder for signed integers whose expected
 * magnitude is known to both sides.
 *
 * Why: a stats batch is mostly noise (the low bits of min, max and average). Byte varints and
 * deflate waste about a byte per value on that; an adaptive coder spends close to the information
 * actually there: the mantissa bits of each delta plus ~2 bits to say how long the delta is
 * compared with what the series' own history predicted.
 *
 * Everything here is integer arithmetic on doubles below 2^53 (no 32-bit bitwise tricks on values
 * that may exceed them), so encoder and decoder agree bit for bit on every platform. The decoder
 * is bounds-checked: reading past its input throws BatchCodecError.
 */
import { BatchCodecError } from "./byte-io.js";

const PROB_BITS = 11;
const PROB_ONE = 1 << PROB_BITS;
/**
 * Adaptation: a new probability moves by 1/(n + 2) of the way after its n-th bit (the running
 * frequency: it learns within a handful of bits), then by 1/2^MOVE_BITS (it keeps following slow
 * change). Clamped so no bit ever costs more than ~6 bits.
 */
const LEARN = 30;
const MOVE_BITS = 5;
const P_MIN = 31;
const P_MAX = PROB_ONE - P_MIN;

/** Move probability j (and its count at j + 1) towards the bit just seen. */
function adapt(probs: Uint16Array, j: number, bit: number): void {
  const p = probs[j];
  const n = probs[j + 1];
  const target = bit ? 0 : PROB_ONE;
  let q: number;
  if (n < LEARN) {
    q = p + Math.trunc((target - p) / (n + 2));
    probs[j + 1] = n + 1;
  } else {
    q = p + Math.trunc((target - p) / (1 << MOVE_BITS));
  }
  probs[j] = q < P_MIN ? P_MIN : q > P_MAX ? P_MAX : q;
}
const TOP = 2 ** 24;
const TWO32 = 2 ** 32;

/** Largest magnitude the integer coder handles (every value it codes is a safe integer). */
export const MAX_CODED_BITS = 53;

/** Number of significant bits of a non-negative safe integer (0 for 0). */
export function bitLength(v: number): number {
  let n = 0;
  while (v >= TWO32) {
    v = Math.floor(v / TWO32);
    n += 32;
  }
  return n + (v === 0 ? 0 : 32 - Math.clz32(v));
}

/** n adaptive probabilities: pairs (chance out of 2048 that the next bit is 0, bits seen so far). */
export function newProbs(n: number): Uint16Array {
  const a = new Uint16Array(2 * n);
  for (let i = 0; i < n; i++) a[2 * i] = PROB_ONE >> 1;
  return a;
}

export class RangeEncoder {
  private low = 0; // < 2^33: bit 32 is a pending carry
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  private skipFirst = true; // the first byte out is always 0: the decoder does not need it
  private readonly out: number[] = [];

  bit(probs: Uint16Array, i: number, bit: number): void {
    const bound = Math.floor(this.range / PROB_ONE) * probs[2 * i];
    if (bit === 0) {
      this.range = bound;
    } else {
      this.low += bound;
      this.range -= bound;
    }
    adapt(probs, 2 * i, bit);
    while (this.range < TOP) {
      this.range *= 256;
      this.shiftLow();
    }
  }

  /** n equiprobable bits of v, most significant first (n ≤ 53). */
  direct(v: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) {
      this.range = Math.floor(this.range / 2);
      if (Math.floor(v / 2 ** i) % 2 === 1) this.low += this.range;
      while (this.range < TOP) {
        this.range *= 256;
        this.shiftLow();
      }
    }
  }

  private shiftLow(): void {
    if (this.low < 0xff000000 || this.low >= TWO32) {
      const carry = this.low >= TWO32 ? 1 : 0;
      let b = this.cache;
      do {
        this.emit((b + carry) & 0xff);
        b = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = Math.floor(this.low / TOP) & 0xff;
    }
    this.cacheSize++;
    this.low = (this.low % TOP) * 256;
  }

  private emit(b: number): void {
    if (this.skipFirst) this.skipFirst = false;
    else this.out.push(b);
  }

  finish(): Buffer {
    for (let i = 0; i < 5; i++) this.shiftLow();
    return Buffer.from(this.out);
  }
}

export class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
  ) {
    this.pos = start;
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.next();
    if (this.code >= this.range) throw new BatchCodecError("range coder: bad start");
  }

  private next(): number {
    if (this.pos >= this.buf.length) throw new BatchCodecError("truncated input (range-coded body)");
    return this.buf[this.pos++];
  }

  bit(probs: Uint16Array, i: number): number {
    const bound = Math.floor(this.range / PROB_ONE) * probs[2 * i];
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      bit = 0;
    } else {
      this.code -= bound;
      this.range -= bound;
      bit = 1;
    }
    adapt(probs, 2 * i, bit);
    while (this.range < TOP) {
      this.range *= 256;
      this.code = this.code * 256 + this.next();
    }
    return bit;
  }

  direct(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      this.range = Math.floor(this.range / 2);
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      v = v * 2 + b;
      while (this.range < TOP) {
        this.range *= 256;
        this.code = this.code * 256 + this.next();
      }
    }
    return v;
  }

  /** Bytes not consumed: the encoder's output is consumed exactly, so anything left is trailing garbage. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }
}

/**
 * Adaptive model for signed integers d given an expected bit length k of |d| (from the series'
 * history): first whether bitLength(|d|) equals k, else whether it is above or below and by how
 * much (unary, each step its own probability), then the bits below the leading one (the first of
 * them adaptive: small mantissas are likelier) and the sign.
 */
const STEPS = 24;
/** k grouped for the "same length?" and "longer?" decisions: small series behave differently from large ones. */
const K_GROUP = [0, 1, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 6, 6];
const kGroup = (k: number): number => (k < K_GROUP.length ? K_GROUP[k] : 7);
const P_SAME = 0; // [8] per k group
const P_ABOVE = 8; // [8]
const P_STEP_UP = 16;
const P_STEP_DOWN = P_STEP_UP + STEPS;
const P_MANT = P_STEP_DOWN + STEPS; // [54]: first mantissa bit, per bit length
const P_SIGN = P_MANT + MAX_CODED_BITS + 1;
const SIGN_CONTEXTS = 9;
const P_SIZE = P_SIGN + SIGN_CONTEXTS;

export class IntModel {
  readonly probs = newProbs(P_SIZE);

  /** signCtx (0..8): what the series' other columns did, for the sign bit. */
  encode(enc: RangeEncoder, d: number, k: number, signCtx = 0): void {
    const u = Math.abs(d);
    if (!Number.isSafeInteger(d)) throw new RangeError(`IntModel: ${d} is not a safe integer`);
    const b = bitLength(u);
    const p = this.probs;
    const same = b === k ? 0 : 1;
    const g = kGroup(k);
    enc.bit(p, P_SAME + g, same);
    if (same) {
      const above = b > k ? 1 : 0;
      if (k > 0 && k < MAX_CODED_BITS) enc.bit(p, P_ABOVE + g, above); // otherwise only one direction exists
      const limit = above ? MAX_CODED_BITS - k : k; // steps possible in that direction
      const steps = Math.abs(b - k);
      const base = above ? P_STEP_UP : P_STEP_DOWN;
      for (let s = 1; s < limit; s++) {
        const more = s < steps ? 1 : 0;
        enc.bit(p, base + Math.min(s - 1, STEPS - 1), more);
        if (!more) break;
      }
    }
    if (b >= 2) {
      const rest = u - 2 ** (b - 1); // the bits below the leading one
      const top = Math.floor(rest / 2 ** (b - 2));
      enc.bit(p, P_MANT + b, top);
      enc.direct(rest - top * 2 ** (b - 2), b - 2);
    }
    if (u !== 0) enc.bit(p, P_SIGN + signCtx, d < 0 ? 1 : 0);
  }

  decode(dec: RangeDecoder, k: number, signCtx = 0): number {
    const p = this.probs;
    let b = k;
    const g = kGroup(k);
    if (dec.bit(p, P_SAME + g)) {
      const above = k === 0 ? 1 : k >= MAX_CODED_BITS ? 0 : dec.bit(p, P_ABOVE + g);
      const limit = above ? MAX_CODED_BITS - k : k;
      const base = above ? P_STEP_UP : P_STEP_DOWN;
      let steps = 1;
      while (steps < limit && dec.bit(p, base + Math.min(steps - 1, STEPS - 1))) steps++;
      b = above ? k + steps : k - steps;
    }
    let u = 0;
    if (b === 1) u = 1;
    else if (b >= 2) {
      const top = dec.bit(p, P_MANT + b);
      u = 2 ** (b - 1) + top * 2 ** (b - 2) + dec.direct(b - 2);
    }
    if (u !== 0 && dec.bit(p, P_SIGN + signCtx)) u = -u;
    if (!Number.isSafeInteger(u)) throw new BatchCodecError("range coder: value above 2^53");
    return u === 0 ? 0 : u;
  }
}

/**
 * Bounds-checked bytes for the metrics codecs: LEB128 varints up to 2^53 − 1, zigzag for signed
 * values. Every read checks what is left, so a bad input throws BatchCodecError and never makes
 * the decoder allocate more than the input could describe.
 */

/** Every decoding failure of a stats batch or key table (truncated, garbage, oversized, inconsistent). */
export class BatchCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BatchCodecError";
  }
}

const MAX_VARINT_BYTES = 8; // 56 bits ≥ 53
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class ByteWriter {
  private buf = Buffer.allocUnsafe(256);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Unsigned varint; v must be a safe non-negative integer. */
  uint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint: ${v} is not a safe non-negative integer`);
    this.room(MAX_VARINT_BYTES);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  /** Zigzag varint: small magnitudes of either sign stay short. |v| < 2^52. */
  sint(v: number): void {
    if (!Number.isSafeInteger(v) || Math.abs(v) >= 2 ** 52) throw new RangeError(`zigzag: ${v} out of range`);
    this.uint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  string(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.uint(b.length);
    this.bytes(b);
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

export class ByteReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new BatchCodecError("truncated input");
    return this.buf[this.pos++];
  }

  bytes(n: number): Uint8Array {
    if (n > this.remaining) throw new BatchCodecError(`truncated input: ${n} bytes wanted, ${this.remaining} left`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  uint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.byte();
      v += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (!Number.isSafeInteger(v)) throw new BatchCodecError("varint above 2^53");
        if (b === 0 && i > 0) throw new BatchCodecError("varint not minimally encoded");
        return v;
      }
      mul *= 0x80;
    }
    throw new BatchCodecError("varint longer than 8 bytes");
  }

  sint(): number {
    const z = this.uint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** A count of items that each take at least minBytes: bounded by what the input can still hold. */
  count(what: string, max: number, minBytes = 1): number {
    const n = this.uint();
    if (n > max) throw new BatchCodecError(`${what}: ${n} exceeds the limit ${max}`);
    if (n * minBytes > this.remaining) throw new BatchCodecError(`${what}: ${n} items cannot fit in ${this.remaining} bytes`);
    return n;
  }

  string(what: string, maxBytes: number): string {
    const n = this.uint();
    if (n > maxBytes) throw new BatchCodecError(`${what}: ${n} bytes exceeds ${maxBytes}`);
    try {
      return utf8.decode(this.bytes(n));
    } catch (e) {
      if (e instanceof BatchCodecError) throw e;
      throw new BatchCodecError(`${what}: not valid UTF-8`);
    }
  }

  end(what: string): void {
    if (this.remaining !== 0) throw new BatchCodecError(`${what}: ${this.remaining} trailing bytes`);
  }
}

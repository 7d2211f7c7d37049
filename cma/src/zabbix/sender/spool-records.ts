/**
 * Records of the on-disk spool files: [payload length u32le][CRC-32 of the payload u32le][payload].
 * A crash can leave a half-written record at the end of a file and a disk can flip bits; a scan
 * stops at the first record that is short, too long or fails its checksum, and says why, so the
 * owner can cut the file there instead of trusting or crashing on it.
 */
import { crc32 } from "node:zlib";

export const RECORD_HEADER_BYTES = 8;
/** far above any value entry (a text value is at most 64 KiB); a larger length is corruption */
export const MAX_RECORD_PAYLOAD = 1 << 20;

/** The records for these payloads, back to back, ready for one write. */
export function encodeRecords(payloads: readonly Buffer[]): Buffer {
  let size = 0;
  for (const p of payloads) {
    if (p.length > MAX_RECORD_PAYLOAD) throw new RangeError(`spool record of ${p.length} bytes exceeds ${MAX_RECORD_PAYLOAD}`);
    size += RECORD_HEADER_BYTES + p.length;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of payloads) {
    out.writeUInt32LE(p.length, at);
    out.writeUInt32LE(crc32(p), at + 4);
    p.copy(out, at + RECORD_HEADER_BYTES);
    at += RECORD_HEADER_BYTES + p.length;
  }
  return out;
}

export interface ScanResult {
  /** offset just after the last good record (where a torn or corrupt tail starts) */
  end: number;
  records: number;
  /** why the scan stopped before the end of the buffer; undefined when every byte was a good record */
  error?: string;
  /** true when the bad bytes may be an incomplete last write (not a checksum failure) */
  incomplete?: boolean;
}

/**
 * Walk the records of buf from offset `from`, calling onRecord(payload, endOffset) for each good
 * one (the payload is a view into buf). With `stopAtPartial`, an incomplete last record is not an
 * error (a reader that got a partial chunk); otherwise it is reported as a torn tail.
 */
export function scanRecords(
  buf: Buffer, from = 0, onRecord?: (payload: Buffer, end: number) => boolean | void, maxRecords = Infinity, stopAtPartial = false,
): ScanResult {
  let at = from;
  let records = 0;
  while (at < buf.length && records < maxRecords) {
    const left = buf.length - at;
    if (left < RECORD_HEADER_BYTES) {
      return stopAtPartial ? { end: at, records } : { end: at, records, error: `${left} bytes of an incomplete record header`, incomplete: true };
    }
    const len = buf.readUInt32LE(at);
    if (len > MAX_RECORD_PAYLOAD) return { end: at, records, error: `record length ${len} exceeds ${MAX_RECORD_PAYLOAD}` };
    if (left < RECORD_HEADER_BYTES + len) {
      return stopAtPartial ? { end: at, records } : { end: at, records, error: `record of ${len} bytes cut after ${left - RECORD_HEADER_BYTES}`, incomplete: true };
    }
    const payload = buf.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + len);
    if (crc32(payload) !== buf.readUInt32LE(at + 4)) return { end: at, records, error: "record checksum mismatch" };
    at += RECORD_HEADER_BYTES + len;
    records++;
    if (onRecord?.(payload, at) === false) break;
  }
  return { end: at, records };
}

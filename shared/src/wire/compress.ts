/** zlib (raw deflate) for payloads that shrink; bounded inflate so a small frame cannot expand into gigabytes. */
import { deflateRawSync, inflateRawSync, constants } from "node:zlib";

/** Below this size deflate rarely saves the bytes its own header costs. */
export const DEFAULT_COMPRESS_THRESHOLD = 128;

export function maybeCompress(payload: Buffer, threshold = DEFAULT_COMPRESS_THRESHOLD): { data: Buffer; compressed: boolean } {
  if (threshold <= 0 || payload.length < threshold) return { data: payload, compressed: false };
  const z = deflateRawSync(payload, { level: constants.Z_DEFAULT_COMPRESSION });
  return z.length < payload.length ? { data: z, compressed: true } : { data: payload, compressed: false };
}

/** Throws when the data is not valid deflate or would inflate beyond maxBytes. */
export function decompress(data: Buffer, maxBytes: number): Buffer {
  return inflateRawSync(data, { maxOutputLength: maxBytes });
}

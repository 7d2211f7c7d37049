// Libvirt failures as a typed Error class.

/** A few virErrorNumber values callers branch on. */
export const LibvirtErrorCode = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  NO_CONNECT: 5,
  INVALID_CONN: 6,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  SYSTEM_ERROR: 38,
  NO_DOMAIN: 42,
  OPERATION_INVALID: 55,
  AUTH_FAILED: 45,
  ARGUMENT_UNSUPPORTED: 74,
  AGENT_UNRESPONSIVE: 86,
  AGENT_UNSYNCED: 97,
} as const;

export class LibvirtError extends Error {
  /** virErrorNumber, -1 when the failure did not come from libvirt itself. */
  readonly code: number;
  /** virErrorDomain (which libvirt subsystem reported it), -1 if unknown. */
  readonly domain: number;
  constructor(message: string, code: number, domain: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LibvirtError";
    this.code = code;
    this.domain = domain;
  }
}

interface NativeErrorShape { message: string; code: number; domain: number }

function isNativeError(e: unknown): e is Error & NativeErrorShape {
  return e instanceof Error && !(e instanceof TypeError) &&
    typeof (e as Partial<NativeErrorShape>).code === "number" &&
    typeof (e as Partial<NativeErrorShape>).domain === "number";
}

/**
 * Converts the addon's plain Errors (with numeric code/domain) to LibvirtError; argument
 * TypeErrors pass through unchanged.
 */
export function toLibvirtError(e: unknown): unknown {
  if (isNativeError(e)) return new LibvirtError(e.message, e.code, e.domain, { cause: e });
  return e;
}

/** Awaits a native promise and rethrows its failure as LibvirtError. */
export async function call<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw toLibvirtError(e);
  }
}

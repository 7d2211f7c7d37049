/**
 * One ZabbixValue as it travels: validated once when it is pushed, serialised once into the JSON
 * object the sender request carries ({"host","key","value","clock","ns"}), spooled as those bytes
 * and sent as they are. Its (host, key) pair is read back from the bytes without a JSON parse.
 */
import type { ZabbixValue } from "./zabbix-value.js";

/** Zabbix 6.0 column sizes: hosts.host 128, items.key_ 2048; text values are cut at 64 KiB. */
export const MAX_HOST_CHARS = 128;
export const MAX_KEY_CHARS = 2048;
export const MAX_VALUE_CHARS = 65_535;
const MAX_CLOCK = 2 ** 31 - 1;

const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a value cannot be sent, or undefined when it can. */
export function invalidValueReason(v: unknown): string | undefined {
  if (!v || typeof v !== "object") return "not an object";
  const x = v as Record<string, unknown>;
  if (typeof x.host !== "string" || !x.host || x.host.length > MAX_HOST_CHARS || CONTROL.test(x.host) || LONE_SURROGATE.test(x.host)) {
    return `host ${JSON.stringify(x.host)?.slice(0, 80)} is not a Zabbix host name (1..${MAX_HOST_CHARS} printable characters)`;
  }
  if (typeof x.key !== "string" || !x.key || x.key.length > MAX_KEY_CHARS || CONTROL.test(x.key) || LONE_SURROGATE.test(x.key)) {
    return `key ${JSON.stringify(x.key)?.slice(0, 80)} is not an item key (1..${MAX_KEY_CHARS} printable characters)`;
  }
  if (typeof x.value === "number") {
    if (!Number.isFinite(x.value)) return `value ${x.value} is not finite`;
  } else if (typeof x.value === "string") {
    if (x.value.length > MAX_VALUE_CHARS) return `value of ${x.value.length} characters (max ${MAX_VALUE_CHARS})`;
    if (LONE_SURROGATE.test(x.value)) return "value is not well-formed Unicode (lone surrogate)";
  } else {
    return `value of type ${typeof x.value}`;
  }
  if (typeof x.clock !== "number" || !Number.isInteger(x.clock) || x.clock < 0 || x.clock > MAX_CLOCK) return `clock ${String(x.clock)} is not a Unix time in seconds`;
  if (typeof x.ns !== "number" || !Number.isInteger(x.ns) || x.ns < 0 || x.ns > 999_999_999) return `ns ${String(x.ns)} is not 0..999999999`;
  return undefined;
}

/** The request entry for a valid value. Numbers go as text: Zabbix parses the value text per item type. */
export function encodeValueEntry(v: ZabbixValue): Buffer {
  return Buffer.from(
    `{"host":${JSON.stringify(v.host)},"key":${JSON.stringify(v.key)},"value":${JSON.stringify(String(v.value))},"clock":${v.clock},"ns":${v.ns}}`,
  );
}

const VALUE_FIELD = Buffer.from(',"value":');

/**
 * The (host, key) identity of an entry: its bytes up to ',"value":'. Inside a JSON string every
 * quote is escaped, so that sequence first occurs right after the key. Undefined if not an entry.
 */
export function pairIdOfEntry(entry: Buffer): string | undefined {
  const i = entry.indexOf(VALUE_FIELD);
  return i > 0 ? entry.toString("utf8", 0, i) : undefined;
}

/** host and key of a pair id (for logs and the onUnknown hook; not on the hot path) */
export function pairOfId(pairId: string): { host: string; key: string } {
  const o = JSON.parse(`${pairId}}`) as { host: string; key: string };
  return { host: o.host, key: o.key };
}

/** The whole value back from an entry (tests, tools). */
export function decodeValueEntry(entry: Buffer): { host: string; key: string; value: string; clock: number; ns: number } {
  return JSON.parse(entry.toString("utf8")) as { host: string; key: string; value: string; clock: number; ns: number };
}

/**
 * The HTTP API's listen address (config `httpListen`) and the URL a client on the same machine
 * reaches it at. Unlike the UDP peers' host:port, port 0 (any free port) and "[v6]:port" are allowed.
 */
import { isIPv6 } from "node:net";
import { ConfigError } from "@ringwatch/shared";

export interface ListenAddress {
  host: string;
  port: number;
}

/** undefined: the HTTP server is disabled ("" or "off"). */
export function parseListenAddress(v: string, what = "httpListen"): ListenAddress | undefined {
  const t = v.trim();
  if (t === "" || t.toLowerCase() === "off") return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(t);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535 || (m[1] !== undefined && !isIPv6(m[1]))) {
    throw new ConfigError(`${what}: expected host:port or [ipv6]:port (port 0: any free port; "off": no HTTP server), got ${JSON.stringify(v)}`);
  }
  return { host: m[1] ?? m[2], port };
}

/** The base URL a local client uses for a server listening at `a` (a wildcard address means this machine). */
export function localUrl(a: ListenAddress, tls = false): string {
  const host = a.host === "0.0.0.0" ? "127.0.0.1" : a.host === "::" ? "::1" : a.host;
  return `${tls ? "https" : "http"}://${isIPv6(host) ? `[${host}]` : host}:${a.port}`;
}

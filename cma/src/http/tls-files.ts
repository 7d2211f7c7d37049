/**
 * Optional TLS for the HTTP API: httpsCert and httpsKey name PEM files, both or neither. Read once
 * at start; a missing or unreadable file, or a pair that does not belong together, stops the CMA
 * with a message naming the option.
 */
import { createSecureContext } from "node:tls";
import { readFileSync } from "node:fs";
import { ConfigError } from "@ringwatch/shared";

export function loadTls(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } | undefined {
  if (!certPath && !keyPath) return undefined;
  if (!certPath || !keyPath) throw new ConfigError(`httpsCert and httpsKey go together: ${certPath ? "httpsKey" : "httpsCert"} is missing`);
  const read = (option: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ConfigError(`${option}: cannot read ${path}: ${(e as Error).message}`);
    }
  };
  const cert = read("httpsCert", certPath), key = read("httpsKey", keyPath);
  try {
    createSecureContext({ cert, key }); // a certificate without its key fails here rather than at the first client
  } catch (e) {
    throw new ConfigError(`httpsCert/httpsKey: ${certPath} and ${keyPath} are not a PEM certificate and its private key: ${(e as Error).message}`);
  }
  return { cert, key };
}

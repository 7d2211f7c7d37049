/**
 * The CLI's side of the CMA's HTTP API (`query`, and `user`/`token` with --url): where the API is
 * (--url, else httpListen), the API token it sends (--token-file FILE, else the environment's
 * RINGWATCH_TOKEN; never a command-line argument, which other local users can read in ps), and one
 * call with a clear failure.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "@ringwatch/shared";
import type { CommandArgs } from "@ringwatch/shared";
import { localUrl, parseListenAddress } from "./http/listen-address.js";

export const TOKEN_ENV = "RINGWATCH_TOKEN";

export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** A refusal or an unreachable CMA: exit code 1 with this message. */
export class ApiFailure extends Error {
  constructor(
    message: string,
    /** the HTTP status when the CMA answered */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The API's origin: --url, else the configured httpListen. */
export function apiBase(values: CommandArgs["values"], httpListen: string): string {
  if (typeof values.url === "string") {
    try {
      return new URL(values.url).origin;
    } catch {
      throw new UsageError(`--url: not a URL: ${JSON.stringify(values.url)}`);
    }
  }
  const listen = parseListenAddress(httpListen);
  if (!listen) throw new UsageError('the HTTP API is off in the configuration (httpListen); give the CMA\'s address with --url http://HOST:PORT');
  return localUrl(listen);
}

/** The API token: the first line of --token-file, else RINGWATCH_TOKEN; undefined when neither is given. */
export function apiToken(values: CommandArgs["values"], env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = values["token-file"];
  if (file !== undefined) {
    if (typeof file !== "string" || !file) throw new UsageError("--token-file needs a file name");
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new UsageError(`--token-file: cannot read ${file}: ${(e as Error).message}`);
    }
    const t = text.split(/\r?\n/)[0].trim();
    if (!t) throw new UsageError(`--token-file: ${file} is empty`);
    return t;
  }
  const t = env[TOKEN_ENV]?.trim();
  return t ? t : undefined;
}

export async function apiCall(url: string, init: RequestInit, waitMs: number, token: string | undefined): Promise<ApiAnswer> {
  let res: Response;
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  try {
    res = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(waitMs) });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === "TimeoutError") throw new ApiFailure(`no answer from ${url} within ${waitMs} ms`);
    const why = err.cause?.code ?? err.cause?.message ?? err.message;
    throw new ApiFailure(`cannot reach the CMA's HTTP API at ${new URL(url).origin} (${why}); is the CMA running with httpListen set? (--url to point elsewhere)`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiFailure(`${url}: HTTP ${res.status} with an answer that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const b = body as { error?: unknown; message?: unknown };
    const hint = res.status === 401 && !token ? ` (no API token given: --token-file FILE or ${TOKEN_ENV})` : "";
    throw new ApiFailure(`HTTP ${res.status} ${typeof b.error === "string" ? b.error : "error"}: ${typeof b.message === "string" ? b.message : text.slice(0, 200)}${hint}`, res.status);
  }
  return { status: res.status, body };
}

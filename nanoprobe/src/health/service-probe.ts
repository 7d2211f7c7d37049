/**
 * One check of a guest's service from the hypervisor: a TCP connect, or an HTTP GET whose status
 * must be the expected one (redirects not followed, the body not read past its first bytes). Never
 * throws: the answer says what failed.
 */
import { connect } from "node:net";
import type { GuestCheckSpec } from "./guest-checks-file.js";

export interface ProbeAnswer {
  ok: boolean;
  /** why not, as an operator reads it */
  error?: string;
  ms: number;
}

function tcp(target: string, timeoutMs: number): Promise<string | undefined> {
  const i = target.lastIndexOf(":");
  const host = target.slice(0, i).replace(/^\[|\]$/g, "");
  return new Promise((resolve) => {
    const s = connect({ host, port: Number(target.slice(i + 1)) });
    const done = (err?: string) => {
      clearTimeout(timer);
      s.destroy();
      resolve(err);
    };
    const timer = setTimeout(() => done(`no connection within ${timeoutMs} ms`), timeoutMs);
    s.once("connect", () => done());
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

async function http(url: string, expect: number, timeoutMs: number): Promise<string | undefined> {
  try {
    const r = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs), headers: { "user-agent": "ringwatch-nanoprobe guest check" } });
    await r.body?.cancel();
    return r.status === expect ? undefined : `HTTP ${r.status}, expected ${expect}`;
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return err.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.message);
  }
}

export async function probeService(c: Pick<GuestCheckSpec, "kind" | "target" | "expectStatus" | "timeoutMs">): Promise<ProbeAnswer> {
  const t0 = performance.now();
  const error = c.kind === "tcp" ? await tcp(c.target, c.timeoutMs) : await http(c.target, c.expectStatus, c.timeoutMs);
  return { ok: error === undefined, ...(error ? { error } : {}), ms: Math.round(performance.now() - t0) };
}

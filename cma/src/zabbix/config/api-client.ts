/**
 * Zabbix JSON-RPC API client (6.0 LTS and later) over fetch.
 *
 * Authentication: an API token, or user.login with a user name and password (logged in again
 * once when Zabbix says the session ended). How the credential travels depends on the server:
 * 6.0 and 6.2 take it in the request's `auth` field; 6.4 added the `Authorization: Bearer` header
 * and 7.2 removed `auth`, so the version (apiinfo.version, which must be called without
 * credentials) decides. Every failure — network, timeout, HTTP status, a body that is not a
 * JSON-RPC answer, Zabbix's own error object — is a ZabbixApiError naming the method.
 */
import type { Logger } from "@ringwatch/shared";

export class ZabbixApiError extends Error {
  constructor(
    /** API method, e.g. host.get */
    readonly method: string,
    message: string,
    /** Zabbix's error code (-32602 …), or undefined when the failure is not Zabbix's answer */
    readonly code?: number,
    /** Zabbix's error.data: the useful part ("Not authorized.", "Invalid parameter …") */
    readonly data?: string,
  ) {
    super(`Zabbix API ${method}: ${message}`);
    this.name = "ZabbixApiError";
  }
}

export interface ZabbixApiOptions {
  /** http(s)://host/api_jsonrpc.php */
  url: string;
  /** API token (wins over user/password) */
  token?: string;
  user?: string;
  password?: string;
  timeoutMs?: number;
  log?: Logger;
}

/** What JSON-RPC params may hold. */
export type ApiParams = Record<string, unknown> | unknown[];

interface RpcAnswer {
  jsonrpc?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown; data?: unknown };
  id?: unknown;
}

const SESSION_GONE = /session terminated|re-login|not authori[sz]ed/i;
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** "6.0.14" → [6, 0]; anything else is an error (we must know how to authenticate). */
export function parseVersion(v: string): [number, number] {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?/.exec(v);
  if (!m) throw new ZabbixApiError("apiinfo.version", `unexpected version ${JSON.stringify(v).slice(0, 40)}`);
  return [Number(m[1]), Number(m[2])];
}

export function versionAtLeast(v: [number, number], major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

export class ZabbixApi {
  readonly counters = { calls: 0, errors: 0, logins: 0 };
  private readonly url: URL;
  private readonly timeoutMs: number;
  private session: string | undefined;
  private versionText: string | undefined;
  private nextId = 1;
  private loginInFlight: Promise<string> | undefined;

  constructor(private readonly o: ZabbixApiOptions) {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new ZabbixApiError("(config)", `API URL ${JSON.stringify(o.url)} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new ZabbixApiError("(config)", `API URL ${o.url} must be http or https`);
    if (!o.token && !(o.user && o.password !== undefined)) throw new ZabbixApiError("(config)", "an API token or a user and password are needed");
    this.url = url;
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  /** The server's version ("6.0.14"), asked once. */
  async version(): Promise<string> {
    if (this.versionText === undefined) {
      const v = await this.post("apiinfo.version", {}, undefined);
      if (typeof v !== "string") throw new ZabbixApiError("apiinfo.version", "the answer is not a version string");
      parseVersion(v);
      this.versionText = v;
    }
    return this.versionText;
  }

  async versionNumber(): Promise<[number, number]> {
    return parseVersion(await this.version());
  }

  /** Call an API method with credentials; a lapsed user session is renewed once. */
  async call<T = unknown>(method: string, params: ApiParams = {}): Promise<T> {
    await this.version();
    const usesLogin = !this.o.token;
    let cred = this.o.token ?? (await this.login());
    try {
      return (await this.post(method, params, cred)) as T;
    } catch (e) {
      if (!usesLogin || !(e instanceof ZabbixApiError) || e.code === undefined || !SESSION_GONE.test(e.data ?? "")) throw e;
      this.o.log?.info({ method, reason: e.data }, "Zabbix API session ended; logging in again");
      if (this.session === cred) this.session = undefined;
      cred = await this.login();
      return (await this.post(method, params, cred)) as T;
    }
  }

  /** Log in with user and password (once; concurrent callers share it). */
  private login(): Promise<string> {
    if (this.session) return Promise.resolve(this.session);
    this.loginInFlight ??= (async () => {
      try {
        const r = await this.post("user.login", { username: this.o.user, password: this.o.password }, undefined);
        if (typeof r !== "string" || !r) throw new ZabbixApiError("user.login", "the answer is not a session id");
        this.counters.logins++;
        this.session = r;
        return r;
      } finally {
        this.loginInFlight = undefined;
      }
    })();
    return this.loginInFlight;
  }

  /** End a user session we opened (tokens are left alone). */
  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await this.post("user.logout", [], s).catch(() => undefined);
  }

  private async post(method: string, params: ApiParams, cred: string | undefined): Promise<unknown> {
    this.counters.calls++;
    const id = this.nextId++;
    const body: Record<string, unknown> = { jsonrpc: "2.0", method, params, id };
    const headers: Record<string, string> = { "Content-Type": "application/json-rpc" };
    if (cred !== undefined) {
      if (this.versionText && versionAtLeast(parseVersion(this.versionText), 6, 4)) headers.Authorization = `Bearer ${cred}`;
      else body.auth = cred;
    }
    const fail = (message: string, code?: number, data?: string): never => {
      this.counters.errors++;
      throw new ZabbixApiError(method, message, code, data);
    };
    let res: Response;
    try {
      res = await fetch(this.url, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs), redirect: "error" });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      if (err.name === "TimeoutError") return fail(`no answer from ${this.url.origin} within ${this.timeoutMs} ms`);
      return fail(`cannot reach ${this.url.origin}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      return fail(`reading the answer failed: ${(e as Error).message}`);
    }
    if (!res.ok) return fail(`HTTP ${res.status} ${res.statusText} from ${this.url.href}`);
    if (text.length > MAX_ANSWER_BYTES) return fail(`answer of ${text.length} bytes is too large`);
    let a: RpcAnswer;
    try {
      a = JSON.parse(text) as RpcAnswer;
    } catch {
      return fail(`the answer is not JSON (is ${this.url.href} the Zabbix API?): ${JSON.stringify(text.slice(0, 80))}`);
    }
    if (!a || typeof a !== "object" || a.jsonrpc !== "2.0") return fail("the answer is not a JSON-RPC 2.0 object");
    if (a.error) {
      const code = typeof a.error.code === "number" ? a.error.code : -1;
      const msg = typeof a.error.message === "string" ? a.error.message : "error";
      const data = typeof a.error.data === "string" ? a.error.data : JSON.stringify(a.error.data ?? "");
      return fail(`${msg} ${data}`.trim(), code, data);
    }
    if (a.id !== id) return fail(`answer id ${JSON.stringify(a.id)} does not match request id ${id}`);
    if (!("result" in a)) return fail("the answer has neither result nor error");
    return a.result;
  }
}

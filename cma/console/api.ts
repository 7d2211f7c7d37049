// Calls to the CMA's API from the console: the session cookie is HttpOnly (the page never sees
// it); writes carry the CSRF token the session gave.
export interface Me { user: string; role: "viewer" | "operator" | "admin"; via: string; csrfToken?: string }

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

let csrfToken = "";
let onSignedOut: (message: string) => void = () => {};

export function setCsrfToken(token: string): void { csrfToken = token; }
export function whenSignedOut(f: (message: string) => void): void { onSignedOut = f; }

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const method = (init.method ?? "GET").toUpperCase();
  const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined), ...(method !== "GET" && csrfToken ? { "x-csrf-token": csrfToken } : {}) };
  const res = await fetch(path, { ...init, headers, credentials: "same-origin" });
  const body = await res.json().catch(() => ({ error: "bad-response", message: `HTTP ${res.status}` }));
  if (res.status === 401 && path !== "/api/session") onSignedOut("signed out: sign in again");
  if (!res.ok) throw new ApiError(res.status, body.error, `${body.error}: ${body.message}`);
  return body as T;
}

export const postJson = <T>(path: string, body: unknown): Promise<T> =>
  api<T>(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

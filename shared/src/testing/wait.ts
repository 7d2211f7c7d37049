/** Poll until cond() holds; rejects after timeoutMs naming what was awaited. For tests and tools. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string, pollMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Poll an asynchronous check until it gives a value (undefined, or a rejection, means not yet);
 * rejects after timeoutMs naming what was awaited. For tests that have to ask (HTTP, Zabbix's API).
 */
export async function waitForValue<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string, pollMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

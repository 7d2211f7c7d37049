/** Poll until cond() holds; rejects after timeoutMs naming what was awaited. For tests and tools. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string, pollMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * The graph worker: a child process of the CMA that hosts Kuzu. Kuzu runs ad-hoc Cypher in
 * native code, and some queries crash it (kuzu 0.11.3: `RETURN 1 IN NULL` is a segmentation
 * fault); in here such a query costs a worker restart, not the CMA. Requests are answered in
 * any order; writes are applied one at a time, in the order they came.
 */
import { GraphQueryError } from "./graph-store.js";
import { KuzuEngine } from "./kuzu-engine.js";
import type { WorkerReply, WorkerRequest } from "./kuzu-protocol.js";

let engine: KuzuEngine | undefined;
let writes: Promise<unknown> = Promise.resolve();

function reply(r: WorkerReply): void {
  process.send?.(r);
}

function fail(id: number, e: unknown): void {
  const g = e instanceof GraphQueryError ? e : new GraphQueryError("store", e instanceof Error ? e.message : String(e));
  reply({ id, ok: false, code: g.code, message: g.message });
}

async function handle(m: WorkerRequest): Promise<void> {
  if (m.op === "init") {
    if (!engine) {
      engine = new KuzuEngine(m.options);
      await engine.init();
    }
    return reply({ id: m.id, ok: true });
  }
  const e = engine;
  if (!e) throw new GraphQueryError("store", "the graph store is not open");
  if (m.op === "write") {
    const run = writes.then(() => e.write(m.statements, m.slowMs));
    writes = run.catch(() => undefined);
    const slow = await run;
    return reply({ id: m.id, ok: true, ...(slow.length ? { slow } : {}) });
  }
  if (m.op === "read") return reply({ id: m.id, ok: true, result: await e.read(m.cypher, m.params, m.limits) });
  if (m.op === "stats") return reply({ id: m.id, ok: true, stats: e.stats });
  await writes;
  await e.close();
  engine = undefined;
  reply({ id: m.id, ok: true });
  process.disconnect?.();
}

process.on("message", (m: WorkerRequest) => {
  handle(m).catch((e: unknown) => fail(m.id, e));
});
// The CMA went away: nothing more will be asked.
process.on("disconnect", () => {
  setTimeout(() => process.exit(1), 10_000).unref(); // never outlive the CMA holding the database lock
  void (engine?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});

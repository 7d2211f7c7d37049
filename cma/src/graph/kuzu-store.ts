/**
 * The embedded Kuzu store (the default): the database lives on disk (e.g. <dataDir>/graph) and
 * is run by a worker process this store starts (kuzu-worker.ts), so a query that crashes or
 * wedges the engine never takes the CMA down: the worker is restarted on the next request and
 * the caller gets a GraphQueryError. Reads run in read-only transactions inside the worker.
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Logger } from "@ringwatch/shared";
import { GraphQueryError } from "./graph-store.js";
import type { GraphParams, GraphStore, ReadLimits, ReadResult } from "./graph-store.js";
import type { EngineStats } from "./kuzu-engine.js";
import type { WorkerReply, WorkerRequest } from "./kuzu-protocol.js";
import { checkParams, checkReadQuery, isEmptyUnwind, resolveLimits } from "./query-checks.js";

export interface KuzuStoreOptions {
  /** the database path (Kuzu 0.11 keeps it as one file plus a .wal beside it) */
  path: string;
  bufferPoolMb: number;
  /** checkpoint once the write-ahead log is this large (default: Kuzu's 16 MiB) */
  checkpointWalBytes?: number;
  log: Logger;
  /** write statements slower than this are logged (default 2 s) */
  slowStatementMs?: number;
  /** a read that has not answered this long after its own timeout is abandoned and the worker restarted */
  hardTimeoutGraceMs?: number;
}

/** a request and the worker it went to: a worker's exit answers only its own requests */
type Pending = { resolve: (r: WorkerReply) => void; timer?: NodeJS.Timeout; child: ChildProcess };
type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

const WORKER = fileURLToPath(new URL("./kuzu-worker.js", import.meta.url));

export class KuzuStore implements GraphStore {
  readonly kind = "kuzu";
  readonly counters = { workerStarts: 0, workerCrashes: 0, reads: 0, writes: 0 };
  private child?: ChildProcess;
  private starting?: Promise<ChildProcess>;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(private readonly o: KuzuStoreOptions) {}

  /** Requests sent to the worker and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** The worker process hosting Kuzu (undefined while none runs): for status and operators. */
  get workerPid(): number | undefined {
    return this.child?.pid;
  }

  async init(): Promise<void> {
    this.closed = false;
    await this.worker();
  }

  private worker(): Promise<ChildProcess> {
    if (this.closed) return Promise.reject(new GraphQueryError("store", "the graph store is closed"));
    if (this.child) return Promise.resolve(this.child);
    this.starting ??= this.spawn().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async spawn(): Promise<ChildProcess> {
    const child = fork(WORKER, [], { serialization: "advanced", execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.counters.workerStarts++;
    child.on("message", (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (p.timer) clearTimeout(p.timer);
      p.resolve(r);
    });
    child.once("exit", (code, signal) => {
      if (this.child === child) this.child = undefined;
      const expected = this.closed && code === 0;
      if (!expected) {
        this.counters.workerCrashes++;
        this.o.log.error({ code, signal, inFlight: this.pending.size }, "graph worker stopped; it is restarted on the next request");
      }
      const why = `the graph engine stopped (${signal ?? `exit ${code}`}) before answering; it restarts on the next request`;
      for (const [id, p] of this.pending) {
        if (p.child !== child) continue;
        this.pending.delete(id);
        if (p.timer) clearTimeout(p.timer);
        p.resolve({ id, ok: false, code: "store", message: why });
      }
    });
    child.on("error", (e) => this.o.log.error({ err: e.message }, "graph worker error"));
    const poolMb = this.o.bufferPoolMb;
    const r = await this.send(child, {
      op: "init",
      options: { path: this.o.path, bufferPoolBytes: poolMb * 1024 * 1024, checkpointWalBytes: this.o.checkpointWalBytes },
    });
    if (!r.ok) {
      child.kill("SIGKILL");
      throw new GraphQueryError(r.code, `cannot open the graph at ${this.o.path}: ${r.message}`);
    }
    this.child = child;
    return child;
  }

  private send(child: ChildProcess, req: Request, hardTimeoutMs?: number): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const p: Pending = { resolve, child };
      if (hardTimeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          this.o.log.warn({ hardTimeoutMs }, "graph query did not stop at its timeout; restarting the graph worker");
          // forget this worker now, so the next request starts a fresh one instead of being sent
          // to the one being killed
          if (this.child === child) this.child = undefined;
          child.kill("SIGKILL");
          resolve({ id, ok: false, code: "timeout", message: "the query ran out of time and was stopped" });
        }, hardTimeoutMs);
      }
      this.pending.set(id, p);
      try {
        child.send({ ...req, id } as WorkerRequest);
      } catch (e) {
        this.pending.delete(id);
        if (p.timer) clearTimeout(p.timer);
        resolve({ id, ok: false, code: "store", message: `cannot reach the graph engine: ${e instanceof Error ? e.message : String(e)}` });
      }
    });
  }

  /** What the engine in the current worker did (opens, reads, writes, checkpoints). */
  async engineStats(): Promise<EngineStats> {
    const r = await this.send(await this.worker(), { op: "stats" });
    if (!r.ok || !r.stats) throw new GraphQueryError(r.ok ? "store" : r.code, r.ok ? "no stats" : r.message);
    return r.stats;
  }

  async write(statements: readonly { cypher: string; params?: GraphParams }[]): Promise<void> {
    const todo = statements.filter((s) => !isEmptyUnwind(s.cypher, s.params));
    for (const s of todo) {
      const err = checkParams(s.params, "write");
      if (err) throw err;
    }
    if (todo.length === 0) return;
    const r = await this.send(await this.worker(), { op: "write", statements: todo.map((s) => ({ cypher: s.cypher, params: s.params })), slowMs: this.o.slowStatementMs ?? 2000 });
    if (!r.ok) throw new GraphQueryError(r.code, r.message);
    this.counters.writes++;
    for (const s of r.slow ?? []) this.o.log.warn(s, "slow graph write statement");
  }

  async read(cypher: string, params?: GraphParams, limits?: Partial<ReadLimits>): Promise<ReadResult> {
    const l = resolveLimits(limits);
    const err = checkReadQuery(cypher) ?? checkParams(params, "read");
    if (err) throw err;
    this.counters.reads++;
    const r = await this.send(await this.worker(), { op: "read", cypher, params, limits: l }, l.timeoutMs + (this.o.hardTimeoutGraceMs ?? 5000));
    if (!r.ok) throw new GraphQueryError(r.code, r.message);
    return r.result!;
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child ?? (await this.starting?.catch(() => undefined));
    if (!child) return;
    const exited = new Promise<void>((res) => (child.exitCode !== null || child.signalCode !== null ? res() : child.once("exit", () => res())));
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await this.send(child, { op: "close" }, 10_000);
    await exited;
    clearTimeout(kill);
    this.child = undefined;
  }
}

// DiscoveryRunner: runs each discovery script on its own interval, at most `concurrency` at a
// time and never two runs of one script at once; emits "document" when a script's data
// changed and "error" (typed) when a run failed. Script failures never throw. Each script runs
// at its own random point of its interval (spread-schedule.ts), so hosts booting together do not
// run (and send) in step. Each run's CPU is counted per script (cpu-accounting.ts).
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { DISCOVERY_DEFAULTS } from "./defaults.js";
import { runProcess, type RunHandle, type RunLimits } from "./run-process.js";
import { findAccountingShell, type RunCpu } from "./cpu-accounting.js";
import { stableHash } from "./stable-hash.js";
import type {
  DiscoveryDocumentEvent, DiscoveryError, DiscoveryOutcome, DiscoveryRunnerEvents, DiscoveryScript, DiscoveryScriptStats,
} from "./types.js";
import { parseDocument } from "@ringwatch/shared";
import { IN_STEP, SpreadSchedule } from "../spread-schedule.js";
import type { SpreadOptions } from "../spread-schedule.js";

export interface DiscoveryRunnerOptions {
  scripts: readonly DiscoveryScript[];
  /** Defaults: see DISCOVERY_DEFAULTS. */
  concurrency?: number;
  defaultIntervalMs?: number;
  defaultTimeoutMs?: number;
  maxOutputBytes?: number;
  stderrTailBytes?: number;
  /** Base environment for scripts (default process.env); each script's env is added to it. */
  env?: NodeJS.ProcessEnv;
  /** Where in its interval each script runs; default: all at start, then in step. */
  spread?: SpreadOptions;
  /** bash for the CPU-accounting wrapper; default /bin/bash when present; null: no wrapper, CPU unknown */
  accountingShell?: string | null;
}

interface ScriptState {
  spec: DiscoveryScript;
  intervalMs: number;
  schedule: SpreadSchedule;
  timer: NodeJS.Timeout | null;
  /** Set while the script is queued or running: later requests share it. */
  pending: Promise<DiscoveryOutcome> | null;
  settle: ((o: DiscoveryOutcome) => void) | null;
  handle: RunHandle | null;
  lastHash: string | null;
  stats: DiscoveryScriptStats;
}

export class DiscoveryRunner extends EventEmitter<DiscoveryRunnerEvents> {
  private readonly states = new Map<string, ScriptState>();
  private readonly queue: ScriptState[] = [];
  private readonly concurrency: number;
  private readonly limits: Omit<RunLimits, "timeoutMs">;
  private readonly defaultTimeoutMs: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly accountingShell: string | null;
  private active = 0;
  /** performance.now() at start(): the scripts' schedules count from it */
  private startedAt = 0;
  private started = false;
  private stopped = false;

  constructor(options: DiscoveryRunnerOptions) {
    super();
    this.concurrency = Math.max(1, options.concurrency ?? DISCOVERY_DEFAULTS.concurrency);
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DISCOVERY_DEFAULTS.timeoutMs;
    this.limits = {
      maxOutputBytes: options.maxOutputBytes ?? DISCOVERY_DEFAULTS.maxOutputBytes,
      stderrTailBytes: options.stderrTailBytes ?? DISCOVERY_DEFAULTS.stderrTailBytes,
    };
    this.env = options.env ?? process.env;
    this.accountingShell = options.accountingShell === undefined ? findAccountingShell() : options.accountingShell;
    for (const spec of options.scripts) {
      if (this.states.has(spec.name)) throw new Error(`duplicate discovery script name "${spec.name}"`);
      const intervalMs = Math.max(1, spec.intervalMs ?? options.defaultIntervalMs ?? DISCOVERY_DEFAULTS.intervalMs);
      this.states.set(spec.name, {
        spec,
        intervalMs,
        schedule: new SpreadSchedule(intervalMs, options.spread ?? IN_STEP),
        timer: null, pending: null, settle: null, handle: null, lastHash: null,
        stats: {
          runs: 0, errors: 0, skipped: 0, documents: 0, lastRunAt: null, lastDurationMs: null, lastError: null, running: false,
          cpu: { measuredRuns: 0, unknownRuns: 0, lastMs: null, maxMs: null, totalMs: 0, totalUserMs: 0, totalSystemMs: 0 },
        },
      });
    }
  }

  get scriptNames(): string[] {
    return [...this.states.keys()];
  }

  /** A script as it was given (command, env, interval, timeout), or undefined. */
  script(name: string): Readonly<DiscoveryScript> | undefined {
    return this.states.get(name)?.spec;
  }

  /** Runs every script at its first run (at once without a spread), then each on its interval. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.startedAt = performance.now();
    for (const st of this.states.values()) this.schedule(st, st.schedule.firstRunMs);
  }

  /** Each script's schedule: its phase in its interval and its first run, ms after start(). */
  schedules(): Record<string, SpreadSchedule> {
    return Object.fromEntries([...this.states].map(([n, st]) => [n, st.schedule]));
  }

  /**
   * Runs one script now (or joins its queued/running run: never two at once) and resolves
   * with the outcome; the usual events are emitted too. Rejects only for an unknown name.
   */
  runNow(name: string): Promise<DiscoveryOutcome> {
    const st = this.states.get(name);
    if (!st) return Promise.reject(new Error(`unknown discovery script "${name}"`));
    return this.request(st);
  }

  /** Forget what was emitted, so the next document of each script (or one) is emitted even if unchanged (e.g. after the CMA restarted). */
  resend(name?: string): void {
    for (const st of this.states.values()) if (name === undefined || st.spec.name === name) st.lastHash = null;
  }

  stats(): Record<string, DiscoveryScriptStats> {
    return Object.fromEntries([...this.states].map(([n, st]) => [n, { ...st.stats, cpu: { ...st.stats.cpu } }]));
  }

  /** What the nanoprobe's status line shows per script: runs, failures and CPU, without the last error's text. */
  status(): Record<string, Pick<DiscoveryScriptStats, "runs" | "errors" | "skipped" | "lastRunAt" | "lastDurationMs" | "cpu">> {
    return Object.fromEntries([...this.states].map(([n, { stats: s }]) => [n, { runs: s.runs, errors: s.errors, skipped: s.skipped, lastRunAt: s.lastRunAt, lastDurationMs: s.lastDurationMs, cpu: { ...s.cpu } }]));
  }

  /** Stops scheduling, cancels queued runs, kills running ones and waits for them to end; no events after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running: Promise<DiscoveryOutcome>[] = [];
    for (const st of this.states.values()) {
      if (st.timer) clearTimeout(st.timer);
      st.timer = null;
      if (st.handle) { st.handle.kill(); if (st.pending) running.push(st.pending); }
    }
    for (const st of this.queue.splice(0)) this.complete(st, { script: st.spec.name, status: "cancelled" });
    await Promise.all(running);
  }

  private schedule(st: ScriptState, delayMs: number): void {
    if (this.stopped) return;
    if (st.timer) clearTimeout(st.timer);
    st.timer = setTimeout(() => {
      st.timer = null;
      if (st.pending) st.stats.skipped++;
      void this.request(st);
    }, delayMs);
  }

  private request(st: ScriptState): Promise<DiscoveryOutcome> {
    if (st.pending) return st.pending;
    if (this.stopped) return Promise.resolve({ script: st.spec.name, status: "cancelled" });
    st.pending = new Promise<DiscoveryOutcome>((resolve) => { st.settle = resolve; });
    this.queue.push(st);
    this.pump();
    return st.pending;
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0 && !this.stopped) {
      const st = this.queue.shift() as ScriptState;
      this.active++;
      void this.execute(st).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private async execute(st: ScriptState): Promise<void> {
    const name = st.spec.name;
    const at = Date.now();
    const sinceStart = performance.now() - this.startedAt;
    st.stats.running = true;
    let outcome: DiscoveryOutcome;
    try {
      st.handle = runProcess(
        { command: st.spec.command, args: st.spec.args ?? [], env: { ...this.env, ...st.spec.env }, accountingShell: this.accountingShell },
        { ...this.limits, timeoutMs: st.spec.timeoutMs ?? this.defaultTimeoutMs },
      );
      const r = await st.handle.result;
      const durationMs = Date.now() - at;
      const cpu = r.cpu;
      if (!r.ok) {
        outcome = { script: name, status: "error", error: { script: name, kind: r.kind, detail: r.detail, stderrTail: r.stderrTail, at, durationMs }, cpu };
      } else {
        const p = parseDocument(r.stdout);
        if (!p.ok) {
          outcome = { script: name, status: "error", error: { script: name, kind: p.kind, detail: p.detail, stderrTail: r.stderrTail, at, durationMs }, cpu };
        } else {
          const hash = stableHash(p.document.data);
          outcome = { script: name, status: "document", changed: hash !== st.lastHash, event: { script: name, document: p.document, hash, at, durationMs }, cpu };
        }
      }
    } catch (e) {
      // Not expected (runProcess never rejects); kept so one bad run cannot stop the schedule.
      outcome = { script: name, status: "error", error: { script: name, kind: "spawn", detail: e instanceof Error ? e.message : String(e), stderrTail: "", at, durationMs: Date.now() - at }, cpu: null };
    }
    countCpu(st.stats.cpu, outcome.cpu);
    st.handle = null;
    st.stats.running = false;
    st.stats.runs++;
    st.stats.lastRunAt = at;
    st.stats.lastDurationMs = Date.now() - at;
    if (outcome.status === "error") {
      st.stats.errors++;
      st.stats.lastError = outcome.error;
    } else if (outcome.status === "document") {
      st.stats.lastError = null;
      if (outcome.changed) {
        st.lastHash = outcome.event.hash;
        st.stats.documents++;
      }
    }
    this.complete(st, outcome);
    if (this.started) this.schedule(st, Math.max(0, st.schedule.nextRunAfter(sinceStart) - (performance.now() - this.startedAt)));
  }

  /** Settles the run's promise, then emits; a throwing listener surfaces outside the runner. */
  private complete(st: ScriptState, outcome: DiscoveryOutcome): void {
    const settle = st.settle;
    st.pending = null;
    st.settle = null;
    settle?.(outcome);
    if (this.stopped) return;  // runs killed by stop() are not news
    try {
      if (outcome.status === "document" && outcome.changed) this.emit("document", outcome.event);
      // An "error" event without a listener would throw: failures are also in stats().
      else if (outcome.status === "error" && this.listenerCount("error") > 0) this.emit("error", outcome.error);
    } catch (e) {
      process.nextTick(() => { throw e; });
    }
  }
}

function countCpu(c: DiscoveryScriptStats["cpu"], cpu: RunCpu | null): void {
  if (cpu === null) {
    c.unknownRuns++;
    c.lastMs = null;
    return;
  }
  const ms = cpu.userMs + cpu.systemMs;
  c.measuredRuns++;
  c.lastMs = ms;
  c.maxMs = Math.max(c.maxMs ?? 0, ms);
  c.totalMs += ms;
  c.totalUserMs += cpu.userMs;
  c.totalSystemMs += cpu.systemMs;
}

// Public types of the discovery runner.

/** What every discovery script prints: exactly one JSON object of this shape. */
import type { DiscoveryDocument } from "@ringwatch/shared";
export type { DiscoveryDocument };

export interface DiscoveryScript {
  /** Unique name; error and document events carry it. */
  name: string;
  /** Executable path. */
  command: string;
  args?: readonly string[];
  /** Added to the nanoprobe's environment (e.g. LIBVIRT_URI). */
  env?: Readonly<Record<string, string>>;
  intervalMs?: number;
  timeoutMs?: number;
}

export type DiscoveryErrorKind =
  | "timeout" | "exit" | "signal" | "invalid-json" | "invalid-document" | "too-large" | "spawn";

export interface DiscoveryError {
  script: string;
  kind: DiscoveryErrorKind;
  detail: string;
  /** The last bytes of the script's stderr (utf-8, possibly cut mid-line). */
  stderrTail: string;
  /** Epoch ms when the run started, and how long it took. */
  at: number;
  durationMs: number;
}

export interface DiscoveryDocumentEvent {
  script: string;
  document: DiscoveryDocument;
  /** Stable hash (sha256) of document.data. */
  hash: string;
  at: number;
  durationMs: number;
}

/** User and system CPU of one run: the script and the descendants it waited for (cpu-accounting.ts). */
export type { RunCpu } from "./cpu-accounting.js";
import type { RunCpu } from "./cpu-accounting.js";

/** Result of one run, as runNow() resolves it; `cpu` null when it could not be measured. */
export type DiscoveryOutcome =
  | { script: string; status: "document"; changed: boolean; event: DiscoveryDocumentEvent; cpu: RunCpu | null }
  | { script: string; status: "error"; error: DiscoveryError; cpu: RunCpu | null }
  /** The runner was stopped before this run started. */
  | { script: string; status: "cancelled" };

export interface DiscoveryRunnerEvents {
  document: [DiscoveryDocumentEvent];
  error: [DiscoveryError];
}

export interface DiscoveryScriptStats {
  runs: number;
  errors: number;
  /** Runs not started because the previous one was still queued or running. */
  skipped: number;
  documents: number;
  lastRunAt: number | null;
  lastDurationMs: number | null;
  lastError: DiscoveryError | null;
  running: boolean;
  /** CPU (user + system ms) of the script and its reaped descendants, per finished run, killed ones included */
  cpu: DiscoveryCpuStats;
}

export interface DiscoveryCpuStats {
  /** runs whose CPU was measured */
  measuredRuns: number;
  /** runs whose CPU is unknown: no accounting shell, or its output missing or malformed */
  unknownRuns: number;
  lastMs: number | null;
  maxMs: number | null;
  totalMs: number;
  totalUserMs: number;
  totalSystemMs: number;
}

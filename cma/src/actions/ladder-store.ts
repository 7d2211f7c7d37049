/**
 * The ladders' state on disk (`<dataDir>/ladders.json`): every ladder under way or recently ended,
 * and the actions of the rate-limit window. Written whole (temporary file, fsync, rename) before a
 * step is carried out and after, so a CMA that dies in between finds the step marked in flight and
 * does not repeat it. A damaged file stops the CMA naming it, rather than forget ladders.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "@ringwatch/shared";

export type StepOutcome = "ok" | "refused" | "failed" | "dry-run" | "interrupted";

export interface LadderRecord {
  /** which step (index in the policy's steps), what it was, when, and how it went */
  step: number;
  what: string;
  at: number;
  outcome: StepOutcome;
  detail?: string;
}

export interface LadderState {
  id: string;
  uuid: string;
  name: string;
  host: string;
  startedAt: number;
  /** the policy's steps when it started (a changed policy does not change a ladder under way) */
  steps: string[];
  /** index of the next step */
  next: number;
  dueAt: number;
  /** the step being carried out: written before it is, so a restart does not repeat it */
  inFlight?: number;
  status: "running" | "escalated" | "ended";
  endedAt?: number;
  endReason?: string;
  history: LadderRecord[];
  /** the alert's evidence when the ladder started */
  evidence: string;
  /** how far it has gone (ladder.ts LADDER_LEVELS): Zabbix's problem severity follows it */
  level?: number;
}

export interface ActionMark {
  ladder: string;
  uuid: string;
  host: string;
  at: number;
}

export interface LadderFile {
  ladders: LadderState[];
  actions: ActionMark[];
}

export const LADDER_FILE = "ladders.json";

export class LadderStore {
  readonly path: string;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, LADDER_FILE);
  }

  load(): LadderFile {
    if (!existsSync(this.path)) return { ladders: [], actions: [] };
    try {
      const doc = JSON.parse(readFileSync(this.path, "utf8")) as LadderFile;
      if (!Array.isArray(doc.ladders) || !Array.isArray(doc.actions)) throw new Error("expected {ladders: [], actions: []}");
      for (const l of doc.ladders) if (typeof l.id !== "string" || typeof l.uuid !== "string" || !Array.isArray(l.steps) || !Array.isArray(l.history) || typeof l.next !== "number") throw new Error(`a ladder entry is malformed: ${JSON.stringify(l).slice(0, 120)}`);
      return doc;
    } catch (e) {
      throw new ConfigError(`ladder state ${this.path} is damaged: ${(e as Error).message} (move it away to start without the ladders it held)`);
    }
  }

  /** Writes the whole state durably. Throws when it cannot: a step is not carried out unrecorded. */
  save(f: LadderFile): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify(f));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}

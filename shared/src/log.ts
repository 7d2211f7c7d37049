/**
 * Structured logging (pino, as fastify uses). Levels: info by default; --debug explains decisions
 * (joins, ring changes, retransmits, spool state); trace adds per-datagram drops.
 */
import { pino, destination, stdTimeFunctions } from "pino";
import type { Logger, LevelWithSilent } from "pino";

export type { Logger };

export interface LogOptions {
  name: string;
  level?: LevelWithSilent;
  /** write to this file descriptor instead of stdout (2 = stderr) */
  fd?: number;
}

export function createLogger(o: LogOptions): Logger {
  return pino(
    { name: o.name, level: o.level ?? "info", base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime },
    destination({ fd: o.fd ?? 1, sync: true }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

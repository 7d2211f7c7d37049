/**
 * Structured logging (pino, as fastify uses). Levels: info by default; --debug explains decisions
 * (joins, ring changes, retransmits, spool state); trace adds per-datagram drops.
 *
 * JSON lines are the default for daemons and files; a person at a terminal gets pino-pretty's
 * lines instead (format "auto" decides by whether the descriptor is a terminal).
 */
import { createRequire } from "node:module";
import { isatty } from "node:tty";
import { pino, destination, stdTimeFunctions } from "pino";
import type { DestinationStream, Logger, LevelWithSilent } from "pino";

export type { Logger };

export type LogFormat = "auto" | "json" | "pretty";

export interface LogOptions {
  name: string;
  level?: LevelWithSilent;
  /** write to this file descriptor instead of stdout (2 = stderr) */
  fd?: number;
  /** json, pretty, or auto (pretty on a terminal); default auto */
  format?: LogFormat;
}

export function createLogger(o: LogOptions): Logger {
  const fd = o.fd ?? 1;
  const tty = isatty(fd);
  const pretty = o.format === "pretty" || ((o.format ?? "auto") === "auto" && tty);
  return pino(
    { name: o.name, level: o.level ?? "info", base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime },
    pretty ? prettyStream(fd, tty) : destination({ fd, sync: true }),
  );
}

/** pino-pretty, loaded only when asked for: a daemon writing JSON never pays for it. */
function prettyStream(fd: number, colorize: boolean): DestinationStream {
  const require = createRequire(import.meta.url);
  const { PinoPretty } = require("pino-pretty") as typeof import("pino-pretty");
  return PinoPretty({ destination: fd, sync: true, colorize, singleLine: true, translateTime: "SYS:HH:MM:ss.l", ignore: "hostname" });
}

export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

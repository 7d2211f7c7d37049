/**
 * Command-line plumbing shared by the processes: subcommands, --help, --config, --debug,
 * --print-config, and clear errors (exit code 2) for bad arguments or configuration.
 */
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { ConfigError, describeSchema, loadConfig } from "./config.js";
import type { ConfigOf, Schema } from "./config.js";

export interface CommandSpec {
  summary: string;
  /** extra options beyond --config/--debug/--help */
  options?: NonNullable<ParseArgsConfig["options"]>;
  usage?: string;
  run(args: CommandArgs): Promise<number | void>;
}

export interface CommandArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  debug: boolean;
  configFile?: string;
}

export interface CliSpec {
  program: string;
  description: string;
  commands: Record<string, CommandSpec>;
  defaultCommand: string;
  schema: Schema;
}

const COMMON: NonNullable<ParseArgsConfig["options"]> = {
  config: { type: "string", short: "c" },
  debug: { type: "boolean", short: "d" },
  help: { type: "boolean", short: "h" },
  "print-config": { type: "boolean" },
};

function help(spec: CliSpec, command?: string): string {
  const lines = [`${spec.program}: ${spec.description}`, "", `usage: ${spec.program} [command] [options]`, "", "commands:"];
  for (const [name, c] of Object.entries(spec.commands)) {
    lines.push(`  ${name.padEnd(10)} ${c.summary}${name === spec.defaultCommand ? " (default)" : ""}`);
  }
  lines.push("", "options:", "  -c, --config FILE   JSON configuration file (environment RINGWATCH_* overrides it)",
    "  -d, --debug         log at debug level: explains joins, ring changes, retransmits",
    "      --print-config  print the effective configuration and exit", "  -h, --help          this help");
  const c = command ? spec.commands[command] : undefined;
  if (c?.usage) lines.push("", c.usage);
  lines.push("", "configuration options:", describeSchema(spec.schema));
  return lines.join("\n");
}

export async function runCli(spec: CliSpec, argv = process.argv.slice(2)): Promise<number> {
  let command = spec.defaultCommand;
  if (argv[0] && !argv[0].startsWith("-")) {
    if (!spec.commands[argv[0]]) {
      process.stderr.write(`${spec.program}: unknown command "${argv[0]}" (try --help)\n`);
      return 2;
    }
    command = argv[0];
    argv = argv.slice(1);
  }
  const c = spec.commands[command];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON, ...(c.options ?? {}) }, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`${spec.program}: ${(e as Error).message} (try --help)\n`);
    return 2;
  }
  const v = parsed.values as CommandArgs["values"];
  if (v.help) {
    process.stdout.write(`${help(spec, command)}\n`);
    return 0;
  }
  const configFile = typeof v.config === "string" ? v.config : undefined;
  if (v["print-config"]) {
    try {
      process.stdout.write(`${JSON.stringify(loadConfig(spec.schema, { file: configFile }), null, 2)}\n`);
      return 0;
    } catch (e) {
      process.stderr.write(`${spec.program}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  try {
    const rc = await c.run({ values: v, positionals: parsed.positionals, debug: v.debug === true, configFile });
    return rc ?? 0;
  } catch (e) {
    if (e instanceof ConfigError || (e as Error).name === "UsageError") {
      process.stderr.write(`${spec.program}: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function loadProcessConfig<S extends Schema>(schema: S, args: CommandArgs): ConfigOf<S> {
  return loadConfig(schema, { file: args.configFile });
}

/** Parse "host:port" (IPv4 or name) from configuration; port required. */
export function parseHostPort(v: string, what: string): { address: string; port: number } {
  const m = /^([^:\s]+):(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new ConfigError(`${what}: expected host:port, got ${JSON.stringify(v)}`);
  return { address: m[1], port };
}

/** Resolve on the first SIGTERM or SIGINT (daemons run in the foreground and stop cleanly). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals): void => {
      process.off("SIGTERM", on);
      process.off("SIGINT", on);
      resolve(s);
    };
    process.on("SIGTERM", on);
    process.on("SIGINT", on);
  });
}

/**
 * Configuration: one JSON file per process plus environment overrides (RINGWATCH_<NAME>, e.g.
 * RINGWATCH_HEARTBEAT_MS=500), checked against a schema in which every option has a default and a
 * sentence saying why. Unknown keys are errors (a typo must not silently fall back to a default).
 *
 * An empty value is a value, from every source: `RINGWATCH_MULTICAST_GROUP=` sets the group to ""
 * (unicast only). Only a variable that is not set at all leaves the option to the file or its
 * default. Where empty means nothing (a number, a duration, a switch, a name that must be given)
 * it is an error, never silently the default.
 */
import { readFileSync } from "node:fs";

export type OptionType = "string" | "int" | "number" | "bool" | "duration" | "port" | "path" | "string[]";

export interface OptionSpec<T = unknown> {
  type: OptionType;
  default: T;
  doc: string;
  min?: number;
  max?: number;
  /** allowed values for strings */
  oneOf?: readonly string[];
  /** strings and paths: whether "" is a valid value (it says what empty means in `doc`). Default: only when the default is "". */
  allowEmpty?: boolean;
}

export type Schema = Record<string, OptionSpec>;
export type ConfigOf<S extends Schema> = { [K in keyof S]: S[K]["default"] };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** "1500", "1.5s", "500ms", "2m", "1h" → milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "ms";
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

function coerce(name: string, spec: OptionSpec, raw: unknown, source: string): unknown {
  const fail = (what: string): never => {
    throw new ConfigError(`${source}: ${name}: expected ${what}, got ${JSON.stringify(raw)}`);
  };
  const range = (n: number, what: string): number => {
    if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
      fail(`${what} in [${spec.min ?? "-∞"}, ${spec.max ?? "∞"}]`);
    }
    return n;
  };
  // environment and command-line values arrive as text
  const fromEnv = typeof raw === "string" && (source.startsWith("environment") || source === "command line");
  const unsetHint = source.startsWith("environment") ? ` (unset ${source.slice("environment ".length)} for the default ${JSON.stringify(spec.default)})` : "";
  // Number("") is 0: an empty number must not pass as zero
  if (fromEnv && (raw as string).trim() === "" && spec.type !== "string" && spec.type !== "path" && spec.type !== "string[]") {
    return fail(`${describeType(spec)}, not empty${unsetHint}`);
  }
  switch (spec.type) {
    case "string":
    case "path": {
      if (typeof raw !== "string") return fail("a string");
      if (raw === "" && !(spec.allowEmpty ?? spec.default === "")) return fail(`a non-empty ${spec.type}${unsetHint}`);
      if (spec.type === "path" && raw.includes("\0")) return fail("a path");
      if (spec.oneOf && !spec.oneOf.includes(raw)) return fail(`one of ${spec.oneOf.join(", ")}`);
      return raw;
    }
    case "string[]": {
      const v = fromEnv ? (raw as string).split(",").map((s) => s.trim()).filter(Boolean) : raw;
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) return fail("a list of strings");
      return v;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw;
      if (fromEnv && /^(1|true|yes|on)$/i.test(raw as string)) return true;
      if (fromEnv && /^(0|false|no|off)$/i.test(raw as string)) return false;
      return fail("true or false");
    }
    case "int":
    case "port": {
      const n = fromEnv ? Number(raw) : raw;
      if (typeof n !== "number" || !Number.isInteger(n)) return fail("an integer");
      if (spec.type === "port" && (n < 0 || n > 65535)) return fail("a port 0..65535");
      return range(n, "an integer");
    }
    case "number": {
      const n = fromEnv ? Number(raw) : raw;
      if (typeof n !== "number" || !Number.isFinite(n)) return fail("a number");
      return range(n, "a number");
    }
    case "duration": {
      const n = parseDuration(raw);
      if (n === undefined || n < 0) return fail('a duration such as 1500, "1.5s", "500ms", "2m"');
      return range(n, "a duration (ms)");
    }
  }
}

function describeType(spec: OptionSpec): string {
  return { int: "an integer", port: "a port", number: "a number", bool: "true or false", duration: "a duration" }[spec.type as string] ?? "a value";
}

export function envName(option: string): string {
  return `RINGWATCH_${option.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`;
}

export interface LoadOptions {
  /** path of the JSON config file; missing file is an error only when given explicitly */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** values from the command line, applied last */
  overrides?: Record<string, unknown>;
  /** filled with the options set by the file, the environment or the command line (not left at their default) */
  explicit?: Set<string>;
}

export function loadConfig<S extends Schema>(schema: S, o: LoadOptions = {}): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(schema)) out[k] = spec.default;
  if (o.file) {
    let text: string;
    try {
      text = readFileSync(o.file, "utf8");
    } catch (e) {
      throw new ConfigError(`config file ${o.file}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`config file ${o.file}: not valid JSON: ${(e as Error).message}`);
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(`config file ${o.file}: expected a JSON object`);
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      if (k.startsWith("//") || k === "$comment") continue; // JSON has no comments: allow "// note": "..."
      const spec = schema[k];
      if (!spec) throw new ConfigError(`config file ${o.file}: unknown option "${k}" (known: ${Object.keys(schema).join(", ")})`);
      out[k] = coerce(k, spec, v, `config file ${o.file}`);
      o.explicit?.add(k);
    }
  }
  const env = o.env ?? process.env;
  for (const [k, spec] of Object.entries(schema)) {
    const name = envName(k);
    const v = env[name];
    if (v !== undefined) {
      out[k] = coerce(k, spec, v, `environment ${name}`);
      o.explicit?.add(k);
    }
  }
  for (const [k, v] of Object.entries(o.overrides ?? {})) {
    if (v === undefined) continue;
    const spec = schema[k];
    if (!spec) throw new ConfigError(`command line: unknown option "${k}"`);
    out[k] = coerce(k, spec, v, "command line");
    o.explicit?.add(k);
  }
  return out as ConfigOf<S>;
}

/** Human-readable listing of every option, its default, environment name and reason. */
export function describeSchema(schema: Schema): string {
  const lines: string[] = [];
  for (const [k, s] of Object.entries(schema)) {
    lines.push(`  ${k} (${s.type}, default ${JSON.stringify(s.default)}; env ${envName(k)})`);
    lines.push(`      ${s.doc}`);
  }
  return lines.join("\n");
}

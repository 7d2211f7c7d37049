/**
 * `ringwatch-cma user …` and `ringwatch-cma token …`: local users and API tokens, offline on the
 * CMA's data directory (bootstrap and recovery: works whether or not the CMA runs, which picks the
 * change up at once; each change is recorded in its audit log as actor "cli"), or through a running
 * CMA's API with an admin token when --url is given (audited by the CMA).
 *
 *   user add NAME --role R [--password-file F]   password from the file's first line, else stdin (never a prompt, never an argument)
 *   user passwd NAME [--password-file F]         ends the user's sessions
 *   user remove NAME
 *   user list
 *   token create --name N --role R [--expires 30d|never]   prints the token once, on stdout
 *   token revoke ID
 *   token list
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError, loadProcessConfig, silentLogger } from "@ringwatch/shared";
import { AuditLog } from "./audit/audit-log.js";
import type { CommandArgs, CommandSpec } from "@ringwatch/shared";
import { AccessError, AccessStore } from "./access/access-store.js";
import type { TokenView, UserView } from "./access/access-store.js";
import { ApiFailure, apiBase, apiCall, apiToken } from "./api-client.js";
import { cmaSchema } from "./config.js";
import { textTable } from "./http/text-table.js";

export interface AccessCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** everything on standard input (the password when no --password-file is given) */
  stdin(): string;
}

const WAIT_MS = 15_000;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3600_000, d: 86_400_000 };
/** A token without --expires lasts this long: a forgotten token should not live forever. */
export const DEFAULT_TOKEN_DAYS = 90;

/** The outcome of one action, the same offline and through the API. */
type Result = { text: string; json: unknown };

interface Backend {
  where: string;
  close?: () => void;
  addUser(name: string, role: string, password: string): Promise<UserView>;
  passwd(name: string, password: string): Promise<UserView>;
  removeUser(name: string): Promise<void>;
  users(): Promise<UserView[]>;
  createToken(name: string, role: string, expiresAt: number | null): Promise<TokenView & { token: string }>;
  revokeToken(id: string): Promise<TokenView>;
  tokens(): Promise<TokenView[]>;
}

/** Offline: the store itself, each change recorded in the CMA's audit log (<dataDir>/audit) as actor "cli". */
function offline(dataDir: string, retentionDays: number): Backend {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 }); // before the CMA's first start too (tokens for it to find)
  const store = AccessStore.open(dataDir);
  let log: AuditLog | undefined;
  const audited = async <T>(action: string, target: string, fn: () => T | Promise<T>, detail?: Record<string, unknown>): Promise<T> => {
    log ??= AuditLog.open(join(dataDir, "audit"), { retentionDays }, silentLogger());
    const record = (outcome: "ok" | "invalid", more?: Record<string, unknown>) =>
      log!.record({ actor: "cli", via: "cli", from: "local", action, target, outcome, ...(detail || more ? { detail: { ...detail, ...more } } : {}) });
    let out: T;
    try {
      out = await fn();
    } catch (e) {
      if (e instanceof AccessError) record("invalid", { error: e.code });
      throw e;
    }
    record("ok");
    return out;
  };
  return {
    where: store.path,
    close: () => log?.close(),
    addUser: (n, r, p) => audited("userAdd", n, () => store.addUser(n, r, p), { role: r }),
    passwd: (n, p) => audited("userPasswd", n, () => store.setPassword(n, p)),
    removeUser: (n) => audited("userRemove", n, () => store.removeUser(n)),
    users: async () => store.users(),
    createToken: (name, role, expiresAt) => audited("tokenCreate", name, () => {
      const made = store.createToken({ name, role, expiresAt, createdBy: "cli" });
      return { ...made.view, token: made.token };
    }, { role, expiresAt }),
    revokeToken: (id) => audited("tokenRevoke", id, () => store.revokeToken(id)),
    tokens: async () => store.tokens(),
  };
}

function online(base: string, token: string | undefined): Backend {
  const json = (method: string, body: unknown): RequestInit => ({ method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const call = async <T>(path: string, init: RequestInit = {}): Promise<T> => (await apiCall(`${base}${path}`, init, WAIT_MS, token)).body as T;
  return {
    where: base,
    addUser: (name, role, password) => call("/api/users", json("POST", { name, role, password })),
    passwd: (name, password) => call(`/api/users/${encodeURIComponent(name)}/password`, json("PUT", { password })),
    removeUser: async (name) => void (await call(`/api/users/${encodeURIComponent(name)}`, { method: "DELETE" })),
    users: async () => (await call<{ users: UserView[] }>("/api/users")).users,
    createToken: (name, role, expiresAt) => call("/api/tokens", json("POST", { name, role, expiresAt })),
    revokeToken: (id) => call(`/api/tokens/${encodeURIComponent(id)}`, { method: "DELETE" }),
    tokens: async () => (await call<{ tokens: TokenView[] }>("/api/tokens")).tokens,
  };
}

/** --expires: 30d, 12h, 90m, or never. */
export function parseExpiry(text: unknown, now = Date.now()): number | null {
  if (text === undefined) return now + DEFAULT_TOKEN_DAYS * UNIT_MS.d;
  if (text === "never") return null;
  const m = typeof text === "string" ? /^(\d{1,5})([mhd])$/.exec(text.trim()) : null;
  if (!m || Number(m[1]) === 0) throw new UsageError(`--expires: a duration like 30d, 12h or 90m, or never; got ${JSON.stringify(text)}`);
  return now + Number(m[1]) * UNIT_MS[m[2]];
}

function password(v: CommandArgs["values"], io: AccessCommandIo): string {
  let text: string;
  const file = v["password-file"];
  if (file !== undefined) {
    if (typeof file !== "string" || !file) throw new UsageError("--password-file needs a file name");
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new UsageError(`--password-file: cannot read ${file}: ${(e as Error).message}`);
    }
  } else {
    text = io.stdin();
  }
  const pw = text.split(/\r?\n/)[0];
  if (!pw) throw new UsageError("no password: give --password-file FILE or the password on standard input (first line)");
  return pw;
}

function time(ms: number | null): string {
  return ms === null ? "never" : new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}

function one(args: CommandArgs, what: string): string {
  const [, name, ...rest] = args.positionals;
  if (!name) throw new UsageError(`${args.positionals[0]}: which ${what}?`);
  if (rest.length) throw new UsageError(`${args.positionals[0]}: one ${what} at a time, got ${args.positionals.slice(1).join(" ")}`);
  return name;
}

function none(args: CommandArgs): void {
  if (args.positionals.length > 1) throw new UsageError(`${args.positionals[0]} takes no argument, got ${args.positionals.slice(1).join(" ")}`);
}

async function userAction(b: Backend, args: CommandArgs, io: AccessCommandIo): Promise<Result> {
  const v = args.values;
  switch (args.positionals[0]) {
    case "add": {
      const name = one(args, "user");
      if (typeof v.role !== "string") throw new UsageError("user add needs --role viewer|operator|admin");
      const u = await b.addUser(name, v.role, password(v, io));
      return { text: `added user ${u.name} (${u.role}) in ${b.where}`, json: u };
    }
    case "passwd": {
      const u = await b.passwd(one(args, "user"), password(v, io));
      return { text: `changed the password of ${u.name} (their sessions are ended)`, json: u };
    }
    case "remove": {
      const name = one(args, "user");
      await b.removeUser(name);
      return { text: `removed user ${name}`, json: { removed: name } };
    }
    case "list": {
      none(args);
      const users = await b.users();
      return { text: textTable(["user", "role", "created", "password changed"], users.map((u) => [u.name, u.role, time(u.createdAt), time(u.passwordChangedAt)])), json: { users } };
    }
    default:
      throw new UsageError("user: give add, passwd, remove or list (try --help)");
  }
}

async function tokenAction(b: Backend, args: CommandArgs, io: AccessCommandIo): Promise<Result> {
  const v = args.values;
  switch (args.positionals[0]) {
    case "create": {
      none(args);
      if (typeof v.name !== "string") throw new UsageError('token create needs --name NAME (what it is for, e.g. "zabbix")');
      if (typeof v.role !== "string") throw new UsageError("token create needs --role viewer|operator|admin");
      const t = await b.createToken(v.name, v.role, parseExpiry(v.expires));
      io.stderr(`created token ${t.id} "${t.name}" (${t.role}, expires ${time(t.expiresAt)}); it is shown only now:\n`);
      return { text: t.token, json: t };
    }
    case "revoke": {
      const t = await b.revokeToken(one(args, "token id"));
      return { text: `revoked token ${t.id} "${t.name}"`, json: t };
    }
    case "list": {
      none(args);
      const tokens = await b.tokens();
      return {
        text: textTable(["id", "name", "role", "state", "expires", "created by"], tokens.map((t) => [t.id, t.name, t.role, t.state, time(t.expiresAt), t.createdBy])),
        json: { tokens },
      };
    }
    default:
      throw new UsageError("token: give create, revoke or list (try --help)");
  }
}

const BAD_INPUT = new Set(["bad-name", "bad-role", "bad-password", "bad-expiry", "bad-request"]);

export async function runAccessCommand(kind: "user" | "token", args: CommandArgs, io: AccessCommandIo): Promise<number> {
  const v = args.values;
  const program = `ringwatch-cma ${kind}`;
  let backend: Backend;
  if (v.url !== undefined) {
    if (v["data-dir"] !== undefined) throw new UsageError("--url and --data-dir exclude each other (through the API, or offline on the data directory)");
    backend = online(apiBase(v, ""), apiToken(v));
  } else {
    const cfg = loadProcessConfig(cmaSchema, args);
    const dir = typeof v["data-dir"] === "string" && v["data-dir"] ? v["data-dir"] : cfg.dataDir;
    backend = offline(dir, cfg.auditRetentionDays);
  }
  try {
    const r = await (kind === "user" ? userAction(backend, args, io) : tokenAction(backend, args, io));
    io.stdout(`${v.json === true ? JSON.stringify(r.json, null, 2) : r.text}\n`);
    return 0;
  } catch (e) {
    if (e instanceof AccessError) {
      if (BAD_INPUT.has(e.code)) throw new UsageError(e.message);
      io.stderr(`${program}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof ApiFailure) {
      io.stderr(`${program}: ${e.message}\n`);
      return e.status === 400 ? 2 : 1;
    }
    throw e;
  } finally {
    backend.close?.();
  }
}

const common = {
  "data-dir": { type: "string" },
  url: { type: "string" },
  "token-file": { type: "string" },
  json: { type: "boolean" },
} as const;

const WHERE = [
  "  --data-dir DIR   offline, on the CMA's data directory (default: dataDir from the configuration); the running CMA sees the change at once",
  "  --url URL        through a running CMA's API instead, with an admin's API token (--token-file FILE or RINGWATCH_TOKEN)",
  "  --json           the answer as JSON",
  "exit code: 0 done, 1 refused (exists, unknown, last admin, the CMA said no or could not be reached), 2 bad arguments or input",
];

function stdinText(): string {
  if (process.stdin.isTTY) throw new UsageError("no password: give --password-file FILE or pipe the password on standard input (there is no prompt)");
  return readFileSync(0, "utf8");
}

const io: AccessCommandIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), stdin: stdinText };

export const userCommand: CommandSpec = {
  summary: "add, change, remove or list the local users of the console and API",
  usage: [
    "user add NAME --role viewer|operator|admin [--password-file F]   the password: first line of F, else of standard input",
    "user passwd NAME [--password-file F]                             change it (ends that user's sessions)",
    "user remove NAME                                                 (not the last admin)",
    "user list",
    ...WHERE,
  ].join("\n"),
  options: { ...common, role: { type: "string" }, "password-file": { type: "string" } },
  run: (args) => runAccessCommand("user", args, io),
};

export const tokenCommand: CommandSpec = {
  summary: "create, revoke or list API tokens (for scripts and for Zabbix)",
  usage: [
    `token create --name NAME --role viewer|operator|admin [--expires 30d|12h|never]   prints the token once on stdout (default expiry ${DEFAULT_TOKEN_DAYS}d)`,
    "token revoke ID",
    "token list                                                       ids, names, roles, states; never the secret",
    ...WHERE,
  ].join("\n"),
  options: { ...common, name: { type: "string" }, role: { type: "string" }, expires: { type: "string" } },
  run: (args) => runAccessCommand("token", args, io),
};

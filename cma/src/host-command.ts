/**
 * `ringwatch-cma host`: an operator's actions on hosts, sent to the running CMA. With an API token
 * (--token-file FILE or RINGWATCH_TOKEN; an operator's for maintenance, an admin's for removal)
 * through the HTTP API (--url, else httpListen), audited under the token; without one, over the
 * control socket (a Unix socket only the CMA's user and root may open; control/control-server.ts),
 * audited as the local user: the way in when the HTTP API is off or no token exists yet.
 *
 *   host maintenance NAME --until TIME --reason TEXT   planned downtime: its silence is no death
 *   host maintenance NAME --end                        end it now (a silent host is probed, then judged)
 *   host remove NAME [--purge]                         out of service (its Zabbix host disabled; deleted with --purge)
 */
import { connect } from "node:net";
import { UsageError, loadProcessConfig } from "@ringwatch/shared";
import type { CommandArgs, CommandSpec } from "@ringwatch/shared";
import { ApiFailure, apiBase, apiCall, apiToken } from "./api-client.js";
import { cmaSchema } from "./config.js";
import { controlSocketPath } from "./control/control-protocol.js";
import type { ControlReply, ControlRequest } from "./control/control-protocol.js";

export interface HostCommandOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const PROGRAM = "ringwatch-cma host";
/** Ending a silent host's maintenance waits for its probes and the verdict (a few seconds at most). */
const ANSWER_WAIT_MS = 60_000;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** --until: an ISO 8601 time (2026-12-24T06:00:00Z) or a duration from now (90m, 2h, +1d). */
export function parseUntil(text: string, now = Date.now()): number {
  const rel = /^\+?(\d{1,6})([smhd])$/.exec(text.trim());
  if (rel) return now + Number(rel[1]) * UNIT_MS[rel[2]];
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const t = Date.parse(text.trim());
    if (Number.isFinite(t)) return t;
  }
  throw new UsageError(`--until: not a time: ${JSON.stringify(text)} (an ISO 8601 time like 2026-12-24T06:00:00Z, or a duration like 90m, 2h, 1d)`);
}

/** One request over the socket, its one-line answer back. */
export function controlCall(path: string, req: ControlRequest, waitMs = ANSWER_WAIT_MS): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = "";
    const timer = setTimeout(() => (sock.destroy(), reject(new Error(`no answer from the CMA on ${path} within ${waitMs} ms`))), waitMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.end(`${JSON.stringify(req)}\n`));
    sock.on("data", (c: string) => (buf += c));
    sock.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach the CMA's control socket ${path} (${e.code ?? e.message}); is the CMA running, and are you its user or root? (--socket to point elsewhere)`));
    });
    sock.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as ControlReply);
      } catch {
        reject(new Error(`the CMA's answer is not JSON: ${buf.slice(0, 200)}`));
      }
    });
  });
}

function describe(r: Record<string, unknown>): string {
  const m = r.maintenance as { until: number; reason: string; down: boolean } | undefined;
  if (m) return `${String(r.host)}: maintenance until ${new Date(m.until).toISOString()} (${m.reason})${m.down ? ", out of the rings" : ""}`;
  if (r.state === "removed") return `${String(r.host)}: removed${r.purge ? " (its Zabbix host will be deleted)" : " (its Zabbix host will be disabled)"}`;
  return `${String(r.host)}: ${String(r.state)}`;
}

export async function runHostCommand(args: CommandArgs, out: HostCommandOutput): Promise<number> {
  const v = args.values;
  const [action, name, ...rest] = args.positionals;
  if (rest.length) throw new UsageError(`host: one host at a time, got ${args.positionals.slice(1).join(" ")}`);
  if (action !== "maintenance" && action !== "remove") throw new UsageError("host: give maintenance or remove (try --help)");
  if (!name) throw new UsageError(`host ${action}: which host?`);
  let req: ControlRequest;
  if (action === "remove") {
    if (v.until !== undefined || v.reason !== undefined || v.end !== undefined) throw new UsageError("host remove takes only --purge");
    req = { op: "remove", host: name, purge: v.purge === true };
  } else if (v.end === true) {
    if (v.until !== undefined || v.reason !== undefined || v.purge !== undefined) throw new UsageError("host maintenance --end takes no --until, --reason or --purge");
    req = { op: "end-maintenance", host: name };
  } else {
    if (typeof v.until !== "string" || typeof v.reason !== "string") throw new UsageError("host maintenance needs --until TIME and --reason TEXT (or --end)");
    if (v.purge !== undefined) throw new UsageError("--purge goes with host remove");
    req = { op: "maintenance", host: name, until: parseUntil(v.until), reason: v.reason };
  }
  if (typeof v.socket === "string" && (v.url !== undefined || v["token-file"] !== undefined)) throw new UsageError("--socket goes without --url and --token-file: one way to the CMA");
  const token = typeof v.socket === "string" ? undefined : apiToken(v);
  if (token !== undefined || v.url !== undefined) return viaHttp(req, apiBase(v, loadProcessConfig(cmaSchema, args).httpListen), token, out);
  let path: string | undefined;
  if (typeof v.socket === "string" && v.socket) path = v.socket;
  else path = controlSocketPath(loadProcessConfig(cmaSchema, args));
  if (!path) throw new UsageError('the control socket is off in the configuration (controlSocket "off"); give its path with --socket');
  try {
    const r = await controlCall(path, req);
    if (!r.ok) {
      out.stderr(`${PROGRAM}: the CMA refused (${r.error}): ${r.message}\n`);
      return 1;
    }
    out.stdout(`${describe(r.result)}\n`);
    return 0;
  } catch (e) {
    out.stderr(`${PROGRAM}: ${(e as Error).message}\n`);
    return 1;
  }
}

/** The same request through the HTTP API: its routes judge it with the same HostControl. */
async function viaHttp(req: ControlRequest, base: string, token: string | undefined, out: HostCommandOutput): Promise<number> {
  const host = encodeURIComponent(req.host);
  const json = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const [path, init] = req.op === "remove" ? [`/api/hosts/${host}/remove`, json({ purge: req.purge })]
    : req.op === "end-maintenance" ? [`/api/hosts/${host}/maintenance`, { method: "DELETE" }]
      : [`/api/hosts/${host}/maintenance`, json({ until: req.until, reason: req.reason })];
  try {
    const r = await apiCall(`${base}${path}`, init, ANSWER_WAIT_MS, token);
    out.stdout(`${describe(r.body as Record<string, unknown>)}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof ApiFailure)) throw e;
    out.stderr(`${PROGRAM}: the CMA refused or could not be reached: ${e.message}\n`);
    return 1;
  }
}

export const hostCommand: CommandSpec = {
  summary: "put a host in maintenance, end it, or remove a host, on the running CMA (HTTP API with a token, else its control socket)",
  usage: [
    "host maintenance NAME --until TIME --reason TEXT   planned downtime: its silence is no death, Zabbix gets state 'maintenance' (no problem)",
    "host maintenance NAME --end                        end it now; a host still silent is probed and declared dead if it does not answer",
    "host remove NAME [--purge]                         out of service: leaves membership and the rings, history kept in the graph,",
    "                                                   its Zabbix host disabled (deleted with --purge); announcing again it joins as new",
    "  TIME: ISO 8601 (2026-12-24T06:00:00Z) or a duration from now (90m, 2h, 1d)",
    "  --token-file F   an API token (operator; admin to remove) in a file, default the environment's RINGWATCH_TOKEN:",
    "                   with one, the command goes through the HTTP API (audited as the token)",
    "  --url URL        the CMA's HTTP API (default: from httpListen)",
    "  --socket PATH    without a token: the CMA's control socket (default: controlSocket, else <dataDir>/control.sock)",
    "exit code: 0 done, 1 the CMA refused or could not be reached, 2 bad arguments",
  ].join("\n"),
  options: {
    until: { type: "string" },
    reason: { type: "string" },
    end: { type: "boolean" },
    purge: { type: "boolean" },
    socket: { type: "string" },
    url: { type: "string" },
    "token-file": { type: "string" },
  },
  run: (args) => runHostCommand(args, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }),
};

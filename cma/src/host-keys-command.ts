/**
 * `ringwatch-cma host-keys`: the pins of the running CMA, through its HTTP API (--url, else
 * httpListen) with an API token (--token-file FILE or RINGWATCH_TOKEN: a viewer's to list, an
 * admin's to change), audited under that token.
 *
 *   host-keys list [--json]        every pin: name, state, fingerprint, when and by whom; pending first
 *   host-keys approve NAME         a pending key is pinned: the host joins at its next announcement
 *   host-keys revoke NAME          the key is refused from now on; the host leaves the rings at once
 *   host-keys forget NAME          the pin is dropped: the host's next announcement is a new host (re-keying)
 *   host-keys enroll NAME [--ttl 1h]  a one-time enrollment token for that host, printed once on stdout
 *   host-keys enrollments [--json] the enrollments not expired (never their tokens)
 *   host-keys cancel NAME          cancel an enrollment: its token admits nobody
 */
import { UsageError, loadProcessConfig } from "@ringwatch/shared";
import type { CommandArgs, CommandSpec } from "@ringwatch/shared";
import { ApiFailure, apiBase, apiCall, apiToken } from "./api-client.js";
import { cmaSchema } from "./config.js";
import { textTable } from "./http/text-table.js";

export interface HostKeysCommandOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const PROGRAM = "ringwatch-cma host-keys";
const ANSWER_WAIT_MS = 15_000;

interface PinRow {
  name: string;
  state: string;
  fingerprint: string;
  firstSeenAt: number;
  pinnedAt: number | null;
  pinnedBy: string | null;
  revokedAt: number | null;
  revokedBy: string | null;
  lastAddress: string | null;
}

interface EnrollmentRow {
  name: string;
  state: string;
  createdAt: number;
  createdBy: string;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
  token?: string;
}

const ACTIONS = ["list", "approve", "revoke", "forget", "enroll", "enrollments", "cancel"] as const;
type Action = (typeof ACTIONS)[number];
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** --ttl: 90s, 30m, 1h, 7d (the CMA holds it to 1 min .. 7 days). */
export function parseTtl(text: unknown): number {
  const m = typeof text === "string" ? /^(\d{1,6})([smhd])$/.exec(text.trim()) : null;
  if (!m || Number(m[1]) === 0) throw new UsageError(`--ttl: a duration like 30m, 1h or 7d; got ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

const iso = (t: number | null): string => (t === null ? "" : new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z"));

export async function runHostKeysCommand(args: CommandArgs, out: HostKeysCommandOutput): Promise<number> {
  const v = args.values;
  const [action, name, ...rest] = args.positionals;
  if (rest.length) throw new UsageError(`host-keys: one host at a time, got ${args.positionals.slice(1).join(" ")}`);
  if (!ACTIONS.includes(action as Action)) throw new UsageError(`host-keys: give ${ACTIONS.join(", ")} (try --help)`);
  const listing = action === "list" || action === "enrollments";
  if (listing && name !== undefined) throw new UsageError(`host-keys ${action} takes no host name`);
  if (!listing && !name) throw new UsageError(`host-keys ${action}: which host?`);
  if (!listing && v.json !== undefined) throw new UsageError("--json goes with host-keys list and host-keys enrollments");
  if (action !== "enroll" && v.ttl !== undefined) throw new UsageError("--ttl goes with host-keys enroll");
  const ttlMs = action === "enroll" && v.ttl !== undefined ? parseTtl(v.ttl) : undefined;
  const base = apiBase(v, loadProcessConfig(cmaSchema, args).httpListen);
  const token = apiToken(v);
  const host = encodeURIComponent(name ?? "");
  const json = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const [path, init]: [string, RequestInit] = action === "list" ? ["/api/host-keys", {}]
    : action === "enrollments" ? ["/api/host-keys/enrollments", {}]
      : action === "enroll" ? ["/api/host-keys/enrollments", json({ name, ...(ttlMs !== undefined ? { ttlMs } : {}) })]
        : action === "cancel" ? [`/api/host-keys/enrollments/${host}`, { method: "DELETE" }]
          : action === "forget" ? [`/api/host-keys/${host}`, { method: "DELETE" }]
            : [`/api/host-keys/${host}/${action}`, { method: "POST" }];
  try {
    const r = await apiCall(`${base}${path}`, init, ANSWER_WAIT_MS, token);
    if (action === "enroll") {
      // the token alone on stdout (`... enroll hv7 > hv7.token`); what it is for on stderr
      const e = r.body as EnrollmentRow;
      out.stdout(`${e.token}\n`);
      out.stderr(`enrollment token for ${e.name}, one host, once, until ${iso(e.expiresAt)}: it is shown only now. Put it in that host's enrollmentTokenFile and start its nanoprobe.\n`);
      return 0;
    }
    if (action === "enrollments") {
      const body = r.body as { policy: string; enrollments: EnrollmentRow[] };
      if (v.json === true) {
        out.stdout(`${JSON.stringify(body, null, 2)}\n`);
        return 0;
      }
      out.stdout(`policy: ${body.policy}; ${body.enrollments.length} enrollment(s)\n`);
      if (body.enrollments.length) {
        out.stdout(`${textTable(["name", "state", "expires", "made", "by", "used", "used by key"], body.enrollments.map((e) => [
          e.name, e.state, iso(e.expiresAt), iso(e.createdAt), e.createdBy, iso(e.usedAt), e.usedBy ?? "",
        ]))}\n`);
      }
      return 0;
    }
    if (action === "cancel") {
      out.stdout(`${(r.body as EnrollmentRow).name}: enrollment cancelled\n`);
      return 0;
    }
    if (action === "list") {
      const body = r.body as { policy: string; pins: PinRow[] };
      if (v.json === true) {
        out.stdout(`${JSON.stringify(body, null, 2)}\n`);
        return 0;
      }
      out.stdout(`policy: ${body.policy}; ${body.pins.length} pin(s)\n`);
      if (body.pins.length) {
        out.stdout(`${textTable(["name", "state", "fingerprint", "first seen", "pinned", "by", "revoked", "last address"], body.pins.map((p) => [
          p.name, p.state, p.fingerprint, iso(p.firstSeenAt), iso(p.pinnedAt), p.state === "revoked" ? p.revokedBy ?? "" : p.pinnedBy ?? "", iso(p.revokedAt), p.lastAddress ?? "",
        ]))}\n`);
      }
      return 0;
    }
    const p = r.body as PinRow;
    out.stdout(`${p.name}: ${p.state} (${p.fingerprint})\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof ApiFailure)) throw e;
    out.stderr(`${PROGRAM}: the CMA refused or could not be reached: ${e.message}\n`);
    return 1;
  }
}

export const hostKeysCommand: CommandSpec = {
  summary: "list the host key pins of the running CMA, approve a pending key, revoke a key, forget a pin, or enroll a host with a one-time token (HTTP API with a token)",
  usage: [
    "host-keys list [--json]      every pin (pending first): name, state, fingerprint, first seen, pinned when and by whom",
    "host-keys approve NAME       a pending key (hostKeyPolicy approve) is pinned: the host joins at its next announcement",
    "host-keys revoke NAME        its key is refused from now on: the host leaves the rings at once and is shown revoked",
    "host-keys forget NAME        drop the pin: the host's next announcement is treated as a new host (re-keying a host)",
    "host-keys enroll NAME [--ttl 1h]   a one-time enrollment token for NAME (1m..7d, default 1h), printed once on stdout:",
    "                             the nanoprobe given it (enrollmentTokenFile) is admitted and pinned at once, in any policy",
    "host-keys enrollments [--json]     the enrollments not expired: outstanding or used, expiry, who made them (never the token)",
    "host-keys cancel NAME        cancel NAME's enrollment: its token admits nobody",
    "  --token-file F   an API token in a file (viewer to list, admin to change), default the environment's RINGWATCH_TOKEN",
    "  --url URL        the CMA's HTTP API (default: from httpListen)",
    "exit code: 0 done, 1 the CMA refused or could not be reached, 2 bad arguments",
  ].join("\n"),
  options: {
    json: { type: "boolean" },
    ttl: { type: "string" },
    url: { type: "string" },
    "token-file": { type: "string" },
  },
  run: (args) => runHostKeysCommand(args, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }),
};

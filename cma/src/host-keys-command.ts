/**
 * `ringwatch-cma host-keys`: the pins of the running CMA, through its HTTP API (--url, else
 * httpListen) with an API token (--token-file FILE or RINGWATCH_TOKEN: a viewer's to list, an
 * admin's to change), audited under that token.
 *
 *   host-keys list [--json]        every pin: name, state, fingerprint, when and by whom; pending first
 *   host-keys approve NAME         a pending key is pinned: the host joins at its next announcement
 *   host-keys revoke NAME          the key is refused from now on; the host leaves the rings at once
 *   host-keys forget NAME          the pin is dropped: the host's next announcement is a new host (re-keying)
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

const iso = (t: number | null): string => (t === null ? "" : new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z"));

export async function runHostKeysCommand(args: CommandArgs, out: HostKeysCommandOutput): Promise<number> {
  const v = args.values;
  const [action, name, ...rest] = args.positionals;
  if (rest.length) throw new UsageError(`host-keys: one host at a time, got ${args.positionals.slice(1).join(" ")}`);
  if (action !== "list" && action !== "approve" && action !== "revoke" && action !== "forget") throw new UsageError("host-keys: give list, approve, revoke or forget (try --help)");
  if (action === "list" && name !== undefined) throw new UsageError("host-keys list takes no host name");
  if (action !== "list" && !name) throw new UsageError(`host-keys ${action}: which host?`);
  if (action !== "list" && v.json !== undefined) throw new UsageError("--json goes with host-keys list");
  const base = apiBase(v, loadProcessConfig(cmaSchema, args).httpListen);
  const token = apiToken(v);
  const host = encodeURIComponent(name ?? "");
  const [path, init]: [string, RequestInit] = action === "list" ? ["/api/host-keys", {}]
    : action === "forget" ? [`/api/host-keys/${host}`, { method: "DELETE" }]
      : [`/api/host-keys/${host}/${action}`, { method: "POST" }];
  try {
    const r = await apiCall(`${base}${path}`, init, ANSWER_WAIT_MS, token);
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
  summary: "list the host key pins of the running CMA, approve a pending key, revoke a key, or forget a pin (HTTP API with a token)",
  usage: [
    "host-keys list [--json]      every pin (pending first): name, state, fingerprint, first seen, pinned when and by whom",
    "host-keys approve NAME       a pending key (hostKeyPolicy approve) is pinned: the host joins at its next announcement",
    "host-keys revoke NAME        its key is refused from now on: the host leaves the rings at once and is shown revoked",
    "host-keys forget NAME        drop the pin: the host's next announcement is treated as a new host (re-keying a host)",
    "  --token-file F   an API token in a file (viewer to list, admin to change), default the environment's RINGWATCH_TOKEN",
    "  --url URL        the CMA's HTTP API (default: from httpListen)",
    "exit code: 0 done, 1 the CMA refused or could not be reached, 2 bad arguments",
  ].join("\n"),
  options: {
    json: { type: "boolean" },
    url: { type: "string" },
    "token-file": { type: "string" },
  },
  run: (args) => runHostKeysCommand(args, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }),
};

/**
 * `ringwatch-cma action ACTION GUEST`: an action on a guest from a shell, through the running
 * CMA's HTTP API (POST /api/domains/:uuid/actions) with an operator's API token (--token-file or
 * RINGWATCH_TOKEN): the same checks, the same audit record as the console. GUEST is a domain UUID
 * or a name the inventory holds once. It asks for confirmation on a terminal; a script says --yes.
 */
import { createInterface } from "node:readline/promises";
import { DOMAIN_ACTIONS, UsageError, loadProcessConfig } from "@ringwatch/shared";
import type { CommandArgs, CommandSpec } from "@ringwatch/shared";
import { ApiFailure, apiBase, apiCall, apiToken } from "./api-client.js";
import { cmaSchema } from "./config.js";

export interface ActionCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** asks a yes/no question; undefined when there is no terminal to ask on */
  confirm?: (question: string) => Promise<boolean>;
}

const PROGRAM = "ringwatch-cma action";
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The CMA waits up to 30 s for the hypervisor's answer; a little more here. */
const ANSWER_WAIT_MS = 35_000;

interface Guest { uuid: string; name: string; host: string; state: string }

/** The guest a UUID or a name stands for, from the CMA's inventory; a name held twice is an error. */
async function resolveGuest(base: string, token: string | undefined, guest: string): Promise<Guest> {
  type Found = { host: string; domain: { uuid: string; name: string; state: string } };
  let found: Found[];
  if (UUID_RE.test(guest)) {
    try {
      found = [(await apiCall(`${base}/api/domains/${guest}`, {}, ANSWER_WAIT_MS, token)).body as Found];
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 404) found = [];
      else throw e;
    }
  } else {
    found = ((await apiCall(`${base}/api/domains?${new URLSearchParams({ name: guest })}`, {}, ANSWER_WAIT_MS, token)).body as { domains: Found[] }).domains;
  }
  if (found.length === 0) throw new ApiFailure(`no guest ${JSON.stringify(guest)} in the CMA's inventory`);
  if (found.length > 1) throw new ApiFailure(`${found.length} guests are named ${JSON.stringify(guest)} (${found.map((f) => `${f.domain.uuid} on ${f.host}`).join(", ")}): give the UUID`);
  return { ...found[0].domain, host: found[0].host };
}

export async function runActionCommand(args: CommandArgs, io: ActionCommandIo): Promise<number> {
  const v = args.values;
  const [action, guest, ...rest] = args.positionals;
  if (!action || !(DOMAIN_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`action: give one of ${DOMAIN_ACTIONS.join(", ")}${action ? ` (not ${JSON.stringify(action)})` : ""}`);
  if (!guest) throw new UsageError(`action ${action}: which guest? (a UUID or a name)`);
  if (rest.length) throw new UsageError(`action: one guest at a time, got ${args.positionals.slice(1).join(" ")}`);
  const reason = typeof v.reason === "string" ? v.reason : "";
  if (reason.length > 256) throw new UsageError("--reason: at most 256 characters");
  const base = apiBase(v, loadProcessConfig(cmaSchema, args).httpListen);
  const token = apiToken(v);
  try {
    const g = await resolveGuest(base, token, guest);
    if (v.yes !== true) {
      if (!io.confirm) throw new UsageError(`action ${action} on ${g.name}: no terminal to confirm on; give --yes`);
      if (!(await io.confirm(`${action} guest ${g.name} (${g.uuid}, ${g.state}) on ${g.host}? [y/N] `))) {
        io.stderr(`${PROGRAM}: not confirmed; nothing done\n`);
        return 1;
      }
    }
    const r = (await apiCall(`${base}/api/domains/${g.uuid}/actions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ action, reason }) }, ANSWER_WAIT_MS, token)).body as { host: string; name: string; state: string };
    io.stdout(`${r.name} on ${r.host}: ${action} done, now ${r.state}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof ApiFailure)) throw e;
    io.stderr(`${PROGRAM}: ${e.message}\n`);
    return 1;
  }
}

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export const actionCommand: CommandSpec = {
  summary: "act on a guest through its hypervisor (reboot, shutdown, reset, destroy, start, suspend, resume), via the CMA's HTTP API",
  usage: [
    `action ACTION GUEST [--reason TEXT] [--yes]   ACTION: ${DOMAIN_ACTIONS.join(" | ")}; GUEST: a domain UUID or a unique name`,
    "  reboot/shutdown ask the guest (ACPI); reset is the reset button; destroy pulls the power; start boots a defined guest",
    "  asks for confirmation on a terminal; --yes confirms (scripts). Refused while the guest's host is not alive or in maintenance.",
    "  --token-file F   an operator's API token in a file; default: the environment's RINGWATCH_TOKEN",
    "  --url URL        the CMA's HTTP API (default: from httpListen)",
    "exit code: 0 done, 1 refused, not confirmed or unreachable, 2 bad arguments",
  ].join("\n"),
  options: {
    reason: { type: "string" },
    yes: { type: "boolean" },
    url: { type: "string" },
    "token-file": { type: "string" },
  },
  run: (args) => runActionCommand(args, {
    stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t),
    confirm: process.stdin.isTTY ? askOnTerminal : undefined,
  }),
};

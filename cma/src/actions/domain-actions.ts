/**
 * Actions on guests (issue 14): the CMA signs a DomainAction for the hypervisor that runs the
 * domain now — looked up in the inventory at the moment of asking, so it follows a migration — and
 * waits for that host's answer (the domain's state after, or why not). Who may ask (operators,
 * tokens with that role) and the audit record are the HTTP API's (http/domain-actions-plugin.ts);
 * this refuses what no caller may do: an unknown domain or action, a hypervisor that is not alive
 * (dead, suspect, unreachable, left) or is in maintenance — acting through a host nobody can see
 * would be blind, and a host under maintenance is someone else's to touch.
 *
 * Not yet here (issue 14, items 2–4): guest health, the escalation ladder, its rate limits and the
 * root-cause guards (a suspected segment or switch).
 */
import { randomUUID } from "node:crypto";
import { DOMAIN_ACTIONS } from "@ringwatch/shared";
import type { CommandResult, DomainActionCommand, DomainActionName, Logger } from "@ringwatch/shared";
import type { InventoryStore } from "../intake/inventory-store.js";
import type { Membership } from "../membership/membership.js";

/** How long a host may take to answer: libvirt returns once the request is made (an ACPI reboot does not wait for the guest). */
export const ANSWER_WAIT_MS = 30_000;
/** Actions waiting for their answer at once (a runaway script must not pile up commands). */
export const MAX_IN_FLIGHT = 200;

export type DomainActionErrorCode = "bad-action" | "unknown-domain" | "host-not-alive" | "host-in-maintenance" | "busy" | "unreachable" | "no-answer" | "refused-by-host";

export class DomainActionError extends Error {
  constructor(readonly code: DomainActionErrorCode, message: string, readonly host?: string) {
    super(message);
  }
}

/** actions the guest OS is asked to carry out (its agent, or the ACPI power button) */
const asksGuest = (action: string): boolean => action === "reboot" || action === "shutdown";

export interface DomainActionResult {
  uuid: string;
  name: string;
  host: string;
  action: DomainActionName;
  /** the domain's state after the action, as libvirt on its host reports it */
  state: string;
  commandId: string;
  /** a reboot or shutdown: how the guest was asked (its QEMU agent, or the ACPI power button), and why the agent, asked first, did not do it */
  rebootMethod?: "agent" | "acpi";
  agentError?: string;
}

export interface DomainActionsDeps {
  inventory: InventoryStore;
  membership: Membership;
  /** signs the command for `to` and sends it reliably; resolves when the host acknowledged the datagram */
  send(to: { name: string; address: string; port: number }, draft: { id: string; domainAction: DomainActionCommand }): Promise<void>;
  log: Logger;
  answerWaitMs?: number;
}

interface Pending {
  host: string;
  /** where the command went: only an answer from there counts */
  address: string;
  port: number;
  resolve(r: CommandResult): void;
}

export class DomainActions {
  readonly counters = { requested: 0, done: 0, refused: 0, failedOnHost: 0, unanswered: 0 };
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly deps: DomainActionsDeps) {}

  get inFlight(): number {
    return this.pending.size;
  }

  /** Carries out one action on a guest, through its hypervisor's nanoprobe. Throws DomainActionError. */
  async request(uuid: string, action: string): Promise<DomainActionResult> {
    this.counters.requested++;
    try {
      return await this.run(uuid, action);
    } catch (e) {
      if (e instanceof DomainActionError) {
        if (e.code === "refused-by-host") this.counters.failedOnHost++;
        else if (e.code === "no-answer" || e.code === "unreachable") this.counters.unanswered++;
        else this.counters.refused++;
      }
      throw e;
    }
  }

  /** A CommandResult from a host: true when it answers one of these actions (from the host, and address, it was sent to). */
  onResult(from: { id: string; address: string; port: number }, r: CommandResult): boolean {
    const p = this.pending.get(r.id);
    if (!p || p.host !== from.id || p.address !== from.address || p.port !== from.port) return false;
    this.pending.delete(r.id);
    p.resolve(r);
    return true;
  }

  private async run(uuid: string, action: string): Promise<DomainActionResult> {
    if (!(DOMAIN_ACTIONS as readonly string[]).includes(action)) throw new DomainActionError("bad-action", `unknown action ${JSON.stringify(action).slice(0, 40)}: one of ${DOMAIN_ACTIONS.join(", ")}`);
    const u = uuid.toLowerCase();
    const hostName = this.deps.inventory.hostOf(u);
    const domain = hostName ? this.deps.inventory.domains(hostName).find((d) => d.uuid.toLowerCase() === u) : undefined;
    if (!hostName || !domain) throw new DomainActionError("unknown-domain", `no domain ${uuid} in the inventory of any host`);
    const h = this.deps.membership.get(hostName);
    if (!h) throw new DomainActionError("host-not-alive", `${domain.name} runs on ${hostName}, which is not a member now`, hostName);
    if (h.state === "maintenance" || h.maintenance) throw new DomainActionError("host-in-maintenance", `${domain.name} runs on ${hostName}, in maintenance until ${new Date(h.maintenance?.until ?? 0).toISOString()}: nothing is done to its guests`, hostName);
    if (h.state !== "alive") throw new DomainActionError("host-not-alive", `${domain.name} runs on ${hostName}, which is ${h.state}: an action through it would be blind`, hostName);
    if (this.pending.size >= MAX_IN_FLIGHT) throw new DomainActionError("busy", `${this.pending.size} actions are waiting for their hosts' answers; try again shortly`, hostName);

    const id = randomUUID();
    const answered = new Promise<CommandResult>((resolve) => this.pending.set(id, { host: hostName, address: h.address, port: h.port, resolve }));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DomainActionError("no-answer", `${hostName} did not answer within ${this.deps.answerWaitMs ?? ANSWER_WAIT_MS} ms (the action may or may not have been done: look at the domain's state)`, hostName)), this.deps.answerWaitMs ?? ANSWER_WAIT_MS);
    });
    const unreachable = this.deps.send(h, { id, domainAction: { uuid: domain.uuid, action } }).then(
      () => new Promise<never>(() => undefined), // acknowledged: wait for the answer
      (e: Error) => { throw new DomainActionError("unreachable", `the command did not reach ${hostName}: ${e.message}`, hostName); },
    );
    this.deps.log.info({ id, host: hostName, uuid: domain.uuid, guest: domain.name, action }, "domain action sent");
    try {
      const r = await Promise.race([answered, timeout, unreachable]);
      if (!r.ok) throw new DomainActionError("refused-by-host", `${hostName} did not ${action} ${domain.name}: ${r.error}`, hostName);
      this.counters.done++;
      const method = r.rebootMethod === "agent" || r.rebootMethod === "acpi" ? r.rebootMethod : undefined; // from the host: only the two it may say
      return {
        uuid: domain.uuid, name: domain.name, host: hostName, action: action as DomainActionName, state: r.domainState || "unknown", commandId: id,
        ...(asksGuest(action) && method ? { rebootMethod: method } : {}), ...(asksGuest(action) && r.agentError ? { agentError: r.agentError.slice(0, 500) } : {}),
      };
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
  }
}

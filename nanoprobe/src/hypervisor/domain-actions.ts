/**
 * A signed DomainAction from the CMA, carried out on this hypervisor through libvirt. The command
 * was verified before (signature, target, expiry, replay: shared/src/wire/command-signing.ts); this
 * checks what only the hypervisor can: that libvirt answers and runs (or defines) the domain. A
 * domain this hypervisor does not have is refused, never looked for elsewhere. The answer carries
 * the domain's state after the action, read back from libvirt. A reset of a paused guest (crashed,
 * or paused on an I/O error: libvirt keeps its vCPUs paused through a reset) resumes it too. A
 * reboot or a shutdown asks the guest agent first where the guest's agent answered its last ping
 * (an agent check), and the ACPI power button when that fails or there is no such agent; `via`
 * says which.
 */
import { LibvirtError, LibvirtErrorCode } from "@ringwatch/libvirt";
import { DOMAIN_ACTIONS } from "@ringwatch/shared";
import type { DomainActionCommand } from "@ringwatch/shared";
import type { HypervisorMonitor } from "./hypervisor-monitor.js";

/** Why an action was not carried out (counted per reason). */
export type DomainActionFailure = "badAction" | "noHypervisor" | "unknownDomain" | "libvirtError";

export class DomainActionError extends Error {
  constructor(readonly reason: DomainActionFailure, message: string) {
    super(message);
  }
}

/** libvirt's name for the start of a defined domain */
const LIBVIRT_ACTION = { reboot: "reboot", shutdown: "shutdown", reset: "reset", destroy: "destroy", start: "create", suspend: "suspend", resume: "resume" } as const;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DomainActionDone {
  state: string;
  /** reboot and shutdown: how the guest was asked, and why not through its agent when that failed */
  via?: "agent" | "acpi";
  agentError?: string;
}

export async function executeDomainAction(hv: HypervisorMonitor | undefined, a: DomainActionCommand): Promise<DomainActionDone> {
  if (!(DOMAIN_ACTIONS as readonly string[]).includes(a.action)) throw new DomainActionError("badAction", `unknown action ${JSON.stringify(a.action).slice(0, 40)} (one of ${DOMAIN_ACTIONS.join(", ")})`);
  if (!UUID_RE.test(a.uuid)) throw new DomainActionError("unknownDomain", `not a domain UUID: ${JSON.stringify(a.uuid).slice(0, 60)}`);
  const conn = hv?.conn;
  if (!hv || !conn) throw new DomainActionError("noHypervisor", hv ? "libvirt does not answer on this host now" : "this nanoprobe watches no hypervisor (libvirtUri is off)");
  try {
    await conn.domainInfo(a.uuid);
  } catch (e) {
    if (e instanceof LibvirtError && e.code === LibvirtErrorCode.NO_DOMAIN) throw new DomainActionError("unknownDomain", `this hypervisor has no domain ${a.uuid}`);
    throw new DomainActionError("libvirtError", `libvirt could not look up ${a.uuid}: ${(e as Error).message}`);
  }
  // the guest OS is asked to reboot or power off: through its agent when it answers, else ACPI
  const asksGuest = a.action === "reboot" || a.action === "shutdown";
  let reboot: Pick<DomainActionDone, "via" | "agentError"> = {};
  if (asksGuest && hv.health.agentAnswered(a.uuid)) {
    try {
      await (a.action === "reboot" ? conn.reboot(a.uuid, { mode: "agent" }) : conn.shutdown(a.uuid, { mode: "agent" }));
      reboot = { via: "agent" };
    } catch (e) {
      reboot = { agentError: (e as Error).message };
    }
  }
  try {
    if (reboot.via !== "agent") await conn.action(a.uuid, LIBVIRT_ACTION[a.action as keyof typeof LIBVIRT_ACTION]);
    if (asksGuest && reboot.via !== "agent") reboot.via = "acpi";
  } catch (e) {
    const agent = reboot.agentError ? ` (the guest agent was asked first: ${reboot.agentError})` : "";
    throw new DomainActionError("libvirtError", `libvirt refused ${a.action} on ${a.uuid}: ${(e as Error).message}${agent}`);
  }
  if (a.action === "reset") hv.health.wasReset(a.uuid);
  let after = await conn.domainInfo(a.uuid).catch(() => undefined);
  if (a.action === "reset" && after?.state === "paused") {
    // a guest that crashed (pvpanic) or paused on an I/O error stays paused through a reset: run it
    await conn.action(a.uuid, "resume").catch(() => undefined);
    after = await conn.domainInfo(a.uuid).catch(() => undefined);
  }
  return { state: after?.state ?? "unknown", ...reboot };
}

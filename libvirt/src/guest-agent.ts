// The QEMU guest agent through libvirt: its channel in the domain XML, and what a failed agent
// call says — the agent did not answer (the guest's business), the guest has no agent, or libvirt
// itself failed (the monitor's own trouble, never the guest's).
import { LibvirtError, LibvirtErrorCode } from "./errors.js";
import { child, children, parseXml } from "./xml.js";

/** The virtio-serial port name the QEMU guest agent listens on. */
export const GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0";
/** VIR_DOMAIN_REBOOT_GUEST_AGENT */
export const REBOOT_GUEST_AGENT = 1 << 1;
/** VIR_DOMAIN_SHUTDOWN_GUEST_AGENT */
export const SHUTDOWN_GUEST_AGENT = 1 << 1;

/** Whether the domain XML has a guest-agent channel (a virtio channel named org.qemu.guest_agent.0). */
export function hasGuestAgentChannel(domainXml: string): boolean {
  const devices = child(parseXml(domainXml), "devices");
  return children(devices, "channel").some((c) => {
    const t = child(c, "target")?.attrs;
    return t?.type === "virtio" && t.name === GUEST_AGENT_CHANNEL;
  });
}

export type AgentFailure =
  /** the agent did not answer, or answered out of sync: the guest's (or its agent's) trouble */
  | "unresponsive"
  /** the domain has no agent channel (or the driver has no agent at all) */
  | "noAgent"
  /** the domain is not running, or gone */
  | "notRunning"
  /** anything else: libvirtd away, the connection broken, an internal error — the monitor's own */
  | "libvirt";

/** Sorts a failed agent call (agentCommand, agentPing, reboot in agent mode) by whose trouble it is. */
export function agentFailure(e: unknown): AgentFailure {
  if (!(e instanceof LibvirtError)) return "libvirt";
  switch (e.code) {
    case LibvirtErrorCode.AGENT_UNRESPONSIVE:
    case LibvirtErrorCode.AGENT_UNSYNCED:
      return "unresponsive";
    case LibvirtErrorCode.ARGUMENT_UNSUPPORTED: // "QEMU guest agent is not configured"
    case LibvirtErrorCode.NO_SUPPORT: // a driver without agent access (test://)
      return "noAgent";
    case LibvirtErrorCode.OPERATION_INVALID: // "domain is not running"
    case LibvirtErrorCode.NO_DOMAIN:
      return "notRunning";
    default:
      return "libvirt";
  }
}

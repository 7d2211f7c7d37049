/**
 * One ping of a guest's QEMU guest agent through libvirt (guest-ping, on a libuv pool thread, never
 * the event loop), sorted by whose business the outcome is: the agent answered, or did not (the
 * guest's); the guest has no agent channel (never pinged: its XML is read first, cached a minute);
 * the guest stopped meanwhile; or libvirt itself failed (libvirtd away, the connection broken) —
 * the monitor's own trouble, never held against the guest. A silent agent holds a pool thread up
 * to about twice the timeout (libvirt syncs first), so at most MAX_IN_FLIGHT pings run at once:
 * the pool also carries the stats sampling.
 */
import { agentFailure, hasGuestAgentChannel } from "@ringwatch/libvirt";
import type { LibvirtConnection } from "@ringwatch/libvirt";

export type AgentPingAnswer =
  | { outcome: "answered"; ms: number }
  | { outcome: "noAnswer"; error: string; ms: number }
  | { outcome: "noChannel"; why: string }
  | { outcome: "notRunning" }
  | { outcome: "ownError"; error: string }
  /** MAX_IN_FLIGHT pings were running: this one waits for its next interval */
  | { outcome: "deferred" };

const MAX_IN_FLIGHT = 2;
/** channels change only by hotplug or a new definition: the XML is read again after this */
const CHANNEL_CACHE_MS = 60_000;

/** libvirt takes whole seconds */
export const agentTimeoutSeconds = (timeoutMs: number): number => Math.max(1, Math.ceil(timeoutMs / 1000));

export class GuestAgentPinger {
  private readonly channels = new Map<string, { at: number; has: boolean }>();
  private inFlight = 0;
  /** guest-pings sent to libvirt */
  sent = 0;

  /** conn: the monitor's current connection, undefined while libvirt is away */
  constructor(private readonly conn: () => LibvirtConnection | undefined) {}

  async ping(uuid: string, timeoutMs: number): Promise<AgentPingAnswer> {
    const conn = this.conn();
    if (!conn) return { outcome: "ownError", error: "libvirt does not answer on this host now" };
    if (this.inFlight >= MAX_IN_FLIGHT) return { outcome: "deferred" };
    this.inFlight++;
    try {
      if (!(await this.hasChannel(conn, uuid))) return { outcome: "noChannel", why: "no org.qemu.guest_agent.0 channel in the domain XML" };
      const seconds = agentTimeoutSeconds(timeoutMs);
      const t0 = performance.now();
      try {
        this.sent++;
        await conn.agentPing(uuid, seconds);
        return { outcome: "answered", ms: Math.round(performance.now() - t0) };
      } catch (e) {
        const ms = Math.round(performance.now() - t0);
        const msg = (e as Error).message;
        switch (agentFailure(e)) {
          case "unresponsive": return { outcome: "noAnswer", error: `guest agent: no answer within ${seconds} s (${msg})`, ms };
          case "noAgent": this.channels.set(uuid, { at: Date.now(), has: false }); return { outcome: "noChannel", why: msg };
          case "notRunning": return { outcome: "notRunning" };
          default: return { outcome: "ownError", error: `libvirt: ${msg}` };
        }
      }
    } catch (e) {
      // the XML could not be read: the guest went away, or libvirt failed
      return agentFailure(e) === "notRunning" ? { outcome: "notRunning" } : { outcome: "ownError", error: `libvirt: ${(e as Error).message}` };
    } finally {
      this.inFlight--;
    }
  }

  private async hasChannel(conn: LibvirtConnection, uuid: string): Promise<boolean> {
    const hit = this.channels.get(uuid);
    if (hit && Date.now() - hit.at < CHANNEL_CACHE_MS) return hit.has;
    const has = hasGuestAgentChannel(await conn.domainXml(uuid));
    this.channels.set(uuid, { at: Date.now(), has });
    return has;
  }
}

/**
 * When the ladder must not act on a guest, whatever its policy says (issue 14, item 4): the guest's
 * hypervisor not alive or in maintenance (the fault, or the work, is the host's); its segment
 * suspected — two or more other hosts of it dead, suspect or unreachable: a switch or a link, and
 * rebooting guests makes that worse; the guest acted on by an earlier ladder within its cooldown
 * (it flaps: a person should look); more actions on the host's guests, or in the fleet, within the
 * window than the limits allow. Past the fleet limit the cause is common, and ladders escalate.
 */
import type { Membership } from "../membership/membership.js";
import type { LadderLimits } from "./ladder-policy.js";
import type { ActionMark } from "./ladder-store.js";

export type GuardRefusal = "host-not-alive" | "host-in-maintenance" | "segment-suspect" | "guest-cooldown" | "host-limit" | "fleet-limit";

const DOWN = new Set(["dead", "suspect", "unreachable"]);

export function guardAction(
  membership: Membership, limits: LadderLimits, marks: readonly ActionMark[],
  a: { ladder: string; uuid: string; host: string }, now: number,
): { refusal: GuardRefusal; why: string } | undefined {
  const h = membership.get(a.host);
  if (!h) return { refusal: "host-not-alive", why: `${a.host} is not a member` };
  if (h.state === "maintenance" || h.maintenance) return { refusal: "host-in-maintenance", why: `${a.host} is in maintenance` };
  if (h.state !== "alive") return { refusal: "host-not-alive", why: `${a.host} is ${h.state}` };
  const others = membership.hosts().filter((x) => x.segment === h.segment && x.name !== h.name);
  const down = others.filter((x) => DOWN.has(x.state));
  if (down.length >= 2) return { refusal: "segment-suspect", why: `${down.length} of ${others.length + 1} hosts of segment ${h.segment} are down or suspect (${down.slice(0, 5).map((x) => `${x.name} ${x.state}`).join(", ")}): the fault may be the network, not the guest` };
  const cooling = marks.find((m) => m.uuid === a.uuid && m.ladder !== a.ladder && now - m.at < limits.guestCooldownMs);
  if (cooling) return { refusal: "guest-cooldown", why: `acted on ${Math.round((now - cooling.at) / 1000)} s ago by an earlier ladder (cooldown ${limits.guestCooldownMs / 1000} s): it flaps` };
  const recent = marks.filter((m) => now - m.at < limits.windowMs);
  if (recent.length >= limits.fleet) return { refusal: "fleet-limit", why: `${recent.length} actions in the fleet within ${limits.windowMs / 1000} s (limit ${limits.fleet}): a common cause, escalating` };
  const onHost = recent.filter((m) => m.host === a.host).length;
  if (onHost >= limits.perHost) return { refusal: "host-limit", why: `${onHost} actions on ${a.host}'s guests within ${limits.windowMs / 1000} s (limit ${limits.perHost})` };
  return undefined;
}

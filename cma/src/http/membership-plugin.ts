/**
 * Membership over HTTP: hosts with their state (filtered by state or segment), one host, the
 * rings (with who watches whom, as the ring plan assigned it), and the recent membership events.
 */
import type { FastifyPluginAsync } from "fastify";
import { HOST_STATES } from "../membership/membership.js";
import type { HostRecord, HostState, Membership, MembershipEvent } from "../membership/membership.js";
import { notFound } from "./errors.js";
import { hostName, noQuery } from "./schemas.js";

export interface MembershipPluginOptions {
  membership: Membership;
}

const EVENT_TYPES: readonly MembershipEvent["type"][] = [
  "hostJoined", "hostReturned", "hostLeft", "hostLate", "hostDead", "deathNotConfirmed", "segmentSuspected", "segmentRecovered", "unexpectedHeartbeat", "ringsChanged",
  "maintenanceStarted", "maintenanceEnded", "hostDownInMaintenance", "hostRemoved", "hostKeyMismatch", "hostRevoked",
];

/** What a caller sees of a host: the record without the CMA's bookkeeping. */
export type HostView = Omit<HostRecord, "assignedKey" | "assignmentInFlight">;

export function hostView(h: HostRecord): HostView {
  const { assignedKey: _k, assignmentInFlight: _f, ...v } = h;
  return v;
}

/** The rings, and for each host in them the hosts it heartbeats and watches (the plan's neighbour
 * list, the same one sent to the host): the console draws this, it does not re-derive it. */
export function ringsView(membership: Membership): ReturnType<Membership["rings"]> & { watches: Record<string, string[]> } {
  const rings = membership.rings();
  const inRings = [...new Set([...rings.segments.flatMap((s) => s.members), ...rings.representativeRing])].sort();
  return { ...rings, watches: Object.fromEntries(inRings.map((h) => [h, (membership.neighboursOf(h) ?? []).map((n) => n.name)])) };
}

function eventMentions(e: MembershipEvent, host: string): boolean {
  if ("host" in e && e.host === host) return true;
  if ("hosts" in e && e.hosts.includes(host)) return true;
  return ("reportedBy" in e && (Array.isArray(e.reportedBy) ? e.reportedBy.includes(host) : e.reportedBy === host)) || ("reporter" in e && e.reporter === host);
}

export const membershipPlugin: FastifyPluginAsync<MembershipPluginOptions> = async (app, { membership }) => {
  app.get<{ Querystring: { state?: HostState; segment?: string } }>("/api/hosts", {
    schema: {
      querystring: {
        type: "object",
        properties: { state: { type: "string", enum: HOST_STATES }, segment: { type: "string", maxLength: 128 } },
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const { state, segment } = req.query;
    if (state === "removed") {
      // removed hosts left membership: only asked for by name of their state
      const hosts = membership.removedHosts()
        .filter((t) => !segment || t.segment === segment)
        .map((t) => ({ name: t.name, state: "removed" as const, since: t.removedAt, segment: t.segment, address: t.address, purge: t.purge }));
      return { hosts, counts: membership.countByState() };
    }
    const hosts = membership.hosts()
      .filter((h) => (!state || h.state === state) && (!segment || h.segment === segment))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(hostView);
    return { hosts, counts: membership.countByState() };
  });

  app.get<{ Params: { name: string } }>("/api/hosts/:name", {
    schema: { params: { type: "object", properties: { name: hostName }, required: ["name"], additionalProperties: false }, querystring: noQuery },
  }, async (req) => {
    const h = membership.get(req.params.name);
    if (!h) throw notFound(membership.isRemoved(req.params.name) ? `${req.params.name} was removed (GET /api/hosts?state=removed)` : `no host named ${req.params.name}`);
    return hostView(h);
  });

  app.get("/api/rings", { schema: { querystring: noQuery } }, async () => ringsView(membership));

  app.get<{ Querystring: { since: number; type?: MembershipEvent["type"]; host?: string; limit: number } }>("/api/events", {
    schema: {
      querystring: {
        type: "object",
        properties: {
          since: { type: "integer", minimum: 0, default: 0 },
          type: { type: "string", enum: EVENT_TYPES },
          host: hostName,
          limit: { type: "integer", minimum: 1, maximum: 10_000, default: 100 },
        },
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const { since, type, host, limit } = req.query;
    const events = membership.events(since).filter((e) => (!type || e.type === type) && (!host || eventMentions(e, host)));
    return { events: events.slice(-limit), more: events.length > limit };
  });
};

/**
 * Membership into the graph: hosts (state, address, segment, ring order, representative), the
 * rings as WATCHES (what each live host was last assigned to watch, so a host still assigned a
 * dead neighbour shows as a hole until the repair is sent), and membership events as Event
 * nodes linked to the hosts, segments and addresses they concern. Hosts are never deleted: one
 * that dies or leaves keeps its node with that state; one in maintenance carries its window
 * (maintenanceUntil, maintenanceReason); a removed one (a tombstone in membership) keeps its node,
 * its guests and events, marked state "removed" with removedAt, and watches nobody.
 *
 * Host rows are diffed against what was last written, so a flush after one death writes one
 * host and the few whose assignments changed, not the whole cluster.
 */
import type { HostRecord, Membership, MembershipEvent } from "../../membership/membership.js";
import { mergeNodes, mergeRels } from "../write-batch.js";
import type { Row } from "../write-batch.js";
import { ip, isHostLocal } from "./input.js";
import { addressNodes, offered } from "./derived.js";
import { keySet, listed, phased } from "./phased.js";
import type { Phased } from "./phased.js";

const UP: ReadonlySet<string> = new Set(["alive", "suspect"]);

/** Names in a neighboursKey ("name@addr:port,..."); "?" (never assigned) and "" are none. */
export function watchedNames(assignedKey: string): string[] {
  if (!assignedKey || assignedKey === "?") return [];
  return assignedKey.split(",").map((x) => x.slice(0, x.lastIndexOf("@") < 0 ? x.length : x.lastIndexOf("@"))).filter(Boolean);
}

export interface PendingWrite {
  writes: Phased;
  /** call once the writes are committed */
  committed(): void;
}

export class MembershipGraph {
  private readonly lastHost = new Map<string, string>();
  private readonly lastWatch = new Map<string, string>();
  private synced = false;

  constructor(private readonly membership: Membership) {}

  /** What changed since the last committed call (undefined: nothing). */
  hostWrites(): PendingWrite | undefined {
    const rings = this.membership.rings();
    const order = new Map<string, number>();
    const reps = new Set<string>();
    for (const s of rings.segments) {
      s.members.forEach((m, i) => order.set(m, i));
      reps.add(s.representative);
    }
    const hosts: Row[] = [], tombstones: Row[] = [], segments: Row[] = [], inSegment: Row[] = [], watchRows: Row[] = [], unwatch: Row[] = [];
    const nextHost = new Map<string, string>(), nextWatch = new Map<string, string>();
    const byName = new Map<string, HostRecord>(this.membership.hosts().map((h) => [h.name, h]));
    for (const h of byName.values()) {
      const row: Row = {
        name: h.name, machineId: h.machineId, address: h.address, port: h.port, segment: h.segment, state: h.state, since: h.since,
        joinedAt: h.joinedAt, version: h.version, ringOrder: order.get(h.name) ?? null, representative: reps.has(h.name), updatedAt: h.since,
        maintenanceUntil: h.maintenance?.until ?? null, maintenanceReason: h.maintenance?.reason ?? null, removedAt: null,
      };
      const text = JSON.stringify(row);
      if (this.lastHost.get(h.name) !== text) {
        nextHost.set(h.name, text);
        hosts.push(row);
        segments.push({ name: h.segment });
        inSegment.push({ from: h.name, to: h.segment });
      }
      const watched = UP.has(h.state) ? watchedNames(h.assignedKey).filter((n) => byName.has(n)) : [];
      const w = watched.join(",");
      // first sync: rewrite every host's edges (the graph may hold a previous run's rings)
      if (!this.synced || (this.lastWatch.get(h.name) ?? "") !== w) {
        nextWatch.set(h.name, w);
        unwatch.push({ host: h.name, targets: keySet(watched) });
        for (const n of watched) watchRows.push({ from: h.name, to: n, ring: byName.get(n)!.segment === h.segment ? "segment" : "representatives" });
      }
    }
    for (const t of this.membership.removedHosts()) {
      if (byName.has(t.name)) continue;
      const row: Row = { name: t.name, state: "removed", since: t.removedAt, removedAt: t.removedAt, ringOrder: null, representative: false, maintenanceUntil: null, maintenanceReason: null, updatedAt: t.removedAt };
      const text = JSON.stringify(row);
      if (this.lastHost.get(t.name) !== text) {
        nextHost.set(t.name, text);
        tombstones.push(row); // a statement of its own: the fields it lacks (address, ...) keep their history
      }
      if (!this.synced || (this.lastWatch.get(t.name) ?? "") !== "") {
        nextWatch.set(t.name, "");
        unwatch.push({ host: t.name, targets: keySet([]) });
      }
    }
    if (!hosts.length && !tombstones.length && !unwatch.length) {
      this.synced = true;
      return undefined;
    }
    return {
      writes: phased({
        nodes: [...mergeNodes("Host", hosts), ...mergeNodes("Host", tombstones), ...mergeNodes("Segment", segments)],
        unlink: [
          ...(inSegment.length ? [{
            cypher: "UNWIND $rows AS r WITH r, r.from AS kv MATCH (h:Host {name: kv})-[x:IN_SEGMENT]->(s:Segment) WHERE s.name <> r.to DELETE x",
            params: { rows: inSegment },
          }] : []),
          ...(unwatch.length ? [{
            cypher: `UNWIND $rows AS r WITH r, r.host AS kv MATCH (h:Host {name: kv})-[x:WATCHES]->(n:Host) WHERE NOT ${listed("targets", "n.name")} DELETE x`,
            params: { rows: unwatch },
          }] : []),
        ],
        link: [...mergeRels("IN_SEGMENT", "Host", "Segment", inSegment), ...mergeRels("WATCHES", "Host", "Host", watchRows)],
      }),
      committed: () => {
        this.synced = true;
        for (const [k, v] of nextHost) this.lastHost.set(k, v);
        for (const [k, v] of nextWatch) this.lastWatch.set(k, v);
      },
    };
  }
}

/** Stable id: the same event ingested twice is one node. */
export function eventId(e: MembershipEvent): string {
  const subject = "host" in e ? e.host : "segment" in e ? e.segment : "reporter" in e ? `${e.reporter}>${e.from}` : "";
  return `${e.type}|${e.at}|${subject}`;
}

/** One membership event as an Event node linked to what it concerns. */
export function membershipEventWrites(e: MembershipEvent): Phased {
  const id = eventId(e);
  const hosts = new Set<string>();
  if ("host" in e) hosts.add(e.host);
  if (e.type === "segmentSuspected" || e.type === "segmentRecovered") for (const h of e.hosts) hosts.add(h);
  if (e.type === "unexpectedHeartbeat") hosts.add(e.reporter);
  const segment = "segment" in e ? e.segment : undefined;
  const heard = e.type === "unexpectedHeartbeat" ? ip(e.address.slice(0, e.address.lastIndexOf(":")).replace(/^\[|\]$/g, "")) : null;
  const address = heard && !isHostLocal(heard) ? heard : null;
  const hostRows = [...hosts].map((name) => ({ name }));
  return phased({
    nodes: [
      ...mergeNodes("Event", [{ id, type: e.type, at: e.at, detail: JSON.stringify(e).slice(0, 4096) }]),
      ...mergeNodes("Host", hostRows),
      ...(segment ? mergeNodes("Segment", [{ name: segment }]) : []),
      ...(address ? addressNodes([{ address, family: address.includes(":") ? "IPv6" : "IPv4", firstSeen: e.at }]) : []),
    ],
    link: [
      ...mergeRels("CONCERNS", "Event", "Host", [...hosts].map((h) => ({ from: id, to: h }))),
      ...(segment ? mergeRels("CONCERNS", "Event", "Segment", [{ from: id, to: segment }]) : []),
      ...(address ? mergeRels("CONCERNS", "Event", "IPAddr", [{ from: id, to: address }]) : []),
    ],
    derive: address ? offered([address]) : [],
  });
}

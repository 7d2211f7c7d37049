/**
 * Ring planning, a pure function of the live hosts: one ring per segment (two when
 * `ringsPerSegment` is 2: four neighbours each) plus one ring of segment
 * representatives, so a whole segment going silent is still noticed from outside it. The
 * representative is the first host of its segment in name order: stable, and re-chosen
 * automatically when it dies. Same input, same plan: a restarted CMA recomputes the same rings.
 */
import type { Neighbour } from "@ringwatch/shared";

export interface PlanHost {
  name: string;
  address: string;
  port: number;
  segment: string;
}

export interface RingPlan {
  /** segment -> members in ring order */
  segmentRings: Map<string, string[]>;
  /** segment -> representative */
  representatives: Map<string, string>;
  /** representatives in ring order */
  representativeRing: string[];
  /** host -> the distinct hosts it heartbeats and watches */
  neighbours: Map<string, Neighbour[]>;
}

const byName = (a: PlanHost, b: PlanHost): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function ringNeighbours(order: PlanHost[], add: (from: PlanHost, to: PlanHost) => void): void {
  const n = order.length;
  if (n < 2) return;
  order.forEach((h, i) => {
    add(h, order[(i - 1 + n) % n]);
    add(h, order[(i + 1) % n]);
  });
}

export function planRings(hosts: PlanHost[], ringsPerSegment: 1 | 2): RingPlan {
  const bySegment = new Map<string, PlanHost[]>();
  for (const h of hosts) {
    const l = bySegment.get(h.segment);
    if (l) l.push(h);
    else bySegment.set(h.segment, [h]);
  }
  const neighbourSets = new Map<string, Map<string, Neighbour>>();
  for (const h of hosts) neighbourSets.set(h.name, new Map());
  const add = (from: PlanHost, to: PlanHost): void => {
    if (from.name !== to.name) neighbourSets.get(from.name)!.set(to.name, { name: to.name, address: to.address, port: to.port });
  };

  const segmentRings = new Map<string, string[]>();
  const representatives = new Map<string, PlanHost>();
  for (const seg of [...bySegment.keys()].sort()) {
    const members = bySegment.get(seg)!.sort(byName);
    segmentRings.set(seg, members.map((m) => m.name));
    representatives.set(seg, members[0]);
    ringNeighbours(members, add);
    if (ringsPerSegment === 2 && members.length >= 4) {
      // the second ring links each host to those two places away: never the same as the first
      // ring's neighbours once a segment has 5 hosts (4 hosts: one extra neighbour)
      const n = members.length;
      members.forEach((h, i) => {
        add(h, members[(i + 2) % n]);
        add(h, members[(i - 2 + n) % n]);
      });
    }
  }
  const reps = [...representatives.values()];
  ringNeighbours(reps, add);

  const neighbours = new Map<string, Neighbour[]>();
  for (const [name, set] of neighbourSets) neighbours.set(name, [...set.values()].sort((a, b) => (a.name < b.name ? -1 : 1)));
  return {
    segmentRings,
    representatives: new Map([...representatives].map(([s, h]) => [s, h.name])),
    representativeRing: reps.map((r) => r.name),
    neighbours,
  };
}

/** assignedKey of a host that must be sent its assignment (never equal to any neighboursKey, even of []). */
export const NOT_ASSIGNED = "?";

/**
 * Stable text of a neighbour list, to tell whether a host's assignment changed. With `keyTagOf`,
 * a neighbour's key is part of it: a host that comes back with a rotated key gets its neighbours
 * reassigned (with the new key), or they would refuse its sealed heartbeats.
 */
export function neighboursKey(list: Neighbour[], keyTagOf?: (name: string) => string): string {
  return list.map((n) => `${n.name}@${n.address}:${n.port}${keyTagOf ? `#${keyTagOf(n.name)}` : ""}`).join(",");
}

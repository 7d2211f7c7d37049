// The rings as a picture: each segment's ring and the ring of segment representatives, hosts on a
// circle with an arrow to every host each one heartbeats and watches (the CMA's own assignment,
// `watches` in GET /api/rings: never re-derived here), hosts out of the rings (dead, left, …)
// beside their segment's ring. Every state has a colour and a text label. Dead, unreachable and
// suspect hosts are listed with the switch-or-host verdict of the named query switchVersusHost;
// without a graph store the page says why there is no verdict. What is drawn is on
// window.__ringwatchRings so a browser test reads data, not pixels.
import { api } from "./api.js";
import { el, table } from "./dom.js";
import { hostLink } from "./overview.js";
import { ringPicture } from "./ring-picture.js";
import type { DrawnHost } from "./ring-picture.js";

interface RingsAnswer {
  segments: { segment: string; representative: string; members: string[] }[];
  representativeRing: string[];
  /** host → the hosts it heartbeats and watches */
  watches: Record<string, string[]>;
}
interface Host { name: string; state: string; segment: string }
/** one row of switchVersusHost: a switch or segment with hosts down behind it */
export interface VerdictRow { kind: string; name: string; downHosts: string[]; upHosts: number; hosts: number; suspect: string }

export interface DrawnRing {
  id: string;
  kind: "segment" | "representatives";
  /** the segment (segment rings only) */
  segment?: string;
  representative?: string;
  /** in ring order, each with the hosts of this ring it watches */
  hosts: DrawnHost[];
  /** the segment's hosts not in its ring (dead, left, unreachable, in maintenance and silent) */
  outOfRings: { name: string; state: string }[];
}
export interface DrawnRings {
  rings: DrawnRing[];
  /** host → the switchVersusHost rows naming it among the hosts down (dead, unreachable and suspect hosts only) */
  verdicts: Record<string, VerdictRow[]>;
  /** why there are no verdicts (no graph store, query failed); absent when they were read */
  verdictsUnavailable?: string;
}

declare global { interface Window { __ringwatchRings?: DrawnRings } }

/** the states a table of verdicts lists: down or about to be judged */
const JUDGED = new Set(["dead", "unreachable", "suspect"]);

/** the rings as they are drawn: ring order from the plan, states from the hosts, arrows from `watches` kept to the ring's own members */
export function drawnRings(rings: RingsAnswer, hosts: Host[]): DrawnRing[] {
  const stateOf = new Map(hosts.map((h) => [h.name, h.state]));
  const inRing = (members: string[]): DrawnHost[] => {
    const here = new Set(members);
    return members.map((name) => ({ name, state: stateOf.get(name) ?? "unknown", watches: (rings.watches[name] ?? []).filter((n) => here.has(n)) }));
  };
  const segments = [...new Set([...rings.segments.map((s) => s.segment), ...hosts.map((h) => h.segment)])].sort();
  const out: DrawnRing[] = segments.map((segment) => {
    const ring = rings.segments.find((s) => s.segment === segment);
    const members = ring?.members ?? [];
    return {
      id: `segment ${segment}`, kind: "segment", segment, representative: ring?.representative, hosts: inRing(members),
      outOfRings: hosts.filter((h) => h.segment === segment && !members.includes(h.name)).map((h) => ({ name: h.name, state: h.state })),
    };
  });
  out.push({ id: "representatives", kind: "representatives", hosts: inRing(rings.representativeRing), outOfRings: [] });
  return out;
}

async function readVerdicts(): Promise<{ rows: VerdictRow[] } | { unavailable: string }> {
  try {
    const r = await api<{ rows: VerdictRow[] }>("/api/queries/switchVersusHost");
    return { rows: r.rows };
  } catch (e) {
    // 503 without a graph store; any other failure is said the same way: the rings still show
    return { unavailable: (e as Error).message };
  }
}

const verdictText = (rows: VerdictRow[]): string => rows.map((r) => `${r.suspect} (${r.kind} ${r.name})`).join("; ");
const evidenceText = (rows: VerdictRow[]): string =>
  rows.map((r) => `${r.kind} ${r.name}: ${r.downHosts.length} down (${[...r.downHosts].sort().join(", ")}), ${r.upHosts} of ${r.hosts} up`).join("; ");

export async function renderRings(main: HTMLElement): Promise<void> {
  const [rings, hosts, verdicts] = await Promise.all([api<RingsAnswer>("/api/rings"), api<{ hosts: Host[] }>("/api/hosts"), readVerdicts()]);
  const drawn = drawnRings(rings, hosts.hosts);
  const judged = hosts.hosts.filter((h) => JUDGED.has(h.state));
  const byHost: Record<string, VerdictRow[]> = {};
  if ("rows" in verdicts) for (const h of judged) byHost[h.name] = verdicts.rows.filter((r) => r.downHosts.includes(h.name));

  const rows = judged.map((h) => {
    const v = byHost[h.name];
    const verdict = !v ? "unavailable" : v.length ? verdictText(v) : h.state === "suspect" ? "none yet (a suspect host still counts as up)" : "none (not down in the graph yet)";
    const cell = el("span", { className: `state-${h.state}`, textContent: h.state });
    return [hostLink(h.name), cell, verdict, v ? evidenceText(v) : ""];
  });
  const verdictSection = el("section", { id: "verdicts" },
    el("h2", { textContent: `Dead and suspect hosts (${judged.length}): switch or host?` }),
    "unavailable" in verdicts ? el("p", { id: "verdicts-unavailable", className: "form-error", textContent: `verdicts unavailable: ${verdicts.unavailable}` }) : "",
    table(["host", "state", "verdict", "evidence"], rows, "verdict-table"),
    el("p", { className: "hint", textContent: "switch: several hosts behind it down and none up; host: others behind it still answer; host-or-switch: the only host there" }));

  const pictures = drawn.map((r, i) => el("figure", { className: "ring-figure" },
    el("figcaption", {}, el("strong", { textContent: r.kind === "segment" ? `Segment ${r.segment}` : "Representatives" }),
      r.kind === "segment" ? ` · ${r.hosts.length} in the ring${r.representative ? `, representative ${r.representative}` : ""}` : " · one host per segment, watching each other's segments"),
    ringPicture(r.id, r.hosts, r.outOfRings, `ring${i}`)));
  main.replaceChildren(
    el("h2", { textContent: "Rings" }),
    legend(),
    el("p", { className: "hint", textContent: "an arrow from a host to each host it heartbeats and watches; hosts out of the rings are drawn below their segment's ring" }),
    el("div", { className: "ring-layout" }, el("div", { className: "ring-pictures" }, ...pictures), verdictSection),
  );
  window.__ringwatchRings = { rings: drawn, verdicts: byHost, ...("unavailable" in verdicts ? { verdictsUnavailable: verdicts.unavailable } : {}) };
}

function legend(): HTMLElement {
  const states = ["alive", "suspect", "dead", "unreachable", "maintenance", "left"];
  return el("div", { className: "row" },
    el("ul", { className: "counts ring-legend", id: "ring-legend" }, ...states.map((s) => el("li", { className: `state-${s}` }, el("span", { className: `legend-dot dot-${s}` }), ` ${s}`))),
    el("span", { className: "hint", textContent: "a host that is not alive has its state in its label, e.g. hv7 (dead)" }));
}

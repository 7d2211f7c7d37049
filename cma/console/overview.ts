// The fleet overview: hosts by state (with counts), active alerts, active monitoring errors and
// the hosts in maintenance; each host name links to its host page.
import { api } from "./api.js";
import { el, table, when } from "./dom.js";

interface Host { name: string; state: string; since: number; address: string; port: number; segment: string; version: string; maintenance?: { until: number; reason: string }; revoked?: boolean }
interface Alert { host: string; kind: string; subject: string; subjectName?: string; at: number }
interface MonitoringError { host: string; source: string; subject: string; since: number }

export const hostLink = (name: string): HTMLAnchorElement => el("a", { href: `#/host/${encodeURIComponent(name)}`, textContent: name });

export async function renderOverview(main: HTMLElement): Promise<void> {
  const [hosts, alerts, errors] = await Promise.all([
    api<{ hosts: Host[]; counts: Record<string, number> }>("/api/hosts"),
    api<{ alerts: Alert[] }>("/api/alerts"),
    api<{ errors: MonitoringError[] }>("/api/monitoring-errors"),
  ]);
  const counts = el("ul", { className: "counts", id: "state-counts" }, ...Object.entries(hosts.counts).map(([s, n]) => el("li", { className: `state-${s}` }, el("strong", { textContent: String(n) }), ` ${s}`)));
  const states = [...new Set(hosts.hosts.map((h) => h.state))].sort();
  const byState = states.map((s) => el("section", {},
    el("h3", { className: `state-${s}`, textContent: `${s} (${hosts.hosts.filter((h) => h.state === s).length})` }),
    table(["host", "since", "address", "segment", "version"], hosts.hosts.filter((h) => h.state === s).map((h) => [hostCell(h), when(h.since), `${h.address}:${h.port}`, h.segment, h.version]))));
  const maintenance = hosts.hosts.filter((h) => h.state === "maintenance");
  main.replaceChildren(
    el("h2", { textContent: "Fleet" }), counts,
    ...(byState.length ? byState : [el("p", { textContent: "no hosts have joined yet" })]),
    el("h2", { textContent: `Hosts in maintenance (${maintenance.length})` }),
    table(["host", "since", "until", "reason"], maintenance.map((h) => [hostLink(h.name), when(h.since), when(h.maintenance?.until), h.maintenance?.reason ?? ""]), "maintenance"),
    el("h2", { textContent: `Active alerts (${alerts.alerts.length})` }),
    table(["host", "kind", "subject", "since"], alerts.alerts.map((a) => [hostLink(a.host), a.kind, a.subjectName || a.subject, when(a.at)]), "alerts"),
    el("h2", { textContent: `Monitoring errors (${errors.errors.length})` }),
    table(["host", "source", "subject", "since"], errors.errors.map((e) => [hostLink(e.host), e.source, e.subject, when(e.since)]), "monitoring-errors"),
  );
}

/** a host whose key was revoked is out of the rings whatever its last state: said next to its name */
function hostCell(h: Host): Node {
  return h.revoked ? el("span", { className: "row" }, hostLink(h.name), el("span", { className: "revoked", textContent: "key revoked" })) : hostLink(h.name);
}

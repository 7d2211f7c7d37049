// A guest page: the guest as the inventory knows it (name, state, the host running it now), a
// banner while an escalation ladder runs for it (ladders.ts), its active alerts, (operators,
// admins) actions on it (guest-actions.ts), and its charts — CPU, each vCPU's steal, memory, disk
// and NIC rates — with alert markers (chart-panel.ts). Reached from its host's page; after a
// migration the inventory names the new host, and the page says so (history stays with the host
// that recorded it).
import { api } from "./api.js";
import type { Me } from "./api.js";
import { GuestActionsSection } from "./guest-actions.js";
import { ChartPanel } from "./chart-panel.js";
import { el, table, when } from "./dom.js";
import type { Domain } from "./host.js";
import { guestHref } from "./host.js";
import { ladderBanner } from "./ladders.js";
import { hostLink } from "./overview.js";

interface Alert { host: string; kind: string; subject: string; subjectName?: string; at: number }

export class GuestPage {
  private panel: ChartPanel | undefined;
  private readonly facts = el("div", { id: "guest-facts" });

  private name = "";

  constructor(private readonly host: string, private readonly uuid: string, private readonly main: HTMLElement, private readonly role: Me["role"]) {}

  async render(): Promise<void> {
    const found = await api<{ host: string; domain: Domain }>(`/api/domains/${encodeURIComponent(this.uuid)}`).catch(() => undefined);
    const name = found?.domain.name ?? this.uuid;
    this.name = name;
    const actions = this.role === "viewer" ? [] : [new GuestActionsSection(this.uuid, () => this.name, () => this.refresh()).element];
    this.panel = new ChartPanel(this.host, this.uuid, new Map([[this.uuid.toLowerCase(), name]]));
    this.main.replaceChildren(
      el("h2", {}, `Guest ${name} on host `, hostLink(this.host)),
      this.facts,
      ...actions,
      el("h3", { textContent: "Charts" }),
      this.panel.element,
    );
    await Promise.all([this.panel.render(), this.showFacts(found)]);
  }

  async refresh(): Promise<void> {
    const found = await api<{ host: string; domain: Domain }>(`/api/domains/${encodeURIComponent(this.uuid)}`).catch(() => undefined);
    await Promise.all([this.panel?.refresh(), this.showFacts(found)]);
  }

  destroy(): void { this.panel?.destroy(); }

  private async showFacts(found: { host: string; domain: Domain } | undefined): Promise<void> {
    const [{ alerts }, banner] = await Promise.all([
      api<{ alerts: Alert[] }>(`/api/alerts?host=${encodeURIComponent(this.host)}`).catch(() => ({ alerts: [] as Alert[] })),
      ladderBanner(this.uuid),
    ]);
    const mine = alerts.filter((a) => a.subject.toLowerCase() === this.uuid.toLowerCase());
    const where = !found ? el("p", { className: "form-error", textContent: "not in the inventory now (shut off and undefined, or its host is gone): its history is below" })
      : found.host !== this.host ? el("p", {}, "now runs on ", el("a", { href: guestHref(found.host, this.uuid), textContent: found.host }), "; the charts below are its history on ", this.host)
        : el("p", { textContent: `state ${found.domain.state} · uuid ${this.uuid}` });
    this.facts.replaceChildren(banner ?? "", where,
      el("h3", { textContent: `Active alerts (${mine.length})` }),
      table(["kind", "since"], mine.map((a) => [a.kind, when(a.at)]), "guest-alerts"));
  }
}

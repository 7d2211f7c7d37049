// A host page: its state and (operators, admins) maintenance and removal (host-control.ts), its
// guests (the inventory, each linked to its guest page), and per guest its charts (chart-panel.ts).
import { api } from "./api.js";
import type { Me } from "./api.js";
import { ChartPanel } from "./chart-panel.js";
import { el, table } from "./dom.js";
import { HostControlSection } from "./host-control.js";

export interface Domain { uuid: string; name: string; state: string }

export const guestHref = (host: string, uuid: string): string => `#/host/${encodeURIComponent(host)}/guest/${encodeURIComponent(uuid)}`;

export class HostPage {
  private readonly control: HostControlSection;
  private panel: ChartPanel | undefined;

  constructor(private readonly host: string, private readonly main: HTMLElement, role: Me["role"]) {
    this.control = new HostControlSection(host, role);
  }

  async render(): Promise<void> {
    const [inventory] = await Promise.all([
      api<{ domains: Domain[] }>(`/api/inventory/${encodeURIComponent(this.host)}`).catch(() => ({ domains: [] as Domain[] })),
      this.control.render(),
    ]);
    const names = new Map(inventory.domains.map((d) => [d.uuid.toLowerCase(), d.name]));
    this.panel = new ChartPanel(this.host, undefined, names, (uuid) => guestHref(this.host, uuid));
    this.main.replaceChildren(
      el("h2", { textContent: `Host ${this.host}` }),
      this.control.element,
      el("h3", { textContent: `Guests (${inventory.domains.length})` }),
      table(["name", "uuid", "state"], inventory.domains.map((d) => [el("a", { href: guestHref(this.host, d.uuid), textContent: d.name }), d.uuid, d.state]), "guests"),
      el("h3", { textContent: "Charts" }),
      this.panel.element,
    );
    await this.panel.render();
    await this.control.refresh();
  }

  async refresh(): Promise<void> {
    await Promise.all([this.control.refresh(), this.panel?.refresh()]);
  }

  destroy(): void { this.panel?.destroy(); }
}

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
    const names = new Map<string, string>();
    this.panel = new ChartPanel(this.host, undefined, names, (uuid) => guestHref(this.host, uuid)); // asks for its series list now
    const [inventory] = await Promise.all([
      api<{ domains: Domain[] }>(`/api/inventory/${encodeURIComponent(this.host)}`).catch(() => ({ domains: [] as Domain[] })),
      this.control.render(),
    ]);
    for (const d of inventory.domains) names.set(d.uuid.toLowerCase(), d.name);
    this.main.replaceChildren(
      el("h2", { textContent: `Host ${this.host}` }),
      this.control.element,
      el("h3", { textContent: `Guests (${inventory.domains.length})` }),
      table(["name", "uuid", "state"], inventory.domains.map((d) => [el("a", { href: guestHref(this.host, d.uuid), textContent: d.name }), d.uuid, d.state]), "guests"),
      el("h3", { textContent: "Charts" }),
      this.panel.element,
    );
    await this.panel.render(); // the state was read by control.render() above
  }

  async refresh(): Promise<void> {
    await Promise.all([this.control.refresh(), this.panel?.refresh()]);
  }

  destroy(): void { this.panel?.destroy(); }
}

// A host page: its guests (the inventory) and, per guest, charts of CPU, memory, disk and NIC
// rates from the metric history. A range preset charts the last 1 h … 7 d and follows "now" on
// each refresh; a drag-zoom fixes the range until zoom out or reset. Above them, the host's state
// and (operators, admins) its maintenance and removal: host-control.ts.
import { api } from "./api.js";
import type { Me } from "./api.js";
import { Chart } from "./chart.js";
import { el, table } from "./dom.js";
import { HostControlSection } from "./host-control.js";

interface Domain { uuid: string; name: string; state: string }
interface SeriesInfo { domain: string; metric: string; kind: string; unit: string | null }

const HOUR = 3_600_000;
export const PRESETS: Readonly<Record<string, number>> = { "1 h": HOUR, "6 h": 6 * HOUR, "24 h": 24 * HOUR, "7 d": 168 * HOUR };
/** the series a host page charts: CPU, memory in use, disk and NIC byte rates */
const CHARTED = /^(cpu|balloon\.rss|block\.[^.]+\.(rd|wr)\.bytes|net\.[^.]+\.(rx|tx)\.bytes)$/;

export class HostPage {
  private charts: Chart[] = [];
  private span = HOUR;
  /** a zoomed range, fixed until zoom out or reset; undefined: the last `span` up to now */
  private zoom: { from: number; to: number } | undefined;
  private readonly rangeInfo = el("span", { id: "range-info" });

  private readonly control: HostControlSection;

  constructor(private readonly host: string, private readonly main: HTMLElement, role: Me["role"]) {
    this.control = new HostControlSection(host, role);
  }

  async render(): Promise<void> {
    const [inventory, list] = await Promise.all([
      api<{ domains: Domain[] }>(`/api/inventory/${encodeURIComponent(this.host)}`).catch(() => ({ domains: [] as Domain[] })),
      api<{ series: SeriesInfo[] }>(`/api/series/list?host=${encodeURIComponent(this.host)}`),
      this.control.render(),
    ]);
    const names = new Map(inventory.domains.map((d) => [d.uuid.toLowerCase(), d.name]));
    const presets = Object.entries(PRESETS).map(([label, ms]) => {
      const b = el("button", { textContent: label, className: "preset" });
      b.dataset.preset = label;
      b.addEventListener("click", () => { this.span = ms; this.zoom = undefined; void this.refresh(); });
      return b;
    });
    const zoomOut = el("button", { textContent: "zoom out", id: "zoom-out" });
    zoomOut.addEventListener("click", () => { const { from, to } = this.range(); const w = to - from; this.setZoom(from - w / 2, Math.min(Date.now(), to + w / 2)); });
    const reset = el("button", { textContent: "reset", id: "zoom-reset" });
    reset.addEventListener("click", () => { this.zoom = undefined; void this.refresh(); });
    this.charts = list.series.filter((s) => s.domain && CHARTED.test(s.metric))
      .sort((a, b) => (a.domain + a.metric < b.domain + b.metric ? -1 : 1))
      .map((s) => new Chart({ host: this.host, domain: s.domain, metric: s.metric }, `${names.get(s.domain.toLowerCase()) ?? s.domain} · ${s.metric}${s.unit ? ` (${s.unit})` : ""}`, (from, to) => this.setZoom(from, to)));
    this.main.replaceChildren(
      el("h2", { textContent: `Host ${this.host}` }),
      this.control.element,
      el("h3", { textContent: `Guests (${inventory.domains.length})` }),
      table(["name", "uuid", "state"], inventory.domains.map((d) => [d.name, d.uuid, d.state]), "guests"),
      el("h3", { textContent: "Charts" }),
      el("div", { className: "row" }, ...presets, zoomOut, reset, this.rangeInfo),
      el("p", { className: "hint", textContent: "drag across a chart to zoom; min–max band, avg line" }),
      ...(this.charts.length ? this.charts.map((c) => c.element) : [el("p", { textContent: "no history for this host's guests yet" })]),
    );
    await this.refresh();
  }

  /** the live refresh: re-reads a preset range up to now; a zoomed range stays where it is */
  async refresh(): Promise<void> {
    const { from, to } = this.range();
    this.rangeInfo.textContent = `${new Date(from).toLocaleString()} – ${new Date(to).toLocaleString()}${this.zoom ? " (zoomed)" : ""}`;
    await Promise.all([this.control.refresh(), ...this.charts.map((c) => c.load(from, to))]);
  }

  destroy(): void { for (const c of this.charts) c.destroy(); this.charts = []; }

  private range(): { from: number; to: number } {
    if (this.zoom) return this.zoom;
    const to = Date.now();
    return { from: to - this.span, to };
  }

  private setZoom(from: number, to: number): void {
    this.zoom = { from: Math.floor(from), to: Math.ceil(to) };
    void this.refresh();
  }
}

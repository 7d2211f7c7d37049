// One metric's chart: min/max as a band, avg as the line, for the range its panel loaded
// (chart-panel.ts asks /api/series/batch for all its open charts at once); dragging across it
// tells the panel the dragged from/to, which loads them again (the resolution follows the range).
// Alert changes in the range are drawn as vertical markers on the time axis (red raised, green
// cleared) and listed under the chart. What it plots, markers included, is on
// window.__ringwatchCharts[id] so a browser test reads data, not pixels.
import uPlot from "./vendor/uPlot.esm.js";
import { el } from "./dom.js";

export interface SeriesRow { t: number; count: number; min: number; avg: number; max: number }
export interface SeriesAnswer { domain: string; metric: string; kind: string; unit: string | null; resolution: string; bucketMs: number; rows: SeriesRow[] }
/** an alert change (GET /api/alerts/history) */
export interface AlertMarker { t: number; kind: string; change: "raised" | "cleared"; subject: string; subjectName: string }
/** loadedAt: performance.now() when drawn (the console benchmark times a zoom's round trip with it) */
export interface Plotted { from: number; to: number; resolution: string; bucketMs: number; rows: SeriesRow[]; markers: AlertMarker[]; loadedAt: number }

declare global { interface Window { __ringwatchCharts: Record<string, Plotted> } }
window.__ringwatchCharts ??= {};

export interface ChartSource { host: string; domain: string; metric: string }
export type ZoomListener = (from: number, to: number) => void;

/** an axis label that fits: 2.1M, 950k, 0.25 */
const short = (v: number): string => (Math.abs(v) >= 1e6 ? `${+(v / 1e6).toPrecision(3)}M` : Math.abs(v) >= 1e3 ? `${+(v / 1e3).toPrecision(3)}k` : `${+v.toPrecision(3)}`);

export class Chart {
  readonly id: string;
  readonly element: HTMLElement;
  private readonly plot: uPlot;
  private readonly info: HTMLElement;
  private readonly markerList: HTMLElement;
  private markers: AlertMarker[] = [];

  constructor(readonly source: ChartSource, title: string, private readonly onZoom: ZoomListener) {
    this.id = `${source.domain}/${source.metric}`;
    this.info = el("span", { className: "chart-info" });
    const holder = el("div", { className: "chart-plot" });
    this.markerList = el("div", { className: "chart-markers" });
    this.element = el("figure", { className: "chart" }, el("figcaption", {}, el("strong", { textContent: title }), " ", this.info), holder, this.markerList);
    this.element.dataset.chart = this.id;
    this.plot = new uPlot({
      width: 720, height: 200,
      cursor: { drag: { x: true, y: false, setScale: false } },
      scales: { x: { time: true } },
      axes: [{}, { size: 60, values: (_u, ticks) => ticks.map(short) }],
      series: [{}, { label: "min", stroke: "#9bb7e0" }, { label: "avg", stroke: "#23395d", width: 1.5 }, { label: "max", stroke: "#9bb7e0" }],
      bands: [{ series: [3, 1], fill: "rgba(35,57,93,0.15)" }],
      hooks: { setSelect: [(u) => this.selected(u)], draw: [(u) => this.drawMarkers(u)] },
    }, [[], [], [], []], holder);
  }

  /** draws one /api/series answer for [from, to) with the alert changes given (those in the range) */
  show(a: SeriesAnswer, from: number, to: number, markers: AlertMarker[] = []): void {
    this.markers = markers.filter((m) => m.t >= from && m.t < to);
    this.markerList.replaceChildren(...this.markers.map((m) => el("span", { className: `marker marker-${m.change}`, textContent: `${m.change === "raised" ? "▲" : "▽"} ${m.kind} ${m.change} ${new Date(m.t).toLocaleTimeString()}${m.subjectName ? ` (${m.subjectName})` : ""}` })));
    this.plot.setData([a.rows.map((r) => r.t / 1000), a.rows.map((r) => r.min), a.rows.map((r) => r.avg), a.rows.map((r) => r.max)], false);
    this.plot.setScale("x", { min: from / 1000, max: to / 1000 });
    this.info.textContent = `${a.unit ?? ""} · ${a.bucketMs ? `${a.resolution} (${a.bucketMs / 1000} s buckets)` : "each report interval"} · ${a.rows.length} points`;
    // what the chart holds now, read back from uPlot: a test sees what is drawn, not what was fetched
    const [ts, mins, avgs, maxs] = this.plot.data as unknown as number[][];
    const rows = ts.map((t, i) => ({ t: t * 1000, count: a.rows[i].count, min: mins[i], avg: avgs[i], max: maxs[i] }));
    window.__ringwatchCharts[this.id] = { from, to, resolution: a.resolution, bucketMs: a.bucketMs, rows, markers: this.markers, loadedAt: performance.now() };
  }

  /** says why nothing new is drawn (what was drawn stays) */
  showError(message: string): void {
    this.info.textContent = message;
  }

  destroy(): void {
    this.plot.destroy();
    delete window.__ringwatchCharts[this.id];
  }

  /** a vertical line per alert change inside the plotting area */
  private drawMarkers(u: uPlot): void {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.lineWidth = 2;
    for (const m of this.markers) {
      const x = Math.round(u.valToPos(m.t / 1000, "x", true));
      if (x < bbox.left || x > bbox.left + bbox.width) continue;
      ctx.strokeStyle = m.change === "raised" ? "#c0262d" : "#17803d";
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
    }
    ctx.restore();
  }

  private selected(u: uPlot): void {
    const { left, width } = u.select;
    if (width < 2) return;
    const from = u.posToVal(left, "x") * 1000;
    const to = u.posToVal(left + width, "x") * 1000;
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (to > from) this.onZoom(from, to);
  }
}

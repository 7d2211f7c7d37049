// The charts of a host page or a guest page: range presets (the last 1 h … 7 d, following "now"
// on each refresh), drag-zoom (fixes the range until zoom out or reset), and per guest a section
// of charts — CPU, each vCPU's steal, memory in use, disk and NIC byte rates — with the alert
// changes of the range as markers. A host with many guests would ask for hundreds of series per
// refresh: a section's charts are built and loaded only while it is open (the first few start open).
import { api } from "./api.js";
import { Chart } from "./chart.js";
import type { AlertMarker, SeriesAnswer } from "./chart.js";
import { el } from "./dom.js";

export interface SeriesInfo { domain: string; metric: string; kind: string; unit: string | null }

const HOUR = 3_600_000;
export const PRESETS: Readonly<Record<string, number>> = { "1 h": HOUR, "6 h": 6 * HOUR, "24 h": 24 * HOUR, "7 d": 168 * HOUR };
/** sections open at first on a host page; more start closed */
const OPEN_SECTIONS = 3;
/** rows per chart: about one bucket per 2–3 pixels of a 700-pixel chart */
const POINTS = 300;
/** series per /api/series/batch request (the API's most) */
const BATCH = 100;

/** the series charted, in this order, each with the title an operator reads */
const CHARTED: readonly [RegExp, (m: RegExpMatchArray) => string][] = [
  [/^cpu$/, () => "CPU"],
  [/^vcpu\.(\d+)\.delay$/, (m) => `vCPU ${m[1]} steal (waiting for a physical CPU)`],
  [/^balloon\.rss$/, () => "memory in use (RSS)"],
  [/^block\.([^.]+)\.(rd|wr)\.bytes$/, (m) => `disk ${m[1]} ${m[2] === "rd" ? "read" : "write"}`],
  [/^net\.([^.]+)\.(rx|tx)\.bytes$/, (m) => `NIC ${m[1]} ${m[2] === "rx" ? "receive" : "transmit"}`],
];

/** the chart title for a series, or undefined when it is not charted; its rank orders a section */
function charted(metric: string): { title: string; rank: string } | undefined {
  for (let i = 0; i < CHARTED.length; i++) {
    const m = metric.match(CHARTED[i][0]);
    if (m) return { title: CHARTED[i][1](m), rank: `${i}:${metric.replace(/\d+/g, (d) => d.padStart(6, "0"))}` };
  }
  return undefined;
}

/** loadedSeq: the refresh (this.seq) that last loaded it; a section opened since loads on its own */
interface Section { domain: string; series: SeriesInfo[]; charts: Chart[]; details: HTMLDetailsElement; body: HTMLElement; loadedSeq: number }
interface Loaded { section: Section; chart: Chart; answer: SeriesAnswer }

export class ChartPanel {
  readonly element: HTMLElement;
  private span = HOUR;
  /** a zoomed range, fixed until zoom out or reset; undefined: the last `span` up to now */
  private zoom: { from: number; to: number } | undefined;
  private readonly rangeInfo = el("span", { id: "range-info" });
  private readonly sections: Section[] = [];
  private markers: AlertMarker[] = [];
  private guests = new Set<string>();
  private seq = 0; // answers to older requests are dropped

  /**
   * @param host the host whose series are charted
   * @param domain one guest (a guest page) or undefined (every guest of the host)
   * @param names guest UUID (lower case) → name, for titles
   * @param guestLink a guest's page (a host page links each section to it)
   */
  constructor(private readonly host: string, private readonly domain: string | undefined, private readonly names: ReadonlyMap<string, string>, private readonly guestLink?: (uuid: string) => string) {
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
    this.listing = api<{ series: SeriesInfo[] }>(`/api/series/list?${new URLSearchParams({ host: this.host, ...(this.domain ? { domain: this.domain } : {}) })}`);
    this.listing.catch(() => undefined); // rejected before render() awaits it: no unhandled rejection
    this.element = el("section", { className: "chart-panel" },
      el("div", { className: "row" }, ...presets, zoomOut, reset, this.rangeInfo),
      el("p", { className: "hint", textContent: "drag across a chart to zoom; min–max band, avg line; red marks an alert raised, green one cleared" }));
  }

  /** which series exist: asked at once, while the page reads what else it shows */
  private readonly listing: Promise<{ series: SeriesInfo[] }>;

  /** lays out a section per guest (names read from the map now: the page may fill it after construction) */
  async render(): Promise<void> {
    const { series } = await this.listing;
    const byDomain = new Map<string, SeriesInfo[]>();
    for (const s of series) if (s.domain && charted(s.metric)) byDomain.set(s.domain, [...(byDomain.get(s.domain) ?? []), s]);
    this.guests = new Set([...byDomain.keys()].map((d) => d.toLowerCase()));
    const domains = [...byDomain.keys()].sort((a, b) => (this.title(a) < this.title(b) ? -1 : 1));
    for (const [i, domain] of domains.entries()) {
      const details = el("details", { className: "guest-charts", open: this.domain !== undefined || i < OPEN_SECTIONS });
      details.dataset.guest = domain;
      const summary = el("summary", {}, el("strong", { textContent: this.title(domain) }), ` · ${byDomain.get(domain)!.length} charts`);
      if (this.guestLink && !this.domain) summary.append(" · ", el("a", { href: this.guestLink(domain), textContent: "guest page" }));
      const body = el("div");
      details.append(summary, body);
      const section: Section = { domain, series: byDomain.get(domain)!.sort((a, b) => (charted(a.metric)!.rank < charted(b.metric)!.rank ? -1 : 1)), charts: [], details, body, loadedSeq: -1 };
      details.addEventListener("toggle", () => void this.toggled(section));
      this.sections.push(section);
      this.element.append(details);
    }
    if (!domains.length) this.element.append(el("p", { textContent: this.domain ? "no history for this guest yet" : "no history for this host's guests yet" }));
    for (const s of this.sections) if (s.details.open) this.build(s);
    await this.refresh();
  }

  /** the live refresh: re-reads a preset range up to now; a zoomed range stays where it is */
  async refresh(): Promise<void> {
    const { from, to } = this.range();
    this.rangeInfo.textContent = `${new Date(from).toLocaleString()} – ${new Date(to).toLocaleString()}${this.zoom ? " (zoomed)" : ""}`;
    const q = new URLSearchParams({ host: this.host, from: String(Math.floor(from)), to: String(Math.ceil(to)), ...(this.domain ? { domain: this.domain } : {}) });
    const seq = ++this.seq;
    const open = this.sections.filter((s) => s.details.open);
    for (const s of open) s.loadedSeq = seq;
    const [events, answers] = await Promise.all([
      api<{ events: AlertMarker[] }>(`/api/alerts/history?${q}`).then((a) => a.events, () => [] as AlertMarker[]),
      this.load(open, from, to, seq),
    ]);
    if (seq !== this.seq) return;
    this.markers = events;
    this.draw(answers, from, to);
  }

  /** asks for the sections' charts over [from, to), BATCH series per request; an error is shown on its charts at once */
  private async load(sections: Section[], from: number, to: number, seq: number): Promise<Loaded[]> {
    const wanted = sections.flatMap((section) => section.charts.map((chart) => ({ section, chart })));
    const loaded: Loaded[] = [];
    await Promise.all(Array.from({ length: Math.ceil(wanted.length / BATCH) }, async (_, i) => {
      const part = wanted.slice(i * BATCH, (i + 1) * BATCH);
      const q = new URLSearchParams({ host: this.host, from: String(Math.floor(from)), to: String(Math.ceil(to)), points: String(POINTS) });
      for (const w of part) q.append("series", `${w.chart.source.domain}/${w.chart.source.metric}`);
      try {
        const a = await api<{ series: (SeriesAnswer & { error?: string; message?: string })[] }>(`/api/series/batch?${q}`);
        if (seq !== this.seq) return;
        a.series.forEach((answer, k) => {
          if (answer.error) part[k].chart.showError(answer.message ?? answer.error);
          else loaded.push({ ...part[k], answer });
        });
      } catch (e) {
        if (seq === this.seq) for (const w of part) w.chart.showError((e as Error).message);
      }
    }));
    return loaded;
  }

  /** draws a refresh's answers together, with the markers (one refresh: one picture) */
  private draw(loaded: Loaded[], from: number, to: number): void {
    for (const l of loaded) l.chart.show(l.answer, from, to, this.markersFor(l.section.domain));
  }

  destroy(): void {
    for (const s of this.sections) for (const c of s.charts) c.destroy();
    this.sections.length = 0;
  }

  /** a guest's charts show its own alerts and those about the host (subjects that are none of its guests) */
  private markersFor(domain: string): AlertMarker[] {
    const d = domain.toLowerCase();
    return this.markers.filter((m) => m.subject.toLowerCase() === d || !this.guests.has(m.subject.toLowerCase()));
  }

  private title(domain: string): string {
    return this.names.get(domain.toLowerCase()) ?? domain;
  }

  private build(s: Section): void {
    if (s.charts.length) return;
    s.charts = s.series.map((x) => new Chart({ host: this.host, domain: x.domain, metric: x.metric }, charted(x.metric)!.title, (from, to) => this.setZoom(from, to)));
    s.body.replaceChildren(...s.charts.map((c) => c.element));
  }

  private async toggled(s: Section): Promise<void> {
    // opening fires "toggle" too when the page builds a section open: the refresh under way loads it
    if (!s.details.open || s.loadedSeq === this.seq) return;
    this.build(s);
    const { from, to } = this.range();
    const seq = this.seq; // a refresh or zoom meanwhile draws this section itself
    s.loadedSeq = seq;
    const loaded = await this.load([s], from, to, seq);
    if (seq === this.seq) this.draw(loaded, from, to);
  }

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

// A host's membership state on its page and, for operators and admins, the forms that change it:
// maintenance (until + reason) and its end, and (admins) removal. Every write asks for an
// in-page confirmation first; the API judges every value and its refusal is shown as it says it.
import { ApiError, api, postJson } from "./api.js";
import type { Me } from "./api.js";
import { el, when } from "./dom.js";

interface HostState { name: string; state: string; since: number; maintenance?: { until: number; reason: string; startedAt: number; down?: boolean } }

const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90m", "2h", "1d" → that long from now (ms since the epoch); anything else (an ISO 8601 time) goes to the API as written, which judges it */
export function untilValue(text: string, now = Date.now()): number | string {
  const m = /^\s*(\d+)\s*([mhd])\s*$/.exec(text);
  return m ? now + Number(m[1]) * UNIT_MS[m[2]] : text.trim();
}

export class HostControlSection {
  readonly element = el("section", { id: "host-control" });
  private readonly stateLine = el("p", { id: "host-state" });
  private readonly error = el("p", { id: "host-control-error", className: "form-error" });
  private readonly confirm = el("div", { id: "host-control-confirm", className: "row confirm", hidden: true });
  private state: HostState | undefined;

  constructor(private readonly host: string, private readonly role: Me["role"]) {}

  async render(): Promise<void> {
    await this.load();
    const canOperate = this.role === "operator" || this.role === "admin";
    this.element.replaceChildren(el("h3", { textContent: "State" }), this.stateLine,
      ...(canOperate ? [this.maintenanceForm(), this.endButton(), ...(this.role === "admin" ? [this.removeButton()] : []), this.confirm, this.error] : []));
    this.show();
  }

  /** re-reads the state (the forms keep what is typed in them) */
  async refresh(): Promise<void> {
    await this.load();
    this.show();
  }

  private async load(): Promise<void> {
    try {
      this.state = await api<HostState>(`/api/hosts/${encodeURIComponent(this.host)}`);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      this.state = undefined;
      this.stateLine.dataset.missing = e.message;
    }
  }

  private show(): void {
    const s = this.state;
    this.stateLine.className = s ? `state-${s.state}` : "state-removed";
    this.stateLine.dataset.state = s?.state ?? "unknown";
    this.stateLine.textContent = !s ? `not in membership (${this.stateLine.dataset.missing ?? ""})`
      : s.maintenance ? `maintenance until ${when(s.maintenance.until)}: ${s.maintenance.reason}${s.maintenance.down ? " (silent)" : ""}`
      : `${s.state} since ${when(s.since)}`;
    const end = this.element.querySelector<HTMLButtonElement>("#maintenance-end");
    if (end) end.hidden = s?.state !== "maintenance";
  }

  private maintenanceForm(): HTMLFormElement {
    const until = el("input", { id: "maintenance-until", name: "until", required: true, placeholder: "2h, 90m, 1d or 2026-12-24T08:00Z", size: 24 });
    const reason = el("input", { id: "maintenance-reason", name: "reason", required: true, placeholder: "reason", size: 40 });
    const form = el("form", { id: "maintenance-form", className: "row" },
      el("label", {}, "maintenance until ", until), el("label", {}, "reason ", reason), el("button", { type: "submit", textContent: "put in maintenance…" }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const body = { until: untilValue(until.value), reason: reason.value };
      const at = typeof body.until === "number" ? new Date(body.until).toLocaleString() : body.until;
      this.ask(`Put ${this.host} in maintenance until ${at} (${body.reason})?`, () => postJson(`/api/hosts/${encodeURIComponent(this.host)}/maintenance`, body));
    });
    return form;
  }

  private endButton(): HTMLButtonElement {
    const b = el("button", { id: "maintenance-end", textContent: "end maintenance…", hidden: true });
    b.addEventListener("click", () => this.ask(`End ${this.host}'s maintenance now? (a silent host is probed, then judged)`,
      () => api(`/api/hosts/${encodeURIComponent(this.host)}/maintenance`, { method: "DELETE" })));
    return b;
  }

  private removeButton(): HTMLButtonElement {
    const b = el("button", { id: "host-remove", textContent: "remove host…" });
    b.addEventListener("click", () => this.ask(`Remove ${this.host} from service? It leaves membership and the rings.`,
      () => postJson(`/api/hosts/${encodeURIComponent(this.host)}/remove`, { purge: false })));
    return b;
  }

  /** the in-page confirmation: the write is sent only when its confirm button is clicked */
  private ask(question: string, write: () => Promise<unknown>): void {
    this.error.textContent = "";
    const yes = el("button", { id: "confirm-yes", textContent: "confirm" });
    const no = el("button", { id: "confirm-no", textContent: "cancel" });
    no.addEventListener("click", () => { this.confirm.hidden = true; });
    yes.addEventListener("click", () => void (async () => {
      this.confirm.hidden = true;
      try {
        await write();
        await this.refresh();
      } catch (e) {
        this.error.textContent = (e as Error).message;
      }
    })());
    this.confirm.replaceChildren(el("span", { textContent: question }), yes, no);
    this.confirm.hidden = false;
  }
}

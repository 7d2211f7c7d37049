// Actions on a guest from its page (operators and admins): each button asks for an in-page
// confirmation, then POST /api/domains/<uuid>/actions with the reason typed; the answer (the
// guest's state after, on which host) or the API's refusal is shown under the buttons.
import { postJson } from "./api.js";
import { ConfirmBar } from "./confirm.js";
import { el } from "./dom.js";

const ACTIONS: readonly [string, string][] = [
  ["reboot", "ask the guest to reboot (ACPI)"], ["shutdown", "ask the guest to shut down (ACPI)"], ["reset", "reset button"],
  ["destroy", "pull the power"], ["start", "boot it"], ["suspend", "pause it"], ["resume", "unpause it"],
];

export class GuestActionsSection {
  readonly element: HTMLElement;
  private readonly result = el("p", { id: "guest-action-result" });
  private readonly error = el("p", { id: "guest-action-error", className: "form-error" });
  private readonly reason = el("input", { id: "guest-action-reason", placeholder: "reason (kept in the audit log)", size: 40, maxLength: 256 });
  private readonly confirm = new ConfirmBar("guest-action-confirm", this.error);

  constructor(private readonly uuid: string, private readonly label: () => string, private readonly changed: () => Promise<void>) {
    const buttons = ACTIONS.map(([action, what]) => {
      const b = el("button", { textContent: `${action}…`, title: what });
      b.dataset.action = action;
      b.addEventListener("click", () => this.confirm.ask(`${action} ${this.label()} (${what})?`, () => this.act(action), this.changed));
      return b;
    });
    this.element = el("section", { id: "guest-actions" }, el("h3", { textContent: "Actions" }), el("div", { className: "row" }, ...buttons, this.reason), this.confirm.element, this.result, this.error);
  }

  private async act(action: string): Promise<void> {
    this.result.textContent = "";
    const r = await postJson<{ host: string; state: string }>(`/api/domains/${encodeURIComponent(this.uuid)}/actions`, { action, reason: this.reason.value });
    this.result.textContent = `${action} done on ${r.host}: now ${r.state}`;
    this.result.dataset.state = r.state;
  }
}

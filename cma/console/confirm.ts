// An in-page confirmation bar for a page section: a write is sent only when its confirm button is
// clicked; its refusal (as the API words it) goes to the section's error line.
import { el } from "./dom.js";

export class ConfirmBar {
  readonly element: HTMLDivElement;

  /** `id` names the bar (its buttons are `.confirm-yes` / `.confirm-no` inside it) */
  constructor(id: string, private readonly error: HTMLElement) {
    this.element = el("div", { id, className: "row confirm", hidden: true });
  }

  /** ask; on confirm run `write`, then `done` (a refresh); a failure of either is shown */
  ask(question: string, write: () => Promise<unknown>, done: () => Promise<void>): void {
    this.error.textContent = "";
    const yes = el("button", { className: "confirm-yes", textContent: "confirm" });
    const no = el("button", { className: "confirm-no", textContent: "cancel" });
    no.addEventListener("click", () => { this.element.hidden = true; });
    yes.addEventListener("click", () => void (async () => {
      this.element.hidden = true;
      try {
        await write();
        await done();
      } catch (e) {
        this.error.textContent = (e as Error).message;
      }
    })());
    this.element.replaceChildren(el("span", { textContent: question }), yes, no);
    this.element.hidden = false;
  }

  hide(): void { this.element.hidden = true; }
}

/**
 * A secret shown once (an API token, an enrollment token): what it is, its value, what to do with
 * it, and a button that hides it for good. Only a hash of it is kept, so the page is its one chance.
 */
import { el } from "./dom.js";

export function showSecretOnce(panel: HTMLElement, s: { idPrefix: string; heading: string; value: string; note: string }): void {
  const done = el("button", { id: `${s.idPrefix}-secret-done`, textContent: "I have copied it" });
  done.addEventListener("click", () => { panel.hidden = true; panel.replaceChildren(); });
  panel.replaceChildren(
    el("p", {}, s.heading),
    el("code", { id: `${s.idPrefix}-secret-value`, textContent: s.value }),
    el("p", { className: "secret-note", textContent: s.note }),
    done,
  );
  panel.hidden = false;
}

// The signed-in user's own account (#/account, every role): who they are, and changing their own
// password (PUT /api/session/password: the current one, the new one twice). The API renews this
// session on success (a new CSRF token, taken here) and signs the user's other sessions out.
import { api, setCsrfToken } from "./api.js";
import type { Me } from "./api.js";
import { el } from "./dom.js";
import { NewPasswordFields } from "./password-fields.js";

export function renderAccount(main: HTMLElement, me: Me): void {
  const error = el("p", { id: "account-error", className: "form-error" });
  const note = el("p", { id: "account-note", className: "note" });
  const current = el("input", { id: "account-current", name: "current", type: "password", autocomplete: "current-password", required: true, size: 20 });
  const fields = new NewPasswordFields("account-new", "new password");
  const form = el("form", { id: "password-change", className: "row" },
    el("label", {}, "current password ", current), ...fields.elements, el("button", { type: "submit", textContent: "change password" }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void (async () => {
      error.textContent = note.textContent = "";
      try {
        const body = JSON.stringify({ current: current.value, password: fields.value() });
        const done = await api<Me>("/api/session/password", { method: "PUT", headers: { "content-type": "application/json" }, body });
        setCsrfToken(done.csrfToken ?? "");
        current.value = "";
        fields.clear();
        note.textContent = "password changed; your other sessions were signed out";
      } catch (err) {
        error.textContent = (err as Error).message;
      }
    })();
  });
  const signedInAs = el("p", { id: "account-who" }, "Signed in as ", el("strong", { textContent: me.user }), ` (${me.role})`);
  if (me.via !== "session") {
    main.replaceChildren(el("h2", { textContent: "Account" }), signedInAs, el("p", { textContent: "An API token has no password to change." }));
    return;
  }
  main.replaceChildren(el("h2", { textContent: "Account" }), signedInAs, el("h3", { textContent: "Change your password" }), form, note, error);
}

// API tokens on the users page (admins): the list with each token's state (active, expired,
// revoked), creating one (name, role, expiry: a preset, a date or never) and revoking one
// (confirmed in the page). A new token's secret is in the create answer only: it is shown here
// once, with a note saying so, until dismissed; the list never holds it.
import { api, postJson } from "./api.js";
import type { Me } from "./api.js";
import { ConfirmBar } from "./confirm.js";
import { el, table, when } from "./dom.js";
import { showSecretOnce } from "./secret-once.js";

interface Token { id: string; name: string; role: Me["role"]; createdAt: number; createdBy: string; expiresAt: number | null; revokedAt: number | null; state: "active" | "expired" | "revoked" }

const ROLES: readonly Me["role"][] = ["viewer", "operator", "admin"];
export const roleSelect = (id: string): HTMLSelectElement => el("select", { id, name: "role" }, ...ROLES.map((r) => el("option", { value: r, textContent: r })));

const DAY = 86_400_000;
/** expiry choices: a lifetime in ms from the click, "never" (null) or "date" (the date field) */
const EXPIRY: readonly [string, number | "never" | "date"][] = [["1 day", DAY], ["30 days", 30 * DAY], ["90 days", 90 * DAY], ["1 year", 365 * DAY], ["never", "never"], ["until a date…", "date"]];

/** the expiresAt to send: ms since the epoch or null; throws when a date is chosen but not given */
export function expiresAt(choice: string, date: string, now = Date.now()): number | null {
  const c = EXPIRY.find(([label]) => label === choice)?.[1];
  if (c === undefined) throw new Error(`unknown expiry ${choice}`);
  if (c === "never") return null;
  if (c !== "date") return now + c;
  const t = new Date(date).getTime(); // a datetime-local value: local time
  if (!date || !Number.isFinite(t)) throw new Error("choose the expiry date and time; nothing was sent");
  return t;
}

export class TokensSection {
  readonly element = el("section", { id: "tokens-section" });
  private readonly error = el("p", { id: "tokens-error", className: "form-error" });
  private readonly confirm = new ConfirmBar("tokens-confirm", this.error);
  private readonly list = el("div", { id: "tokens-list" });
  private readonly secret = el("div", { id: "token-secret", className: "secret", hidden: true });

  async render(): Promise<void> {
    this.element.replaceChildren(
      el("h2", { textContent: "API tokens" }), this.list, this.confirm.element, this.error,
      el("h3", { textContent: "Create a token" }), this.createForm(), this.secret,
    );
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const { tokens } = await api<{ tokens: Token[] }>("/api/tokens");
    const t = table(["id", "name", "role", "created", "by", "expires", "state", ""], tokens.map((k) => [
      k.id, k.name, k.role, when(k.createdAt), k.createdBy, k.expiresAt === null ? "never" : when(k.expiresAt),
      el("span", { className: `token-${k.state}`, textContent: k.state === "revoked" ? `revoked ${when(k.revokedAt)}` : k.state }),
      k.state === "revoked" ? "" : this.revokeButton(k),
    ]), "tokens");
    tokens.forEach((k, i) => { Object.assign(t.tBodies[0].rows[i].dataset, { token: k.id, name: k.name, state: k.state }); });
    this.list.replaceChildren(t);
  }

  private revokeButton(k: Token): HTMLButtonElement {
    const b = el("button", { className: "token-revoke", textContent: "revoke…" });
    b.addEventListener("click", () => this.confirm.ask(`Revoke token ${k.id} (${k.name}, ${k.role})? Whatever uses it is refused from then on.`,
      () => api(`/api/tokens/${k.id}`, { method: "DELETE" }), () => this.refresh()));
    return b;
  }

  private createForm(): HTMLFormElement {
    const name = el("input", { id: "token-name", name: "name", required: true, autocomplete: "off", size: 20, placeholder: "what it is for" });
    const role = roleSelect("token-role");
    const expiry = el("select", { id: "token-expiry", name: "expiry" }, ...EXPIRY.map(([label]) => el("option", { value: label, textContent: label })));
    expiry.value = "90 days";
    const date = el("input", { id: "token-expiry-date", type: "datetime-local", hidden: true });
    expiry.addEventListener("change", () => { date.hidden = expiry.value !== "until a date…"; });
    const form = el("form", { id: "token-create", className: "row" },
      el("label", {}, "name ", name), el("label", {}, "role ", role), el("label", {}, "expires ", expiry, date), el("button", { type: "submit", textContent: "create token" }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void (async () => {
        this.error.textContent = "";
        try {
          const made = await postJson<Token & { token: string }>("/api/tokens", { name: name.value, role: role.value, expiresAt: expiresAt(expiry.value, date.value) });
          name.value = "";
          this.showSecret(made);
          await this.refresh();
        } catch (err) {
          this.error.textContent = (err as Error).message;
        }
      })();
    });
    return form;
  }

  private showSecret(made: Token & { token: string }): void {
    showSecretOnce(this.secret, {
      idPrefix: "token", value: made.token,
      heading: `New token ${made.id} (${made.name}, ${made.role}, expires ${made.expiresAt === null ? "never" : when(made.expiresAt)}):`,
      note: "Copy it now: it is shown only this once and cannot be shown again (only a hash of it is kept). Send it as 'Authorization: Bearer <token>'.",
    });
  }
}

// The users and tokens page (#/users, admins only; main.ts shows "admins only" to the others):
// the users with their roles and times, adding one, setting a password, deleting one (confirmed in
// the page); the API tokens below (tokens.ts). A refresh re-reads the lists only: what is typed
// in the forms, and a new token's secret on show, stay.
import { api, postJson } from "./api.js";
import type { Me } from "./api.js";
import { ConfirmBar } from "./confirm.js";
import { el, table, when } from "./dom.js";
import { NewPasswordFields } from "./password-fields.js";
import { TokensSection, roleSelect } from "./tokens.js";

interface User { name: string; role: Me["role"]; createdAt: number; passwordChangedAt: number }

export class UsersPage {
  private readonly error = el("p", { id: "users-error", className: "form-error" });
  private readonly note = el("p", { id: "users-note", className: "note" });
  private readonly confirm = new ConfirmBar("users-confirm", this.error);
  private readonly list = el("div", { id: "users-list" });
  private readonly setPassword = el("form", { id: "user-password-form", className: "row", hidden: true });
  private readonly tokens = new TokensSection();

  constructor(private readonly main: HTMLElement, private readonly me: Me) {}

  async render(): Promise<void> {
    this.main.replaceChildren(
      el("h2", { textContent: "Users" }), this.list, this.setPassword, this.confirm.element, this.note, this.error,
      el("h3", { textContent: "Add a user" }), this.addForm(),
      this.tokens.element,
    );
    await Promise.all([this.loadUsers(), this.tokens.render()]);
  }

  async refresh(): Promise<void> {
    await Promise.all([this.loadUsers(), this.tokens.refresh()]);
  }

  private async loadUsers(): Promise<void> {
    const { users } = await api<{ users: User[] }>("/api/users");
    const t = table(["name", "role", "created", "password changed", ""], users.map((u) => [
      u.name, u.role, when(u.createdAt), when(u.passwordChangedAt), this.rowActions(u),
    ]), "users");
    users.forEach((u, i) => { t.tBodies[0].rows[i].dataset.user = u.name; });
    this.list.replaceChildren(t);
  }

  private rowActions(u: User): HTMLSpanElement {
    const set = el("button", { className: "user-set-password", textContent: "set password…" });
    set.addEventListener("click", () => this.showSetPassword(u.name));
    const del = el("button", { className: "user-delete", textContent: "delete…" });
    del.addEventListener("click", () => {
      this.note.textContent = "";
      this.confirm.ask(`Delete user ${u.name} (${u.role})? Their sessions end at once.${u.name === this.me.user ? " That is you: you will be signed out." : ""}`,
        () => api(`/api/users/${encodeURIComponent(u.name)}`, { method: "DELETE" }), async () => { this.note.textContent = `user ${u.name} deleted`; await this.loadUsers(); });
    });
    return el("span", { className: "row" }, set, del);
  }

  private showSetPassword(name: string): void {
    this.error.textContent = this.note.textContent = "";
    const fields = new NewPasswordFields("user-password", `new password for ${name}`);
    const cancel = el("button", { type: "button", textContent: "cancel" });
    cancel.addEventListener("click", () => { this.setPassword.hidden = true; });
    const self = name === this.me.user ? [el("span", { className: "hint", textContent: "that is you: this signs you out (Account keeps this session)" })] : [];
    this.setPassword.replaceChildren(...fields.elements, el("button", { type: "submit", textContent: "set password" }), cancel, ...self);
    this.setPassword.onsubmit = (e) => {
      e.preventDefault();
      void (async () => {
        this.error.textContent = "";
        try {
          await api(`/api/users/${encodeURIComponent(name)}/password`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ password: fields.value() }) });
          this.setPassword.hidden = true;
          this.note.textContent = `password of ${name} set; their sessions were signed out`;
          await this.loadUsers();
        } catch (err) {
          this.error.textContent = (err as Error).message;
        }
      })();
    };
    this.setPassword.hidden = false;
    fields.password.focus();
  }

  private addForm(): HTMLFormElement {
    const name = el("input", { id: "user-add-name", name: "name", required: true, autocomplete: "off", size: 16 });
    const role = roleSelect("user-add-role");
    const fields = new NewPasswordFields("user-add");
    const form = el("form", { id: "user-add", className: "row" },
      el("label", {}, "name ", name), el("label", {}, "role ", role), ...fields.elements, el("button", { type: "submit", textContent: "add user" }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void (async () => {
        this.error.textContent = this.note.textContent = "";
        try {
          const made = await postJson<User>("/api/users", { name: name.value, role: role.value, password: fields.value() });
          name.value = "";
          fields.clear();
          this.note.textContent = `user ${made.name} (${made.role}) added`;
          await this.loadUsers();
        } catch (err) {
          this.error.textContent = (err as Error).message;
        }
      })();
    });
    return form;
  }
}

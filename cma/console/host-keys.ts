// The host keys page (#/host-keys, admins only; main.ts shows "admins only" to the others): every
// pin the CMA keeps, those waiting for approval first, with approve (pending), revoke and forget
// (each confirmed in the page). A refresh re-reads the list only. Below, one-time enrollment
// tokens: a form (host name, lifetime) whose token is shown once, until dismissed, and the
// enrollments not expired, with cancel for the outstanding ones (confirmed).
import { api, postJson } from "./api.js";
import { ConfirmBar } from "./confirm.js";
import { el, table, when } from "./dom.js";
import { showSecretOnce } from "./secret-once.js";

interface Enrollment { name: string; state: "outstanding" | "used"; createdAt: number; createdBy: string; expiresAt: number; usedAt: number | null; usedBy: string | null }

const MINUTE = 60_000;
/** lifetimes offered (the CMA takes 1 min .. 7 days) */
const TTLS: readonly [string, number][] = [["15 minutes", 15 * MINUTE], ["1 hour", 60 * MINUTE], ["1 day", 1440 * MINUTE], ["7 days", 7 * 1440 * MINUTE]];

interface Pin { name: string; state: "pinned" | "pending" | "revoked"; fingerprint: string; firstSeenAt: number; pinnedAt: number | null; pinnedBy: string | null; revokedAt: number | null; revokedBy: string | null; lastAddress: string | null }

export class HostKeysPage {
  private readonly error = el("p", { id: "host-keys-error", className: "form-error" });
  private readonly note = el("p", { id: "host-keys-note", className: "note" });
  private readonly confirm = new ConfirmBar("host-keys-confirm", this.error);
  private readonly policy = el("p", { id: "host-keys-policy" });
  private readonly list = el("div", { id: "host-keys-list" });
  private readonly enrollments = el("div", { id: "enrollments-list" });
  private readonly secret = el("div", { id: "enrollment-secret", className: "secret", hidden: true });

  constructor(private readonly main: HTMLElement) {}

  async render(): Promise<void> {
    this.main.replaceChildren(el("h2", { textContent: "Host keys" }), this.policy, this.list, this.confirm.element, this.note, this.error,
      el("h3", { textContent: "Enroll a host" }), this.enrollForm(), this.secret, this.enrollments);
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const { policy, pins } = await api<{ policy: string; pins: Pin[] }>("/api/host-keys");
    this.policy.textContent = `admission policy: ${policy}`;
    const t = table(["host", "state", "fingerprint", "first seen", "pinned", "by", "revoked", "last address", ""], pins.map((p) => [
      p.name, el("span", { className: `pin-${p.state}`, textContent: p.state }), el("code", { textContent: p.fingerprint }), when(p.firstSeenAt), when(p.pinnedAt),
      (p.state === "revoked" ? p.revokedBy : p.pinnedBy) ?? "", when(p.revokedAt), p.lastAddress ?? "", this.rowActions(p),
    ]), "host-keys");
    pins.forEach((p, i) => { t.tBodies[0].rows[i].dataset.host = p.name; });
    this.list.replaceChildren(pins.length ? t : el("p", { textContent: "no host key recorded yet" }));
    const { enrollments } = await api<{ enrollments: Enrollment[] }>("/api/host-keys/enrollments");
    const e = table(["host", "state", "expires", "made", "by", "used by key", ""], enrollments.map((x) => [
      x.name, el("span", { className: `enrollment-${x.state}`, textContent: x.state }), when(x.expiresAt), when(x.createdAt), x.createdBy,
      x.usedBy ? el("code", { textContent: x.usedBy }) : "", x.state === "outstanding" ? this.cancelButton(x) : "",
    ]), "enrollments");
    enrollments.forEach((x, i) => { e.tBodies[0].rows[i].dataset.host = x.name; });
    this.enrollments.replaceChildren(enrollments.length ? e : el("p", { textContent: "no enrollment outstanding" }));
  }

  private cancelButton(x: Enrollment): HTMLButtonElement {
    const b = el("button", { className: "enrollment-cancel", textContent: "cancel…" });
    b.addEventListener("click", () => {
      this.note.textContent = "";
      this.confirm.ask(`Cancel the enrollment of ${x.name}? Its token admits nobody from now on.`,
        () => api(`/api/host-keys/enrollments/${encodeURIComponent(x.name)}`, { method: "DELETE" }),
        async () => {
          if (this.secret.dataset.host === x.name) { this.secret.hidden = true; this.secret.replaceChildren(); } // its token is void now
          await this.refresh();
          this.note.textContent = `${x.name}: enrollment cancelled`;
        });
    });
    return b;
  }

  private enrollForm(): HTMLFormElement {
    const name = el("input", { id: "enroll-name", name: "name", required: true, autocomplete: "off", size: 20, placeholder: "host name" });
    const ttl = el("select", { id: "enroll-ttl", name: "ttl" }, ...TTLS.map(([label, ms]) => el("option", { value: String(ms), textContent: label })));
    ttl.value = String(60 * MINUTE);
    const form = el("form", { id: "enroll-create", className: "row" }, el("label", {}, "host ", name), el("label", {}, "valid for ", ttl), el("button", { type: "submit", textContent: "make token" }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void (async () => {
        this.error.textContent = this.note.textContent = "";
        try {
          const made = await postJson<Enrollment & { token: string }>("/api/host-keys/enrollments", { name: name.value, ttlMs: Number(ttl.value) });
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

  private showSecret(made: Enrollment & { token: string }): void {
    showSecretOnce(this.secret, {
      idPrefix: "enrollment", value: made.token,
      heading: `Enrollment token for ${made.name} (one host, once, until ${when(made.expiresAt)}):`,
      note: "Copy it now: it is shown only this once (only a hash of it is kept). Put it in that host's enrollmentTokenFile and start its nanoprobe.",
    });
    this.secret.dataset.host = made.name;
  }

  private rowActions(p: Pin): HTMLSpanElement {
    const path = `/api/host-keys/${encodeURIComponent(p.name)}`;
    const done = (what: string) => async (): Promise<void> => { this.note.textContent = `${p.name}: ${what}`; await this.refresh(); };
    const buttons: HTMLButtonElement[] = [];
    if (p.state === "pending") {
      const approve = el("button", { className: "host-key-approve", textContent: "approve" });
      approve.addEventListener("click", () => void (async () => {
        this.error.textContent = this.note.textContent = "";
        try {
          await api(`${path}/approve`, { method: "POST" });
          await done("key approved: it joins at its next announcement")();
        } catch (e) {
          this.error.textContent = (e as Error).message;
        }
      })());
      buttons.push(approve);
    }
    if (p.state !== "revoked") {
      const revoke = el("button", { className: "host-key-revoke", textContent: "revoke…" });
      revoke.addEventListener("click", () => {
        this.note.textContent = "";
        this.confirm.ask(`Revoke the key of ${p.name} (${p.fingerprint})? It is refused from now on and leaves the rings at once.`,
          () => api(`${path}/revoke`, { method: "POST" }), done("key revoked"));
      });
      buttons.push(revoke);
    }
    const forget = el("button", { className: "host-key-forget", textContent: "forget…" });
    forget.addEventListener("click", () => {
      this.note.textContent = "";
      this.confirm.ask(`Forget the key of ${p.name}? Its next announcement is treated as a new host (re-keying it).`,
        () => api(path, { method: "DELETE" }), done("key forgotten"));
    });
    buttons.push(forget);
    return el("span", { className: "row" }, ...buttons);
  }
}

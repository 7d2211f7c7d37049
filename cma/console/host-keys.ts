// The host keys page (#/host-keys, admins only; main.ts shows "admins only" to the others): every
// pin the CMA keeps, those waiting for approval first, with approve (pending), revoke and forget
// (each confirmed in the page). A refresh re-reads the list only.
import { api } from "./api.js";
import { ConfirmBar } from "./confirm.js";
import { el, table, when } from "./dom.js";

interface Pin { name: string; state: "pinned" | "pending" | "revoked"; fingerprint: string; firstSeenAt: number; pinnedAt: number | null; pinnedBy: string | null; revokedAt: number | null; revokedBy: string | null; lastAddress: string | null }

export class HostKeysPage {
  private readonly error = el("p", { id: "host-keys-error", className: "form-error" });
  private readonly note = el("p", { id: "host-keys-note", className: "note" });
  private readonly confirm = new ConfirmBar("host-keys-confirm", this.error);
  private readonly policy = el("p", { id: "host-keys-policy" });
  private readonly list = el("div", { id: "host-keys-list" });

  constructor(private readonly main: HTMLElement) {}

  async render(): Promise<void> {
    this.main.replaceChildren(el("h2", { textContent: "Host keys" }), this.policy, this.list, this.confirm.element, this.note, this.error);
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

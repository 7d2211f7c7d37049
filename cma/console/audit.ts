// The audit log (admin): the latest entries, newest first.
import { api } from "./api.js";
import { el, table } from "./dom.js";

interface Entry { seq: number; time: string; actor: string; via: string; from: string; action: string; target?: string; outcome: string }

export async function renderAudit(main: HTMLElement): Promise<void> {
  const { entries } = await api<{ entries: Entry[] }>("/api/audit?limit=200");
  main.replaceChildren(el("h2", { textContent: "Audit log" }),
    table(["time", "actor", "via", "from", "action", "target", "outcome"], [...entries].reverse().map((e) => [e.time, e.actor, e.via, e.from, e.action, e.target ?? "", e.outcome]), "audit"));
}

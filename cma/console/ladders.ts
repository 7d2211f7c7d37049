// The escalation ladders (#/ladders, any role), from GET /api/ladders: without a policy the page
// says so and how to set one; else a table of the ladders — under way and escalated first, then
// the ended ones, newest first — and each ladder's history (every step with its time, outcome and
// detail: a refusal's reason). Rebuilt on each refresh, like the rings page. guest.ts shows a
// banner from ladderBanner while a ladder runs for its guest.
import { api } from "./api.js";
import { el, table, when } from "./dom.js";
import { guestHref } from "./host.js";
import { hostLink } from "./overview.js";

export interface LadderRecord { step: number; what: string; at: number; outcome: string; detail?: string }
export interface Ladder {
  id: string; uuid: string; name: string; host: string; startedAt: number;
  steps: string[]; next: number; dueAt: number; inFlight?: number;
  status: "running" | "escalated" | "ended"; endedAt?: number; endReason?: string;
  history: LadderRecord[]; level?: number;
}
export interface LaddersAnswer { policy: boolean; mode?: "act" | "dry-run"; ladders: Ladder[] }

/** cma/src/actions/ladder.ts LADDER_LEVELS, by number */
const LEVELS = ["ended", "notified", "asked", "forced", "escalated"];

/** how far a ladder has gone: "ended" once it ended, "started" before its first step */
export function levelName(l: Ladder): string {
  if (l.status === "ended") return "ended";
  return l.level ? LEVELS[l.level] ?? `level ${l.level}` : "started";
}

/** "wait 1000 ms" (as the CMA names a wait) → "wait 1 s" */
function stepLabel(step: string | undefined): string {
  const m = /^wait (\d+) ms$/.exec(step ?? "");
  return m ? `wait ${duration(Number(m[1]))}` : step ?? "";
}

function duration(ms: number): string {
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(a)} ms`;
  if (a < 60_000) return `${Math.round(a / 1000)} s`;
  if (a < 3_600_000) return `${Math.round(a / 60_000)} min`;
  const h = a / 3_600_000;
  return `${Number.isInteger(h) ? h : h.toFixed(1)} h`;
}

const relative = (at: number, now = Date.now()): string => (Math.abs(at - now) < 1000 ? "now" : at > now ? `in ${duration(at - now)}` : `${duration(now - at)} ago`);

/** the step it is at: the one under way, else the last one passed (a wait while it waits) */
function currentStep(l: Ladder): string {
  if (l.status === "ended") return `ended: ${l.endReason ?? ""}`;
  if (l.inFlight !== undefined) return `${stepLabel(l.steps[l.inFlight])} (under way)`;
  return l.next > 0 ? stepLabel(l.steps[l.next - 1]) : "(starting)";
}

/** the next step and when it is due; none once escalated or ended */
function nextStep(l: Ladder): string {
  if (l.status === "escalated") return "none: escalated to a person, stands until the guest is healthy";
  if (l.status === "ended" || l.inFlight !== undefined) return "";
  if (l.next >= l.steps.length) return `end, ${relative(l.dueAt)}`;
  return `${stepLabel(l.steps[l.next])}, ${relative(l.dueAt)}`;
}

const isDryRun = (l: Ladder, mode: LaddersAnswer["mode"]): boolean =>
  l.history.some((h) => h.outcome === "dry-run") || (l.status !== "ended" && mode === "dry-run");

/** under way and escalated first (newest first), then the ended ones (last ended first) */
function ordered(ladders: Ladder[]): Ladder[] {
  const active = ladders.filter((l) => l.status !== "ended").sort((a, b) => b.startedAt - a.startedAt);
  const ended = ladders.filter((l) => l.status === "ended").sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0));
  return [...active, ...ended];
}

const guestLink = (l: Ladder): HTMLAnchorElement => el("a", { href: guestHref(l.host, l.uuid), textContent: l.name || l.uuid });

export async function renderLadders(main: HTMLElement): Promise<void> {
  const answer = await api<LaddersAnswer>("/api/ladders");
  if (!answer.policy) {
    main.replaceChildren(el("h2", { textContent: "Escalation ladders" }),
      el("p", { id: "ladders-no-policy", textContent: "No ladder policy is configured: no guest is ever acted on automatically." }),
      el("p", { className: "hint", textContent: "To have one, set actionPolicyFile (and dataDir) in the CMA's configuration to a JSON policy — its steps (notify, waits, reboot, reset, escalate), mode act or dry-run, limits and webhooks — and restart the CMA (README, \"Actions on guests\", the escalation ladder)." }));
    return;
  }
  const ladders = ordered(answer.ladders);
  const running = ladders.filter((l) => l.status !== "ended").length;
  const rows = ladders.map((l) => {
    const level = el("span", { className: `ladder-${l.status}`, textContent: levelName(l) });
    return [guestLink(l), hostLink(l.host), level, currentStep(l), nextStep(l), `${when(l.startedAt)} (${relative(l.startedAt)})`, isDryRun(l, answer.mode) ? "dry run" : ""];
  });
  const list = table(["guest", "hypervisor", "level", "current step", "next step due", "started", "dry run"], rows, "ladders");
  ladders.forEach((l, i) => {
    const tr = list.tBodies[0].rows[i];
    tr.dataset.uuid = l.uuid;
    tr.dataset.status = l.status;
  });
  main.replaceChildren(
    el("h2", { textContent: `Escalation ladders (${running} under way or escalated, ${ladders.length - running} ended)` }),
    answer.mode === "dry-run" ? el("p", { id: "ladders-dry-run", className: "confirm", textContent: "dry-run mode: every action step is recorded as what it would do; nothing is done to any guest" }) : "",
    ladders.length ? list : el("p", { id: "ladders-none", textContent: "no ladder yet: a guest reported unhealthy starts one" }),
    ...ladders.map(historySection),
  );
}

/** one ladder's steps so far, its end, and the steps left */
function historySection(l: Ladder): HTMLElement {
  const rows: string[][] = l.history.map((h) => [when(h.at), stepLabel(h.what), h.outcome, h.detail ?? ""]);
  if (l.status === "ended") rows.push([when(l.endedAt), "end", "ended", l.endReason ?? ""]);
  const left = l.status === "running" ? l.steps.slice(l.inFlight ?? l.next).map(stepLabel) : [];
  const s = el("section", { className: "ladder-history" },
    el("h3", {}, "History of ", guestLink(l), ` on ${l.host} · ${levelName(l)} · started ${when(l.startedAt)}`),
    table(["time", "step", "outcome", "detail (a refusal's reason)"], rows),
    left.length ? el("p", { className: "hint", textContent: `steps left: ${left.join(" → ")}` }) : "");
  s.dataset.ladder = l.id;
  s.dataset.uuid = l.uuid;
  return s;
}

/** for a guest's page: its ladder under way or escalated, as a banner; undefined when none (or no policy) */
export async function ladderBanner(uuid: string): Promise<HTMLElement | undefined> {
  const answer = await api<LaddersAnswer>(`/api/ladders?uuid=${encodeURIComponent(uuid)}`).catch(() => undefined);
  const l = answer?.policy ? answer.ladders.find((x) => x.status !== "ended") : undefined;
  if (!l) return undefined;
  const next = nextStep(l);
  return el("p", { id: "guest-ladder", className: "confirm" },
    el("strong", { textContent: `Escalation ladder ${l.status === "escalated" ? "escalated" : "under way"}: ${levelName(l)}` }),
    ` · at ${currentStep(l)}${next ? ` · next: ${next}` : ""}${isDryRun(l, answer!.mode) ? " · dry run" : ""} · `,
    el("a", { href: "#/ladders", textContent: "see the ladders" }));
}

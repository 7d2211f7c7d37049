// The console's entry: sign-in, navigation by the URL's hash (#/, #/host/<name>,
// #/host/<name>/guest/<uuid>, #/rings, #/ladders, #/queries, #/audit, #/users, #/host-keys, #/account), and a
// refresh every REFRESH_MS of the page shown, without reloading it.
import { api, postJson, setCsrfToken, whenSignedOut } from "./api.js";
import type { Me } from "./api.js";
import { renderAccount } from "./account.js";
import { renderAudit } from "./audit.js";
import { $, el } from "./dom.js";
import { GuestPage } from "./guest.js";
import { HostPage } from "./host.js";
import { renderLadders } from "./ladders.js";
import { renderOverview } from "./overview.js";
import { renderQueries } from "./queries.js";
import { renderRings } from "./rings.js";
import { UsersPage } from "./users.js";
import { HostKeysPage } from "./host-keys.js";

/** Every 10 s; a test may set `window.__ringwatchRefreshMs` before the page loads (to tell a zoom's own request from a refresh). */
const REFRESH_MS = (globalThis as { __ringwatchRefreshMs?: number }).__ringwatchRefreshMs ?? 10_000;
let me: Me | undefined;
let timer: ReturnType<typeof setInterval> | undefined;
/** the page shown when it refreshes itself (charts keep their zoom); other pages are rebuilt */
let hostPage: HostPage | GuestPage | undefined;
/** a page whose refresh re-reads its data and keeps its forms (users and tokens; the account page: nothing to re-read) */
let formPage: { refresh(): Promise<void> } | undefined;

function showSignIn(message: string): void {
  clearInterval(timer);
  me = undefined;
  setCsrfToken("");
  hostPage?.destroy();
  hostPage = undefined;
  formPage = undefined;
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("page").hidden = true;
  $("whoami").textContent = "";
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
}

function showConsole(who: Me): void {
  me = who;
  setCsrfToken(who.csrfToken ?? "");
  $("whoami").textContent = `${who.user} (${who.role})`;
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  $("page").hidden = false;
  for (const a of document.querySelectorAll<HTMLElement>("[data-role=admin]")) a.hidden = who.role !== "admin";
  void route();
  clearInterval(timer);
  timer = setInterval(() => void refresh(), REFRESH_MS);
}

/** which route() call is the latest: an earlier one still waiting on the API must not paint over it */
let routeSeq = 0;

async function route(): Promise<void> {
  if (!me) return;
  hostPage?.destroy();
  hostPage = undefined;
  formPage = undefined;
  const seq = ++routeSeq;
  // Each route renders into its own view, shown as soon as it is first painted (a host or guest
  // page paints before its charts load) and only if no later route started meanwhile: signing in
  // routes to the overview, and a hash change right after must not be painted over by it.
  const view = el("div", { className: "view" });
  const show = (): void => { if (seq === routeSeq && view.parentNode !== $("page")) $("page").replaceChildren(view); };
  const painted = new MutationObserver(show);
  painted.observe(view, { childList: true });
  const hash = location.hash.replace(/^#\/?/, "");
  try {
    $("error").textContent = "";
    const guest = hash.match(/^host\/([^/]+)\/guest\/([^/]+)$/);
    if (guest) {
      hostPage = new GuestPage(decodeURIComponent(guest[1]), decodeURIComponent(guest[2]), view, me.role);
      await hostPage.render();
    } else if (hash.startsWith("host/")) {
      hostPage = new HostPage(decodeURIComponent(hash.slice(5)), view, me.role);
      await hostPage.render();
    } else if (hash === "rings") {
      await renderRings(view);
    } else if (hash === "ladders") {
      await renderLadders(view);
    } else if (hash === "queries") {
      await renderQueries(view);
    } else if (hash === "audit" && me.role === "admin") {
      await renderAudit(view);
    } else if (hash === "users") {
      if (me.role !== "admin") {
        view.replaceChildren(el("h2", { textContent: "Users and tokens" }), el("p", { id: "admins-only", textContent: "admins only" }));
      } else {
        const page = new UsersPage(view, me);
        formPage = page;
        await page.render();
      }
    } else if (hash === "host-keys") {
      if (me.role !== "admin") {
        view.replaceChildren(el("h2", { textContent: "Host keys" }), el("p", { id: "admins-only", textContent: "admins only" }));
      } else {
        const page = new HostKeysPage(view);
        formPage = page;
        await page.render();
      }
    } else if (hash === "account") {
      renderAccount(view, me);
      formPage = { refresh: async () => { await api<Me>("/api/session"); } }; // only notices a session that ended
    } else {
      await renderOverview(view);
    }
  } catch (e) {
    if (seq === routeSeq) $("error").textContent = (e as Error).message; // a page that never painted leaves the last one shown
  } finally {
    painted.disconnect(); // drops records not yet delivered: a page painted without waiting shows here
    if (view.hasChildNodes()) show();
  }
}

async function refresh(): Promise<void> {
  try {
    if (hostPage) await hostPage.refresh();
    else if (formPage) await formPage.refresh();
    else if (location.hash.replace(/^#\/?/, "") !== "queries") await route(); // the queries page keeps its form and result
  } catch (e) {
    $("error").textContent = `refresh failed: ${(e as Error).message}`;
  }
}

async function signIn(event: Event): Promise<void> {
  event.preventDefault();
  const user = $<HTMLInputElement>("sign-in-user").value;
  const password = $<HTMLInputElement>("sign-in-password");
  try {
    const who = await postJson<Me>("/api/session", { user, password: password.value });
    password.value = "";
    showConsole(who);
  } catch (e) {
    $("sign-in-error").textContent = (e as Error).message;
  }
}

async function signOut(): Promise<void> {
  try {
    await api("/api/session", { method: "DELETE" });
  } finally {
    showSignIn("signed out");
  }
}

whenSignedOut(showSignIn);
$("sign-in").addEventListener("submit", (e) => void signIn(e));
$("sign-out").addEventListener("click", () => void signOut());
window.addEventListener("hashchange", () => void route());
api<Me>("/api/session").then(showConsole, () => showSignIn(""));

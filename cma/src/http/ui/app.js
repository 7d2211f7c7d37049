// ringwatch web UI: plain browser JavaScript, no build step. Everything shown is set as text
// (textContent), never parsed as HTML: host names and query results come from the network.
"use strict";

const $ = (id) => document.getElementById(id);
const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");

// the session cookie is HttpOnly (the page never sees it); writes carry the CSRF token from sign-in
let csrfToken = "";
let timer;

async function api(path, init = {}) {
  const method = (init.method || "GET").toUpperCase();
  const headers = { ...(init.headers || {}), ...(method !== "GET" && csrfToken ? { "x-csrf-token": csrfToken } : {}) };
  const res = await fetch(path, { ...init, headers, credentials: "same-origin" });
  const body = await res.json().catch(() => ({ error: "bad-response", message: `HTTP ${res.status}` }));
  if (res.status === 401 && path !== "/api/session") showSignIn("signed out: sign in again");
  if (!res.ok) throw new Error(`${body.error}: ${body.message}`);
  return body;
}

function showSignIn(message) {
  clearInterval(timer);
  csrfToken = "";
  $("console").hidden = true;
  $("sign-out").hidden = true;
  $("whoami").textContent = "";
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
}

function showConsole(me) {
  csrfToken = me.csrfToken || "";
  $("whoami").textContent = `${me.user} (${me.role})`;
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("console").hidden = false;
  void loadQueries();
  void refresh();
  clearInterval(timer);
  timer = setInterval(refresh, 5000);
}

async function signIn(event) {
  event.preventDefault();
  try {
    const me = await api("/api/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: $("sign-in-user").value, password: $("sign-in-password").value }) });
    $("sign-in-password").value = "";
    showConsole(me);
  } catch (e) {
    $("sign-in-error").textContent = e.message;
  }
}

async function signOut() {
  try {
    await api("/api/session", { method: "DELETE" });
  } finally {
    showSignIn("signed out");
  }
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

function fillRows(table, rows) {
  const tbody = table.tBodies[0];
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    for (const c of cells) Array.isArray(c) ? cell(tr, c[0], c[1]) : cell(tr, c);
    return tr;
  }));
}

async function refresh() {
  try {
    const state = $("state-filter").value;
    const [hosts, rings, alerts] = await Promise.all([api(`/api/hosts${state ? `?state=${state}` : ""}`), api("/api/rings"), api("/api/alerts")]);
    $("summary").textContent = Object.entries(hosts.counts).map(([s, n]) => `${n} ${s}`).join(" · ");
    fillRows($("hosts"), hosts.hosts.map((h) => [h.name, [h.state, `state-${h.state}`], when(h.since), `${h.address}:${h.port}`, h.segment, h.version]));
    $("rings").replaceChildren(...rings.segments.map((r) => {
      const d = document.createElement("div");
      d.className = "ring";
      d.textContent = `${r.segment}: ${r.members.join(" → ")} (representative ${r.representative})`;
      return d;
    }), Object.assign(document.createElement("div"), { className: "ring", textContent: `representatives: ${rings.representativeRing.join(" → ") || "none"}` }));
    fillRows($("alerts"), alerts.alerts.map((a) => [a.host, a.kind, a.subjectName || a.subject, when(a.at)]));
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = `refresh failed: ${e.message}`;
  }
}

let queries = {};

async function loadQueries() {
  if (Object.keys(queries).length) return;
  try {
    const { queries: list } = await api("/api/queries");
    queries = Object.fromEntries(list.map((q) => [q.name, q]));
    $("named").append(...list.map((q) => Object.assign(document.createElement("option"), { value: q.name, textContent: q.name })));
  } catch (e) {
    $("named-doc").textContent = `named queries unavailable: ${e.message}`;
  }
}

function pickNamed() {
  const q = queries[$("named").value];
  $("named-doc").textContent = q ? q.description : "";
  $("cypher").value = q ? q.cypher : "";
  $("named-params").replaceChildren(...Object.entries(q ? q.params : {}).map(([name, p]) => {
    const label = document.createElement("label");
    label.title = p.doc;
    const input = Object.assign(document.createElement("input"), { name, placeholder: `${p.type}${p.default !== undefined ? ` (default ${p.default})` : ""}` });
    input.dataset.type = p.type;
    label.append(`${name} `, input);
    return label;
  }));
}

function showResult(r) {
  const table = $("result");
  const tr = document.createElement("tr");
  for (const c of r.columns) tr.appendChild(Object.assign(document.createElement("th"), { textContent: c }));
  table.tHead.replaceChildren(tr);
  fillRows(table, r.rows.map((row) => r.columns.map((c) => (typeof row[c] === "string" ? row[c] : JSON.stringify(row[c])))));
  $("query-info").textContent = `${r.rows.length} row(s)${r.truncated ? ` (cut at ${r.limits.maxRows})` : ""} in ${Math.round(r.elapsedMs)} ms`;
}

async function run() {
  const q = queries[$("named").value];
  $("query-info").textContent = "running…";
  try {
    let r;
    if (q && $("cypher").value === q.cypher) {
      const params = new URLSearchParams();
      for (const input of $("named-params").querySelectorAll("input")) if (input.value !== "") params.set(input.name, input.value);
      r = await api(`/api/queries/${encodeURIComponent(q.name)}?${params}`);
    } else {
      r = await api("/api/cypher", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: $("cypher").value }) });
    }
    showResult(r);
  } catch (e) {
    $("result").tHead.replaceChildren();
    $("result").tBodies[0].replaceChildren();
    $("query-info").textContent = e.message;
    $("query-info").className = "query-error";
    return;
  }
  $("query-info").className = "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("state-filter").addEventListener("change", refresh);
  $("named").addEventListener("change", pickNamed);
  $("run").addEventListener("click", run);
  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  api("/api/session").then(showConsole, () => showSignIn(""));
});

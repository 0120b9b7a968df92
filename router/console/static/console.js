// The Stellwerk operator console: fills the page from the router's JSON APIs every few seconds.
// Changes go through the admin API with the session cookie and the console header (see session.py).
"use strict";

const HEADERS = { "x-stellwerk-console": "1" };
const COLOURS = ["#2e86de", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d35400"];
let breakers = {};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

async function api(path, options = {}) {
  const reply = await fetch(path, { credentials: "same-origin", ...options,
                                    headers: { ...HEADERS, ...(options.headers || {}) } });
  if (reply.status === 401) { window.location = "/console/login"; throw new Error("logged out"); }
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error ? body.error.message : reply.statusText);
  return body;
}

function fill(selector, rows) {
  const body = document.querySelector(selector + " tbody");
  body.replaceChildren(...rows);
}

const pct = (x) => (x === null || x === undefined ? "?" : Math.round(100 * x) + "%");
const time = (t) => new Date(t * 1000).toLocaleTimeString();
const money = (x) => (x === undefined || x === null ? "–" : "$" + x.toFixed(x < 1 ? 6 : 2));

async function refreshFleet() {
  const [status, decisions] = await Promise.all([api("/status"), api("/console/api/decisions")]);
  breakers = decisions.breakers;
  const routing = status.routing || { models: {}, spilling: [] };
  const spilling = new Set(routing.spilling.map((s) => s.model));
  document.getElementById("router-state").textContent =
    (status.ready ? "router ready" : "router NOT ready") + " · routing configuration version " +
    routing.config_version + " · default objective " + routing.default_objective;
  fill("#models", Object.keys(status.models).sort().map((id) => {
    const health = status.models[id], engine = status.engines[id] || {}, r = routing.models[id] || {};
    const notes = [];
    if (breakers[id]) notes.push(el("span", { class: "bad" }, "breaker open: " + breakers[id]));
    else if (r.unhealthy) notes.push(el("span", { class: "bad" }, "skipped: " + r.unhealthy));
    if (spilling.has(id)) notes.push(el("span", { class: "warn" }, " spilling over"));
    if (!notes.length) notes.push(el("span", { class: "ok" }, id in routing.models ? "routable" : "–"));
    const queue = engine.error ? "unknown (" + engine.error + ")" :
      engine.running === undefined ? "–" : engine.running + " running, " + engine.waiting + " waiting";
    return el("tr", { "data-model": id }, el("td", {}, id),
      el("td", { class: health === "ok" ? "ok" : "bad" }, health), el("td", {}, queue),
      el("td", {}, engine.running === undefined ? "–" : pct(engine.kv_cache_usage)),
      el("td", {}, engine.replicas ?? "–"), el("td", {}, ...notes));
  }));
  fill("#gpus", (status.gpus || []).map((g) => el("tr", {}, el("td", {}, g.index), el("td", {}, g.name),
    el("td", {}, Math.round(g.utilization_pct) + "%"),
    el("td", {}, (g.memory_used_bytes / 2 ** 30).toFixed(1) + " / " + (g.memory_total_bytes / 2 ** 30).toFixed(1) + " GiB"),
    el("td", {}, g.power_watts === null ? "?" : Math.round(g.power_watts) + " W"),
    el("td", {}, g.temperature_c === null ? "?" : g.temperature_c + " °C"))));
  if (!(status.gpus || []).length) fill("#gpus", [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "no GPUs (NVML not available)"))]);
  fill("#decisions", decisions.data.map((d) => el("tr", {}, el("td", {}, time(d.ts)),
    el("td", {}, d.model), el("td", {}, d.reason), el("td", {}, d.objective),
    el("td", {}, d.features ? d.features.category : ""), el("td", {}, d.explanation),
    el("td", { class: "mono" }, d.trace_id ? d.trace_id.slice(0, 12) + "…" : "–"))));
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

function spendChart(spend) {
  const starts = [...new Set(spend.buckets.map((b) => b.start))].sort((a, b) => a - b);
  const models = [...new Set(spend.buckets.map((b) => b.model))].sort();
  const box = document.getElementById("spend-chart");
  if (!starts.length) { box.replaceChildren(el("p", { class: "muted" }, "no requests in this window")); return; }
  const totals = starts.map((s) => spend.buckets.filter((b) => b.start === s).reduce((t, b) => t + b.cost, 0));
  const top = Math.max(...totals, 1e-9), w = 600, h = 140, bar = Math.max(2, w / starts.length - 2);
  const ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h + 14}`);
  starts.forEach((s, i) => {
    let y = h;
    models.forEach((m, j) => {
      const cost = spend.buckets.filter((b) => b.start === s && b.model === m).reduce((t, b) => t + b.cost, 0);
      if (!cost) return;
      const rect = document.createElementNS(ns, "rect"), height = (h * cost) / top;
      y -= height;
      Object.entries({ x: i * (w / starts.length), y, width: bar, height, fill: COLOURS[j % COLOURS.length] })
        .forEach(([k, v]) => rect.setAttribute(k, v));
      const title = document.createElementNS(ns, "title");
      title.textContent = `${time(s)} ${m}: ${money(cost)}`;
      rect.append(title); svg.append(rect);
    });
  });
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 0); label.setAttribute("y", h + 12); label.setAttribute("font-size", 10);
  label.textContent = `peak ${money(top)} per ${spend.bucket_s >= 86400 ? "day" : spend.bucket_s >= 3600 ? "hour" : "minute"}`;
  svg.append(label);
  const legend = el("div", { class: "legend" }, ...models.map((m, j) =>
    el("span", {}, el("i", { style: "background:" + COLOURS[j % COLOURS.length] }), m)));
  box.replaceChildren(svg, legend);
}

async function refreshSpend() {
  const spend = await api("/console/api/spend?window=" + document.getElementById("window").value);
  spendChart(spend);
  fill("#spend-tenants", Object.entries(spend.tenants).sort().map(([tenant, t]) => el("tr", { "data-tenant": tenant },
    el("td", {}, tenant), el("td", {}, t.requests), el("td", {}, t.prompt_tokens + " / " + t.completion_tokens),
    el("td", {}, money(t.cost)), el("td", {}, money(t.baseline_cost) + (spend.baseline ? " (" + spend.baseline + ")" : "")),
    el("td", { class: "ok" }, t.savings_pct === null || t.savings_pct === undefined ? "–" : money(t.savings) + " (" + t.savings_pct + "%)"))));
}

async function refreshAdmin() {
  const [bans, keys, audit] = await Promise.all([api("/admin/bans"), api("/admin/keys"), api("/admin/audit?limit=12")]);
  fill("#bans", bans.data.map((b) => el("tr", { "data-ban": b.kind + ":" + b.target },
    el("td", {}, b.kind + ":" + b.target), el("td", {}, b.reason), el("td", {}, b.actor),
    el("td", {}, new Date(b.created_at).toLocaleString()),
    el("td", {}, el("button", { class: "lift", onclick: () => lift(b) }, "Lift")))));
  fill("#keys", keys.data.map((k) => el("tr", { "data-key": k.id }, el("td", { class: "mono" }, k.id),
    el("td", {}, k.tenant), el("td", {}, k.name), el("td", {}, new Date(k.created_at).toLocaleString()),
    el("td", {}, k.revoked_at ? new Date(k.revoked_at).toLocaleString() : ""),
    el("td", {}, k.revoked_at ? "" : el("button", { class: "revoke", onclick: () => revoke(k) }, "Revoke")))));
  fill("#audit", audit.data.map((a) => el("tr", {}, el("td", {}, new Date(a.ts).toLocaleString()),
    el("td", {}, a.actor), el("td", {}, a.action), el("td", { class: "mono" }, JSON.stringify(a.details)))));
}

async function lift(ban) {
  await guarded(() => api(`/admin/bans/${encodeURIComponent(ban.kind)}/${ban.target}`, { method: "DELETE" }),
                "lifted " + ban.kind + ":" + ban.target);
}

async function revoke(key) {
  await guarded(() => api("/admin/keys/" + encodeURIComponent(key.id), { method: "DELETE" }), "revoked " + key.id);
}

async function guarded(action, done) {
  const message = document.getElementById("ban-message");
  try { await action(); message.textContent = done; message.className = "muted"; }
  catch (e) { message.textContent = e.message; message.className = "error"; }
  await Promise.all([refreshAdmin(), refreshFleet()]);
}

document.getElementById("ban-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const target = document.getElementById("ban-target").value.trim();
  const reason = document.getElementById("ban-reason").value;
  await guarded(() => api("/admin/bans", { method: "POST", headers: { "content-type": "application/json" },
                                           body: JSON.stringify({ target, reason }) }), "banned " + target);
});

document.getElementById("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const out = document.getElementById("key-secret");
  try {
    const key = await api("/admin/keys", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenant: document.getElementById("key-tenant").value.trim(),
                             name: document.getElementById("key-name").value.trim() }) });
    out.textContent = "New key for " + key.tenant + " (shown once): " + key.secret;
  } catch (e) { out.textContent = e.message; }
  await refreshAdmin();
});

document.getElementById("window").addEventListener("change", refreshSpend);

function every(ms, task) {
  const run = () => task().catch((e) => { document.getElementById("updated").textContent = "error: " + e.message; });
  run(); setInterval(run, ms);
}
every(2000, refreshFleet);
every(3000, refreshAdmin);
every(5000, refreshSpend);

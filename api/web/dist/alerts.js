// Monitoring pages: alerts (paged, status filter, acknowledge/resolve), the
// watchlist (add, remove), the "watch" buttons of address and cluster
// pages, and the open-alerts badge in the navigation.
import { api, esc, enc, h, btc, link, risk, loading, errorBox, pager } from "./util.js";

const STATUSES = ["open", "acknowledged", "resolved", "retracted"];

function when(iso) {
  if (!iso) return "–";
  return esc(String(iso).replace("T", " ").slice(0, 19) + " UTC");
}

function entityCell(a) {
  const parts = [];
  if (a.address) parts.push(link.address(a.address));
  if (a.cluster_id != null) parts.push(link.cluster(a.cluster_id, "cluster " + a.cluster_id));
  if (!parts.length && a.watch) parts.push(esc(a.watch));
  if (a.watch && (a.address || a.cluster_id != null)) parts.push(`<div class="muted small">watch: ${esc(a.watch)}</div>`);
  if (a.watch_note) parts.push(`<div class="small">note: ${esc(a.watch_note)}</div>`);
  return parts.join(" ");
}

function statusCell(a) {
  let s = `<span class="status status-${esc(a.status)}">${esc(a.status)}</span>`;
  // A reorg's retraction has its fork height; an unconfirmed alert's, none
  // (its transaction left the node's mempool without confirming).
  if (a.status === "retracted" && a.fork_height != null) s += ` <span class="retracted" title="the block was disconnected by a reorg">retracted at fork height ${esc(a.fork_height)}</span>`;
  else if (a.status === "retracted") s += ` <span class="retracted" title="replaced or evicted before it confirmed">dropped from the mempool</span>`;
  if (a.note) s += `<div class="muted small">${esc(a.note)}</div>`;
  return s;
}

function alertRow(a) {
  const acts = [];
  if (a.status === "open") acts.push(`<button type="button" class="small" data-act="ack" data-id="${esc(a.id)}">Acknowledge</button>`);
  if (a.status === "open" || a.status === "acknowledged") acts.push(`<button type="button" class="small" data-act="resolve" data-id="${esc(a.id)}">Resolve</button>`);
  return `<tr class="alert alert-${esc(a.status)}" data-alert="${esc(a.id)}">
    <td><span class="pill kind-${esc(a.kind)}">${esc(a.kind)}</span><div class="small">${esc(a.summary || "")}</div></td>
    <td>${entityCell(a)}</td>
    <td>${a.txid ? link.tx(a.txid) : `<span class="muted">–</span>`}</td>
    <td>${a.height >= 0 ? link.block(a.height) : `<span class="muted">${a.kind.startsWith("unconfirmed") ? "mempool" : "–"}</span>`}</td>
    <td class="num">${a.value_sat ? btc(a.value_sat) : `<span class="muted">–</span>`}</td>
    <td class="small">${when(a.created)}</td>
    <td>${statusCell(a)}</td>
    <td class="acts">${acts.join(" ")}</td></tr>`;
}

export async function alertsPage(el, params, signal) {
  document.title = "Alerts";
  const status = STATUSES.includes(params.get("status")) ? params.get("status") : "";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Monitoring</div><h1>Alerts</h1></div>
      <div class="actions"><a class="btn" href="/watchlist" data-link>Watchlist</a></div></div>
    <nav class="filters" id="alertfilter" aria-label="Alerts by status">${["", ...STATUSES].map((s) =>
      `<a href="/alerts${s ? "?status=" + s : ""}" data-link class="${s === status ? "on" : ""}"${s === status ? ` aria-current="page"` : ""}>${s || "all"}</a>`).join("")}</nav>
    <section class="panel" id="alerts"></section>`;
  const box = el.querySelector("#alerts");
  box.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    b.disabled = true;
    const row = b.closest("tr");
    try {
      const a = await api(`alerts/${enc(b.dataset.id)}/${b.dataset.act}`, { method: "POST", body: {} });
      row.replaceWith(h(`<table><tbody>${alertRow(a)}</tbody></table>`).querySelector("tr"));
      refreshBadge();
    } catch (e) {
      b.disabled = false;
      row.insertAdjacentHTML("afterend", `<tr><td colspan="8">${errorBox(e)}</td></tr>`);
    }
  });
  await pager(box, {
    head: `<tr><th>Kind</th><th>Entity</th><th>Transaction</th><th>Block</th>
      <th class="num">Value</th><th>Created</th><th>Status</th><th><span class="sr-only">Actions</span></th></tr>`,
    fetch: (cursor) => api(`alerts?limit=50${status ? "&status=" + status : ""}${cursor ? "&cursor=" + enc(cursor) : ""}`, { signal }),
    row: alertRow,
    empty: `No ${status ? status + " " : ""}alert.`,
  });
}

export async function watchlistPage(el, params, signal) {
  document.title = "Watchlist";
  const kind = ["address", "cluster", "label", "category"].includes(params.get("kind")) ? params.get("kind") : "address";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Monitoring</div><h1>Watchlist</h1></div>
      <div class="actions"><a class="btn" href="/alerts" data-link>Alerts</a></div></div>
    <p class="lead">Alerts are raised when a watched address, cluster, label or category receives or spends in a followed
      block, and when a tag import makes a watched address or cluster risky.</p>
    <form id="watchform" class="inline panel">
      <select name="kind" aria-label="kind of watched item">${["address", "cluster", "label", "category"].map((k) => `<option${k === kind ? " selected" : ""}>${k}</option>`).join("")}</select>
      <input name="value" aria-label="address, cluster id, label or category to watch" placeholder="address, cluster id, label or category" size="44" spellcheck="false" required value="${esc(params.get("value") || "")}">
      <input name="note" placeholder="note (case, reason…)" size="30" aria-label="note">
      <button class="primary">Watch</button>
    </form>
    <div id="watchmsg"></div>
    <section class="panel"><table class="list" id="watches"><thead><tr><th>Kind</th><th>Watched</th><th>Note</th><th title="the risky tag categories of the address's cluster when it was last screened">Risky tags at last screening</th><th title="the screening's risk level now (exposure included)">Screening now</th><th>Added</th><th><span class="sr-only">Actions</span></th></tr></thead>
      <tbody></tbody></table><div class="more"></div></section>`;
  const body = el.querySelector("#watches tbody");
  const more = el.querySelector(".more");
  const msg = el.querySelector("#watchmsg");
  const value = (w) => {
    if (w.kind === "address") return link.address(w.value);
    if (w.kind === "cluster") return link.cluster(w.value);
    return esc(w.value);
  };
  const row = (w) => `<tr data-watch="${esc(w.id)}"><td>${esc(w.kind)}</td><td>${value(w)}</td><td>${esc(w.note || "")}</td>
    <td>${(w.risk || []).map((r) => `<span class="tag cat-bad">${esc(r)}</span>`).join(" ") || `<span class="muted">${w.kind === "address" || w.kind === "cluster" ? "none" : "–"}</span>`}</td>
    <td class="screen">${w.kind === "address" ? `<span class="muted" data-screen="${esc(w.value)}">…</span>` : `<span class="muted">–</span>`}</td>
    <td class="small">${when(w.created)}</td><td><button type="button" class="small" data-remove="${esc(w.id)}">Remove</button></td></tr>`;
  async function load() {
    body.innerHTML = "";
    more.innerHTML = loading();
    let cursor = "";
    let n = 0;
    try {
      do {
        const r = await api(`watchlist?limit=500${cursor ? "&cursor=" + enc(cursor) : ""}`, { signal });
        for (const w of r.items || []) body.insertAdjacentHTML("beforeend", row(w));
        n += (r.items || []).length;
        cursor = r.next_cursor;
      } while (cursor);
      more.innerHTML = n ? "" : `<p class="muted">Nothing is watched yet.</p>`;
    } catch (e) {
      if (e.name !== "AbortError") more.innerHTML = errorBox(e);
    }
    await screenRows();
  }
  // screenRows fills the "Screening now" cells of the address entries with
  // their risk level (one bulk request; the entry itself records only
  // the risky tag categories, not the exposure the level also weighs).
  async function screenRows() {
    const cells = [...body.querySelectorAll("[data-screen]")];
    const addrs = [...new Set(cells.map((c) => c.dataset.screen))].slice(0, 10_000);
    if (!addrs.length) return;
    try {
      const res = await api("screen", { method: "POST", body: { addresses: addrs }, signal });
      const level = new Map(res.map((r, i) => [addrs[i], r]));
      for (const c of cells) {
        const r = level.get(c.dataset.screen);
        if (r) c.outerHTML = `${risk(r.risk)}${r.sanctioned ? ` <span class="risk risk-severe">sanctioned</span>` : ""}`;
      }
    } catch (e) {
      if (e.name === "AbortError") return;
      for (const c of cells) {
        c.textContent = "not screened";
        c.title = e.message;
      }
    }
  }
  const form = el.querySelector("#watchform");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.innerHTML = "";
    try {
      const w = await api("watchlist", { method: "POST", body: { kind: form.kind.value, value: form.value.value.trim(), note: form.note.value.trim() } });
      msg.innerHTML = `<p class="note">Watching ${esc(w.kind)} ${esc(w.value)}.</p>`;
      form.value.value = "";
      form.note.value = "";
      await load();
    } catch (e) {
      msg.innerHTML = errorBox(e);
    }
  });
  body.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-remove]");
    if (!b) return;
    b.disabled = true;
    try {
      await api("watchlist/" + enc(b.dataset.remove), { method: "DELETE" });
      b.closest("tr").remove();
      if (!body.children.length) more.innerHTML = `<p class="muted">Nothing is watched yet.</p>`;
    } catch (e) {
      b.disabled = false;
      msg.innerHTML = errorBox(e);
    }
  });
  await load();
}

// watchButton is the "watch" button of an address or cluster page.
export function watchButton(kind, value) {
  return `<button type="button" class="btn watchbtn" data-watch-kind="${esc(kind)}" data-watch-value="${esc(value)}">Watch</button>`;
}

document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-watch-kind]");
  if (!b) return;
  b.disabled = true;
  try {
    const w = await api("watchlist", { method: "POST", body: { kind: b.dataset.watchKind, value: b.dataset.watchValue } });
    b.textContent = "Watching ✓";
    b.title = "watchlist entry " + w.id;
    b.classList.add("on");
  } catch (e) {
    b.disabled = false;
    b.textContent = "Watch (failed)";
    b.title = e.message;
  }
});

// The nav badge: open alerts, refreshed every 10 s. A key that may not
// read alerts (401, 403) or a server without monitoring (503) stops the
// polling until the key changes (refreshBadge from the key dialog starts
// it again), instead of a failed request every 10 s.
let badgeTimer = null;
export async function refreshBadge() {
  const badge = document.getElementById("alertbadge");
  if (!badge) return;
  try {
    const r = await api("alerts?status=open&limit=1000");
    const n = (r.items || []).length;
    badge.textContent = r.next_cursor ? n + "+" : String(n);
    badge.hidden = n === 0;
    badge.title = `${badge.textContent} open alert${n === 1 ? "" : "s"}`;
    if (!badgeTimer) badgeTimer = setInterval(refreshBadge, 10_000);
  } catch (e) {
    badge.hidden = true; // no key yet, or no monitoring on this server
    if ([401, 403, 503].includes(e.status)) stopAlertBadge();
  }
}

// badgePolling reports whether the badge is refreshed periodically.
export function badgePolling() {
  return badgeTimer !== null;
}

function stopAlertBadge() {
  if (badgeTimer) clearInterval(badgeTimer);
  badgeTimer = null;
}

export function startAlertBadge() {
  if (badgeTimer) return;
  refreshBadge();
}

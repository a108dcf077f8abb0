// ransomtrail web UI: a single-page app over the JSON API (/api/v2).
import { api, apiKey, setApiKey, onAuthError, esc, enc, h, btc, usd, short, timeText, link, label, labels, category, risk, loading, errorBox, pager, sourceLink } from "./util.js";
import { graphPage } from "./graph.js";
import { alertsPage, watchlistPage, watchButton, startAlertBadge, refreshBadge } from "./alerts.js";
import { reportFormPage, reportsPage, reportPage, casesPage, casePage, statsPage } from "./reports.js";
import { ransomwareListPage, ransomwareFamilyPage } from "./ransomware.js";
import { sourcesPage, tagsPage, auditPage } from "./sources.js";

const main = document.getElementById("main");
let current = null; // AbortController of the page being shown

// ---- routing ---------------------------------------------------------

const routes = [
  [/^\/$/, homePage],
  [/^\/search$/, searchPage],
  [/^\/address\/([^/]+)$/, addressPage],
  [/^\/tx\/([0-9a-fA-F]{64})$/, txPage],
  [/^\/block\/([^/]+)$/, blockPage],
  [/^\/cluster\/([^/]+)$/, clusterPage],
  [/^\/screen$/, screenPage],
  [/^\/graph$/, graphPage],
  [/^\/alerts$/, alertsPage],
  [/^\/watchlist$/, watchlistPage],
  [/^\/reports\/new$/, reportFormPage],
  [/^\/reports$/, reportsPage],
  [/^\/reports\/([^/]+)$/, reportPage],
  [/^\/cases$/, casesPage],
  [/^\/cases\/([^/]+)$/, casePage],
  [/^\/stats$/, statsPage],
  [/^\/ransomware$/, ransomwareListPage],
  [/^\/ransomware\/([^/]+)$/, ransomwareFamilyPage],
  [/^\/sources$/, sourcesPage],
  [/^\/tags$/, tagsPage],
  [/^\/audit$/, auditPage],
];

export function navigate(url, replace = false) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  // A new page: keyboard and screen-reader users go on from its start,
  // not from the link they followed (it may be gone).
  if (!replace) main.focus({ preventScroll: true });
  render();
}

// markNav tells which section of the main navigation the page is in, in
// words (aria-current) as well as in looks.
function markNav(pathname) {
  for (const a of document.querySelectorAll(".nav a[href]")) {
    const href = a.getAttribute("href");
    const on = href === "/" ? pathname === "/" : pathname === href || pathname.startsWith(href + "/");
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function render() {
  if (current) current.abort();
  current = new AbortController();
  const { pathname, search } = location;
  const params = new URLSearchParams(search);
  markNav(pathname);
  for (const [re, page] of routes) {
    const m = pathname.match(re);
    if (m) {
      const args = m.slice(1).map(decodeURIComponent);
      document.body.dataset.page = page.name;
      main.innerHTML = "";
      try {
        await page(main, params, current.signal, ...args);
      } catch (e) {
        if (e.name !== "AbortError") main.innerHTML = errorBox(e);
      }
      return;
    }
  }
  main.innerHTML = `<h1>Not found</h1><p>No page at <code>${esc(pathname)}</code>. <a href="/" data-link>Home</a></p>`;
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[data-link]");
  if (!a || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", render);
// "Skip to content" focuses the page's main region (a #main fragment would
// go through the router).
document.querySelector("a.skip").addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});

// ---- search and keyboard -------------------------------------------

const q = document.getElementById("q");
document.getElementById("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = q.value.trim();
  if (v) navigate("/search?q=" + enc(v));
});
// The "/" shortcut is a single character key: a user of speech input or
// of a keyboard that types it by mistake can turn it off (WCAG 2.1.4),
// with the box in the footer; the choice is kept in localStorage.
const slash = document.getElementById("slashkey");
slash.checked = localStorage.getItem("rt.slashkey") !== "off";
slash.addEventListener("change", () => localStorage.setItem("rt.slashkey", slash.checked ? "on" : "off"));
document.addEventListener("keydown", (ev) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName) || document.activeElement?.isContentEditable;
  if (ev.key === "/" && !typing && slash.checked) {
    ev.preventDefault();
    q.focus();
    q.select();
  } else if (ev.key === "Escape" && document.activeElement === q) {
    q.blur();
  }
});

// ---- API key -----------------------------------------------------------

const dlg = document.getElementById("keydlg");
const keyInput = document.getElementById("keyinput");
const keyBtn = document.getElementById("keybtn");
function showKeyState() {
  keyBtn.textContent = apiKey() ? "Key ✓" : "Key";
  keyBtn.classList.toggle("has-key", !!apiKey());
}
keyBtn.addEventListener("click", () => {
  keyInput.value = apiKey();
  dlg.showModal();
});
dlg.addEventListener("close", () => {
  if (dlg.returnValue === "save") setApiKey(keyInput.value.trim());
  if (dlg.returnValue === "clear") setApiKey("");
  showKeyState();
  if (dlg.returnValue === "save" || dlg.returnValue === "clear") {
    banner.hidden = true;
    refreshBadge();
    render();
  }
});
const banner = document.getElementById("banner");
onAuthError(() => {
  banner.innerHTML = `This server needs an API key. <button type="button" class="primary">Enter key</button>`;
  banner.hidden = false;
  banner.querySelector("button").onclick = () => keyBtn.click();
});
showKeyState();
startAlertBadge();

// ---- pages -----------------------------------------------------------

async function homePage(el, params, signal) {
  document.title = "ransomtrail";
  el.innerHTML = `<h1>Follow the money</h1>
    <p class="lead">Search an address, a transaction, a block, a cluster or a label above (press <kbd>/</kbd>),
    or start from one of these.</p>
    <div class="cards">
      <a class="card" href="/graph" data-link><h2>Investigation graph</h2><p>Expand neighbours, run taint traces, annotate, export.</p></a>
      <a class="card" href="/ransomware" data-link><h2>Ransomware</h2><p>What each family received, in BTC and USD, and where the money went.</p></a>
      <a class="card" href="/screen" data-link><h2>Screening</h2><p>Paste addresses, get risk levels with reasons.</p></a>
      <a class="card" href="/reports" data-link><h2>Reports</h2><p>Ransom-payment reports, verified on chain, shared as STIX or MISP.</p></a>
      <a class="card" href="/watchlist" data-link><h2>Watchlist</h2><p>Watch addresses and clusters; alerts when they move.</p></a>
    </div>
    <h2>Index status</h2><div id="status">${loading()}</div>`;
  const box = el.querySelector("#status");
  try {
    const s = await api("status", { signal });
    box.innerHTML = `<dl class="facts">
      <dt>Network</dt><dd>${esc(s.network)}</dd>
      <dt>Height</dt><dd>${link.block(s.height)}</dd>
      <dt>Tip</dt><dd class="mono">${esc(short(s.tip_hash, 16, 8))}</dd>
      <dt>Transactions</dt><dd>${(s.txs ?? 0).toLocaleString("en-US")}</dd>
      <dt>Addresses</dt><dd>${(s.addresses ?? 0).toLocaleString("en-US")}</dd>
      <dt>Clustering</dt><dd>${s.clustering ? esc(s.clustering.policy + " at height " + s.clustering.height) : "not built"}</dd>
    </dl>`;
  } catch (e) {
    if (e.name !== "AbortError") box.innerHTML = errorBox(e);
  }
}

async function searchPage(el, params, signal) {
  const text = params.get("q") || "";
  q.value = text;
  document.title = "Search: " + text;
  el.innerHTML = loading("Searching");
  const r = await api("search?q=" + enc(text), { signal });
  const url = (m) => {
    switch (m.kind) {
      case "address": return "/address/" + enc(m.id) + (m.label === NOT_ON_CHAIN ? "?seen=no" : "");
      case "tx": return "/tx/" + enc(m.id);
      case "block": return "/block/" + enc(m.id);
      case "cluster": return "/cluster/" + enc(m.id);
      case "label": return "/cluster/" + enc(String(m.id).replace(/^c/, ""));
    }
    return "/";
  };
  const matches = r.matches || [];
  if (r.kind !== "label" && matches.length <= 1) {
    navigate(url(matches[0] || r), true);
    return;
  }
  el.innerHTML = `<h1>Search results for “${esc(text)}”</h1>
    <p class="muted">${matches.length} match${matches.length === 1 ? "" : "es"}.</p>
    <table class="list"><thead><tr><th>Kind</th><th>Match</th><th>Label</th></tr></thead><tbody>
    ${matches.map((m) => `<tr><td>${esc(m.kind === "label" ? "cluster" : m.kind)}</td>
      <td><a href="${url(m)}" data-link>${esc(m.kind === "label" ? "cluster " + String(m.id).replace(/^c/, "") : m.id)}</a></td>
      <td>${m.label ? esc(m.label) : ""}</td></tr>`).join("")}
    </tbody></table>`;
}

function riskPanel(r) {
  if (!r) return `<p class="muted">Screening is not available on this server.</p>`;
  const ids = r.identifications || [];
  const cps = (r.exposure && r.exposure.counterparties) || [];
  return `<div class="riskhead">${risk(r.risk)} ${r.sanctioned ? `<span class="risk risk-severe">sanctioned</span>` : ""}</div>
    ${r.reasons && r.reasons.length ? `<ul class="reasons">${r.reasons.map((x) => `<li>${esc(x)}</li>`).join("")}</ul>` : `<p class="muted">No rule matched.</p>`}
    ${ids.length ? `<h3 class="sub">Identifications</h3><ul class="plain">${ids.map((i) => `<li>${label(i.name, i.category, i.source)} <span class="muted">${esc(i.source)}, ${esc(i.scope)}</span>${i.description ? ` — ${esc(i.description)}` : ""}</li>`).join("")}</ul>` : ""}
    ${cps.length ? `<h3 class="sub">Largest counterparties (within ${r.exposure.hops} hops)</h3>
      <table class="list compact"><thead><tr><th>Direction</th><th>Counterparty</th><th>Hops</th><th class="num">Amount</th><th class="num">Share</th></tr></thead><tbody>
      ${cps.map((c) => `<tr><td>${esc(c.direction)}</td><td>${label(c.label || "cluster " + c.cluster_id, c.category)} ${link.cluster(c.cluster_id, "#" + c.cluster_id)}</td>
        <td>${c.hops}</td><td class="num">${btc(c.sat)}</td><td class="num">${(100 * c.share).toFixed(1)}%</td></tr>`).join("")}
      </tbody></table>` : ""}
    ${(r.notes || []).map((n) => `<p class="note">${esc(n)}</p>`).join("")}`;
}

// NOT_ON_CHAIN is the label search gives an address the index never saw.
const NOT_ON_CHAIN = "not seen on chain by this index";

async function addressPage(el, params, signal, addr) {
  document.title = "Address " + addr;
  // The search said so: no chain data to ask for.
  if (params.get("seen") === "no") return offChainAddressPage(el, signal, addr);
  el.innerHTML = loading("Loading address");
  let a;
  try {
    a = await api("addresses/" + enc(addr), { signal });
  } catch (e) {
    // Never on chain (an OFAC designation of an unused address, another
    // chain's): its tags and screening still answer.
    if (e.code !== "not_found") throw e;
    return offChainAddressPage(el, signal, addr);
  }
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Address</div><h1 class="mono">${esc(a.address)}</h1>
      <div>${labels(a.labels)}</div></div>
      <div class="actions">${watchButton("address", a.address)} ${link.graph("a:" + a.address)}</div></div>
    <div class="grid2">
      <section class="panel"><h2>Summary</h2><dl class="facts">
        <dt>Balance</dt><dd>${btc(a.balance_sat, "big")}</dd>
        <dt>Received</dt><dd>${btc(a.received_sat)}</dd>
        <dt>Sent</dt><dd>${btc(a.sent_sat)}</dd>
        <dt>Transactions</dt><dd>${a.tx_count ?? "–"}</dd>
        <dt>Outputs</dt><dd>${a.outputs ?? "–"} (${a.unspent_outputs ?? 0} unspent)</dd>
        <dt>Script</dt><dd>${esc(a.script_type || "")}</dd>
        <dt>First / last seen</dt><dd>${a.first_height != null ? link.block(a.first_height) : "–"} / ${a.last_height != null ? link.block(a.last_height) : "–"}</dd>
        <dt>Cluster</dt><dd id="clusterlink">${a.cluster_id != null ? `${link.cluster(a.cluster_id)} <span class="muted">(${a.cluster_size ?? "?"} address${a.cluster_size === 1 ? "" : "es"})</span>` : "–"}</dd>
      </dl></section>
      <section class="panel" id="risk"><h2>Risk</h2>${riskPanel(a.risk)}</section>
    </div>
    <section class="panel"><h2>Tags</h2><div id="tags">${loading()}</div></section>
    <section class="panel"><h2>History</h2><div id="history"></div></section>`;
  showTags(el.querySelector("#tags"), addr, signal, a.labels && a.labels.length ? " (its labels come from its cluster)" : "");
  await pager(el.querySelector("#history"), {
    head: `<tr><th>Transaction</th><th>Block</th><th>Time</th><th class="num">Received</th><th class="num">Sent</th></tr>`,
    fetch: (c) => api(`addresses/${enc(addr)}/txs?limit=25${c ? "&cursor=" + enc(c) : ""}`, { signal }),
    row: (t) => `<tr><td>${link.tx(t.txid)}</td><td>${link.block(t.height)}</td><td>${timeText(t.time)}</td>
      <td class="num">${t.received_sat ? btc(t.received_sat, "in") : ""}</td><td class="num">${t.sent_sat ? btc(t.sent_sat, "out") : ""}</td></tr>`,
    empty: "No transaction.",
  });
}

// showTags fills box with the address's own tags and their sources.
function showTags(box, addr, signal, noneNote = "") {
  return api("tags/" + enc(addr), { signal })
    .then((t) => {
      const list = t.tags || [];
      box.innerHTML = list.length
        ? `<table class="list compact"><thead><tr><th>Label</th><th>Source</th><th>Confidence</th><th>Description</th></tr></thead><tbody>
          ${list.map((x) => `<tr><td>${label(x.label, x.category)}</td><td>${sourceLink(x.source, x.source_url)}</td>
            <td>${x.confidence}${x.authoritative ? " (authoritative)" : ""}</td><td>${esc(x.description || "")}</td></tr>`).join("")}</tbody></table>`
        : `<p class="muted">No tag on this address itself${noneNote}.</p>`;
    })
    .catch((e) => {
      if (e.name !== "AbortError") box.innerHTML = errorBox(e);
    });
}

// offChainAddressPage shows an address the index has no output of: its
// tags and its screening (sanctions lists name addresses before use).
async function offChainAddressPage(el, signal, addr) {
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Address</div><h1 class="mono">${esc(addr)}</h1>
      <p class="note" id="offchain">Not seen on chain by this index: no transaction, balance or cluster. Its tags and screening follow.</p></div>
      <div class="actions">${watchButton("address", addr)}</div></div>
    <div class="grid2">
      <section class="panel" id="risk"><h2>Risk</h2>${loading()}</section>
      <section class="panel"><h2>Tags</h2><div id="tags">${loading()}</div></section>
    </div>`;
  const riskBox = el.querySelector("#risk");
  const screened = api("screen/" + enc(addr), { signal })
    .then((r) => {
      riskBox.innerHTML = `<h2>Risk</h2>${riskPanel(r)}`;
    })
    .catch((e) => {
      if (e.name === "AbortError") return;
      riskBox.innerHTML = `<h2>Risk</h2>${e.code === "unavailable" ? riskPanel(null) : errorBox(e)}`;
    });
  await Promise.all([screened, showTags(el.querySelector("#tags"), addr, signal)]);
}

async function txPage(el, params, signal, txid) {
  document.title = "Transaction " + txid;
  el.innerHTML = loading("Loading transaction");
  const t = await api("txs/" + enc(txid), { signal });
  const hz = t.heuristics || {};
  const cj = hz.coinjoin || {};
  const change = hz.change || [];
  const changeOut = new Map(change.map((c) => [c.vout, c]));
  const inSum = (t.inputs || []).reduce((s, i) => s + (i.value_sat || 0), 0);
  const outSum = (t.outputs || []).reduce((s, o) => s + (o.value_sat || 0), 0);
  const addrCell = (x) => (x.address ? `${link.address(x.address, short(x.address, 12, 8))}` : `<span class="muted">${x.coinbase ? "coinbase" : "no address"}</span>`);
  const clusterCell = (x) => (x.cluster_id != null ? link.cluster(x.cluster_id, "#" + x.cluster_id) : "");
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Transaction</div><h1 class="mono">${esc(t.txid)}</h1></div>
      <div class="actions">${link.graph("t:" + t.txid)}</div></div>
    <div class="grid2">
    <section class="panel"><h2>Summary</h2><dl class="facts">
      <dt>Block</dt><dd>${link.block(t.block_height)} <span class="muted">${timeText(t.block_time)}</span></dd>
      <dt>Inputs / outputs</dt><dd>${(t.inputs || []).length} / ${(t.outputs || []).length}</dd>
      <dt>Value out</dt><dd>${btc(outSum)} <span class="muted" id="txusd"></span></dd>
      <dt>Fee</dt><dd>${btc(t.fee_sat)}</dd>
      <dt>Size</dt><dd>${t.size} bytes, weight ${t.weight}</dd>
    </dl></section>
    <section class="panel" id="findings"><h2>Findings</h2>
      <p>CoinJoin: ${cj.detected ? `<span class="risk risk-medium">${esc(cj.kind || "coinjoin")}</span> confidence ${Number(cj.confidence).toFixed(2)}` : `<span class="muted">not detected</span>`}</p>
      ${change.length ? `<h3 class="sub">Change</h3><ul class="plain">${change.map((c) => `<li>output ${c.vout}${c.address ? " " + link.address(c.address, short(c.address, 10, 6)) : ""}: <b>${esc(c.rule)}</b> (confidence ${Number(c.confidence).toFixed(2)})${c.clusters ? ", used for clustering" : ""}${c.detail ? ` <span class="muted">${esc(c.detail)}</span>` : ""}</li>`).join("")}</ul>` : `<p class="muted">No change output identified.</p>`}
    </section></div>
    <div class="grid2 io">
    <section class="panel"><h2>Inputs <span class="muted">${btc(inSum)}</span></h2>
      <table class="list compact"><thead><tr><th>#</th><th>Address</th><th>Labels</th><th>Cluster</th><th class="num">Value</th></tr></thead><tbody>
      ${(t.inputs || []).map((i, n) => `<tr><td>${i.coinbase ? n : `${n} ${link.tx(i.prev_txid, "←")}`}</td><td>${addrCell(i)}</td><td>${labels(i.labels)}</td><td>${clusterCell(i)}</td><td class="num">${btc(i.value_sat)}</td></tr>`).join("")}
      </tbody></table></section>
    <section class="panel"><h2>Outputs <span class="muted">${btc(outSum)}</span></h2>
      <table class="list compact"><thead><tr><th>#</th><th>Address</th><th>Labels</th><th>Cluster</th><th class="num">Value</th><th>Spent</th></tr></thead><tbody>
      ${(t.outputs || []).map((o) => `<tr class="${changeOut.has(o.n) ? "change" : ""}"><td>${o.n}${changeOut.has(o.n) ? ` <span class="pill" title="${esc(changeOut.get(o.n).rule)}">change</span>` : ""}</td><td>${addrCell(o)}</td><td>${labels(o.labels)}</td><td>${clusterCell(o)}</td>
        <td class="num">${btc(o.value_sat)}</td><td>${o.spent_by ? link.tx(o.spent_by.txid, "→ spent") : `<span class="muted">unspent</span>`}</td></tr>`).join("")}
      </tbody></table></section></div>`;
  // In USD at the close of the block's day, when the server's series
  // covers it.
  if (t.block_time) {
    const day = new Date(t.block_time * 1000).toISOString().slice(0, 10);
    try {
      const series = await api("prices", { signal });
      if (!series.days || day < series.first || day > series.last) return;
      const p = await api("prices/" + day, { signal });
      const box = el.querySelector("#txusd");
      if (box && p.close_usd) box.textContent = `${usd((outSum / 1e8) * p.close_usd)} at the BTC/USD close of ${p.from || day}`;
    } catch (e) {
      // no series, or none for that day: BTC alone
    }
  }
}

async function blockPage(el, params, signal, id) {
  document.title = "Block " + id;
  el.innerHTML = loading("Loading block");
  const b = await api("blocks/" + enc(id), { signal });
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Block</div><h1>${b.height.toLocaleString("en-US")}</h1><div class="mono muted">${esc(b.hash)}</div></div>
    <div class="actions">${b.height > 0 ? link.block(b.height - 1, "← previous") : ""} ${b.next_hash ? link.block(b.height + 1, "next →") : ""}</div></div>
    <section class="panel"><dl class="facts">
      <dt>Time</dt><dd>${timeText(b.time)}</dd><dt>Transactions</dt><dd>${b.tx_count}</dd><dt>Size</dt><dd>${(b.size ?? 0).toLocaleString("en-US")} bytes</dd>
    </dl></section>
    <section class="panel"><h2>Transactions</h2><div id="txs"></div></section>`;
  await pager(el.querySelector("#txs"), {
    head: `<tr><th>Transaction</th><th>Inputs</th><th>Outputs</th><th class="num">Fee</th><th>Size</th></tr>`,
    fetch: (c) => api(`blocks/${enc(b.height)}/txs?limit=50${c ? "&cursor=" + enc(c) : ""}`, { signal }),
    row: (t) => `<tr><td>${link.tx(t.txid)}${t.coinbase ? ` <span class="pill">coinbase</span>` : ""}</td><td>${t.inputs}</td><td>${t.outputs}</td><td class="num">${btc(t.fee_sat)}</td><td>${t.size}</td></tr>`,
  });
}

async function clusterPage(el, params, signal, id) {
  document.title = "Cluster " + id;
  el.innerHTML = loading("Loading cluster");
  const c = await api("clusters/" + enc(id), { signal });
  const conflicts = c.label_conflicts || [];
  const sample = c.addresses_sample || [];
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Cluster</div><h1>Cluster ${esc(c.cluster_id)}</h1>
      <div>${c.primary ? label(c.primary.label, c.primary.category) : `<span class="muted">unattributed</span>`}
      ${c.sanctioned ? `<span class="risk risk-severe">sanctioned</span>` : ""}</div></div>
      <div class="actions">${watchButton("cluster", String(c.cluster_id))} ${link.graph("c:" + c.cluster_id)}</div></div>
    <div class="grid2">
    <section class="panel"><h2>Summary</h2><dl class="facts">
      <dt>Size</dt><dd>${(c.size ?? 0).toLocaleString("en-US")} address${c.size === 1 ? "" : "es"}</dd>
      <dt>Received</dt><dd>${btc(c.received_sat)}</dd>
      <dt>Balance</dt><dd>${btc(c.balance_sat, "big")}</dd>
      <dt>Categories</dt><dd>${(c.categories || []).map(category).join(" ") || "–"}</dd>
      <dt>Clustering</dt><dd>${c.clustering ? esc(c.clustering.policy + ", height " + c.clustering.height) : "–"}</dd>
    </dl>${c.truncated ? `<p class="note">${esc(c.note || "Sums cover part of the cluster.")}</p>` : ""}</section>
    <section class="panel"><h2>Labels</h2>
      ${(c.labels || []).length ? `<table class="list compact"><thead><tr><th>Label</th><th>Sources</th><th>Tags</th><th>Confidence</th></tr></thead><tbody>
        ${c.labels.map((l) => `<tr><td>${label(l.label, l.category)}</td><td>${esc((l.sources || []).join(", "))}</td><td>${l.tags}</td><td>${l.confidence}${l.authoritative ? " (authoritative)" : ""}</td></tr>`).join("")}</tbody></table>` : `<p class="muted">No label.</p>`}
      ${conflicts.length ? `<h3 class="sub">Conflicts</h3><ul class="plain conflicts">${conflicts.map((x) => `<li><b>${esc(x.kind)}</b>: ${x.values.map(esc).join(" vs ")} <span class="muted">(${esc((x.sources || []).join("; "))})</span></li>`).join("")}</ul>` : ""}
    </section></div>
    <section class="panel" id="why"><h2>Why linked?</h2>
      <form id="explain" class="inline">
        <input name="a" aria-label="first member address" placeholder="member address" value="${esc(sample[0] || "")}" size="40" spellcheck="false">
        <span>and</span>
        <input name="b" aria-label="second member address" placeholder="member address" value="${esc(sample[1] || sample[0] || "")}" size="40" spellcheck="false">
        <button class="primary">Explain</button>
      </form>
      <div id="chain"></div>
    </section>
    <section class="panel"><h2>Members</h2><div id="members"></div></section>`;
  const form = el.querySelector("#explain");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = el.querySelector("#chain");
    out.innerHTML = loading("Finding the chain of links");
    try {
      const r = await api(`explain?a=${enc(form.a.value.trim())}&b=${enc(form.b.value.trim())}`, { signal });
      if (Array.isArray(r)) {
        out.innerHTML = r.length === 0
          ? `<p class="muted">The two addresses are the same.</p>`
          : `<ol class="linkchain">${r.map((s) => `<li>${link.address(s.from, short(s.from, 10, 6))} ⇄ ${link.address(s.to, short(s.to, 10, 6))}
            <span class="pill">${esc(s.rule)}</span> confidence ${Number(s.confidence).toFixed(2)} in ${link.tx(s.txid)}</li>`).join("")}</ol>
            <p class="muted">${r.length} link${r.length === 1 ? "" : "s"}: each step is one transaction where a clustering rule joined the two addresses.</p>`;
      } else {
        out.innerHTML = `<p class="note">${esc(r.message || "not linked")}</p>`;
      }
    } catch (e) {
      out.innerHTML = errorBox(e);
    }
  });
  const pick = (a) => {
    if (!form.a.value || form.a.value === form.b.value) form.a.value = a;
    else form.b.value = a;
  };
  el.querySelector("#members").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-pick]");
    if (b) pick(b.dataset.pick);
  });
  await pager(el.querySelector("#members"), {
    head: `<tr><th>Address</th><th>Labels</th><th><span class="sr-only">Actions</span></th></tr>`,
    fetch: (cur) => api(`clusters/${enc(c.cluster_id)}/members?limit=50${cur ? "&cursor=" + enc(cur) : ""}`, { signal }),
    row: (m) => `<tr><td>${link.address(m.address)}</td><td>${labels(m.labels)}</td><td><button type="button" class="small" data-pick="${esc(m.address)}" title="use in “why linked”">why linked…</button></td></tr>`,
  });
}

async function screenPage(el, params, signal) {
  document.title = "Screening";
  const saved = sessionStorage.getItem("rt.screen") || "";
  el.innerHTML = `<h1>Screening</h1>
    <p class="lead">Paste addresses (one per line, or separated by spaces or commas; up to 10,000).
    Each gets identifications, the exposure of its cluster and a risk level with the rules that set it.</p>
    <form id="screenform"><label for="addrs" class="sr-only">Addresses to screen</label><textarea id="addrs" rows="7" spellcheck="false" placeholder="1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa">${esc(saved)}</textarea>
    <div class="row"><button class="primary" id="screenbtn">Screen</button><span id="screencount" class="muted"></span></div></form>
    <div id="screenout"></div>`;
  const ta = el.querySelector("#addrs");
  const out = el.querySelector("#screenout");
  const parse = () => [...new Set(ta.value.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
  const count = () => (el.querySelector("#screencount").textContent = `${parse().length} address(es)`);
  ta.addEventListener("input", count);
  count();
  ta.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) el.querySelector("#screenform").requestSubmit();
  });
  el.querySelector("#screenform").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const addrs = parse();
    sessionStorage.setItem("rt.screen", ta.value);
    if (!addrs.length) return;
    out.innerHTML = loading(`Screening ${addrs.length} address(es)`);
    try {
      const res = await api("screen", { method: "POST", body: { addresses: addrs }, signal });
      const order = ["severe", "high", "medium", "low", "none"];
      const counts = Object.fromEntries(order.map((l) => [l, res.filter((r) => r.risk === l).length]));
      out.innerHTML = `<div class="summary">${order.filter((l) => counts[l]).map((l) => `${risk(l)} ${counts[l]}`).join(" &nbsp; ")}</div>
        <table class="list" id="screentable"><thead><tr><th>Address</th><th>Risk</th><th>Identified as</th><th>Cluster</th><th>Reasons</th></tr></thead><tbody>
        ${res.map((r) => `<tr class="risk-row-${esc(r.risk)}"><td>${link.address(r.address, short(r.address, 14, 8))}</td>
          <td>${risk(r.risk)}${r.sanctioned ? ` <span class="risk risk-severe">sanctioned</span>` : ""}</td>
          <td>${[...new Map((r.identifications || []).map((i) => [i.name + i.category, i])).values()].map((i) => label(i.name, i.category, i.source + ", " + i.scope)).join(" ") || `<span class="muted">–</span>`}</td>
          <td>${r.cluster_id != null ? link.cluster(r.cluster_id, "#" + r.cluster_id) + ` <span class="muted">(${r.cluster_size})</span>` : `<span class="muted">${r.seen_on_chain ? "" : "not on chain"}</span>`}</td>
          <td>${(r.reasons || []).length ? `<ul class="reasons">${r.reasons.map((x) => `<li>${esc(x)}</li>`).join("")}</ul>` : `<span class="muted">–</span>`}${(r.notes || []).map((n) => `<div class="muted small">${esc(n)}</div>`).join("")}</td></tr>`).join("")}
        </tbody></table>`;
    } catch (e) {
      if (e.name !== "AbortError") out.innerHTML = errorBox(e);
    }
  });
  if (params.get("run") === "1" && parse().length) el.querySelector("#screenform").requestSubmit();
}

render();

// Shared helpers: API calls, formatting, small DOM builders.

const KEY = "rt.apikey";

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(k) {
  if (k) sessionStorage.setItem(KEY, k);
  else sessionStorage.removeItem(KEY);
}

// ApiError carries the API's {"error":{"code","message"}} and the status.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const listeners = new Set();
// onAuthError registers a callback for 401 answers.
export function onAuthError(fn) {
  listeners.add(fn);
}

// api fetches /api/v2/PATH and returns the decoded JSON, or throws an
// ApiError with the server's code and message. body is sent as JSON; a
// file (a Blob) goes as raw instead, declared as type.
export async function api(path, { method = "GET", body, raw, type = "application/octet-stream", signal } = {}) {
  const headers = { Accept: "application/json" };
  const k = apiKey();
  if (k) headers["X-API-Key"] = k;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (raw !== undefined) headers["Content-Type"] = type;
  let resp;
  try {
    resp = await fetch("/api/v2/" + path, {
      method,
      headers,
      body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "network", "the server did not answer (" + e.message + ")");
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!resp.ok) {
    const err = data && data.error ? data.error : { code: "http_" + resp.status, message: text.slice(0, 300) || resp.statusText };
    const e = new ApiError(resp.status, err.code, err.message);
    e.fields = err.fields || []; // field-level errors: [{field, message}]
    if (resp.status === 401) listeners.forEach((fn) => fn(e));
    throw e;
  }
  return data;
}

export const enc = encodeURIComponent;

// httpUrl returns u when it is an absolute http(s) URL, else "": a URL from
// data (a tag's source_url) must never become a javascript: or data: link.
export function httpUrl(u) {
  try {
    const p = new URL(String(u ?? ""));
    return p.protocol === "http:" || p.protocol === "https:" ? p.href : "";
  } catch {
    return "";
  }
}

// sourceLink renders a source name, linked to its URL when that is http(s).
export function sourceLink(name, u) {
  const href = httpUrl(u);
  return href ? `<a href="${esc(href)}" rel="noreferrer noopener" target="_blank">${esc(name)}</a>` : esc(name);
}

// esc escapes text for HTML.
export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// h builds an element from an HTML string (one root).
export function h(html) {
  const t = document.createElement("template");
  t.innerHTML = html.trim();
  return t.content.firstElementChild;
}

// btcText renders sats as BTC with 8 decimals and grouped integer part.
export function btcText(sat) {
  if (sat === null || sat === undefined || Number.isNaN(sat)) return "–";
  const neg = sat < 0;
  let s = BigInt(Math.round(Math.abs(sat))).toString().padStart(9, "0");
  const int = s.slice(0, -8).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (neg ? "−" : "") + int + "." + s.slice(-8);
}

export function satText(sat) {
  return Math.round(sat).toLocaleString("en-US") + " sat";
}

// usd formats a US-dollar amount (whole dollars); "–" for none.
export function usd(x) {
  return x == null ? "–" : "$" + Number(x).toLocaleString("en-US", { maximumFractionDigits: 0 });
}

// btc renders an amount: BTC with 8 decimals, sats on hover.
export function btc(sat, cls = "") {
  if (sat === null || sat === undefined) return `<span class="amt muted">–</span>`;
  return `<span class="amt ${cls}" title="${esc(satText(sat))}">${btcText(sat)}<small> BTC</small></span>`;
}

export function short(s, a = 8, b = 6) {
  s = String(s ?? "");
  return s.length <= a + b + 1 ? s : s.slice(0, a) + "…" + s.slice(-b);
}

export function timeText(unix) {
  if (!unix) return "–";
  return new Date(unix * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

// Links to pages.
export const link = {
  address: (a, text) => `<a class="mono" href="/address/${enc(a)}" data-link title="${esc(a)}">${esc(text ?? a)}</a>`,
  tx: (t, text) => `<a class="mono" href="/tx/${enc(t)}" data-link title="${esc(t)}">${esc(text ?? short(t, 10, 8))}</a>`,
  block: (b, text) => `<a href="/block/${enc(b)}" data-link>${esc(text ?? b)}</a>`,
  cluster: (c, text) => `<a href="/cluster/${enc(c)}" data-link>${esc(text ?? "cluster " + c)}</a>`,
  graph: (start, text = "Open in graph") => `<a class="btn" href="/graph?start=${enc(start)}" data-link>${esc(text)}</a>`,
};

const CAT_CLASS = {
  sanctions: "cat-bad", ransomware: "cat-bad", darknet: "cat-bad", scam: "cat-bad", theft: "cat-bad", market: "cat-warn",
  mixer: "cat-warn", gambling: "cat-warn", otc: "cat-warn", exchange: "cat-svc", payment_processor: "cat-svc",
  service: "cat-svc", miner: "cat-neutral", pool: "cat-neutral",
};

// label renders a label badge with its category.
export function label(name, category, title = "") {
  const cls = CAT_CLASS[category] || "cat-neutral";
  return `<span class="tag ${cls}" title="${esc(title || category || "")}">${esc(name)}${category ? `<i>${esc(category)}</i>` : ""}</span>`;
}

// labels renders a list of {label, category} objects or strings.
export function labels(list) {
  if (!list || list.length === 0) return `<span class="muted">–</span>`;
  if (typeof list[0] === "string") list = [...new Set(list)];
  return list.map((l) => (typeof l === "string" ? label(l, "") : label(l.label, l.category, l.source || (l.sources || []).join(", ")))).join(" ");
}

// category renders a category alone.
export function category(cat) {
  return `<span class="tag ${CAT_CLASS[cat] || "cat-neutral"}">${esc(cat)}</span>`;
}

export function risk(level) {
  if (!level) return `<span class="muted">–</span>`;
  return `<span class="risk risk-${esc(level)}">${esc(level)}</span>`;
}

// loading and error views.
export function loading(what = "Loading") {
  return `<div class="loading" role="status"><span class="spinner"></span>${esc(what)}…</div>`;
}

export function errorBox(e) {
  const code = e && e.code ? e.code : "error";
  const status = e && e.status ? ` (HTTP ${e.status})` : "";
  let hint = "";
  if (code === "unauthorized") hint = `<p>Enter an API key with the <b>Key</b> button (top right).</p>`;
  if (code === "forbidden") hint = `<p>Your key's role does not allow this page.</p>`;
  return `<div class="error" role="alert"><b>${esc(code)}</b>${esc(status)}: ${esc(e && e.message ? e.message : String(e))}${hint}</div>`;
}

// pager renders a paged list into box: fetch(cursor) returns the API's
// {items, next_cursor}; row(item) an HTML row.
export async function pager(box, { head, fetch, row, empty = "Nothing here." }) {
  box.innerHTML = `<table class="list"><thead>${head}</thead><tbody></tbody></table><div class="more"></div>`;
  const body = box.querySelector("tbody");
  const more = box.querySelector(".more");
  let count = 0;
  async function page(cursor) {
    more.innerHTML = loading();
    try {
      const r = await fetch(cursor);
      for (const it of r.items || []) body.insertAdjacentHTML("beforeend", row(it));
      count += (r.items || []).length;
      more.innerHTML = "";
      if (count === 0) more.innerHTML = `<p class="muted">${esc(empty)}</p>`;
      if (r.next_cursor) {
        const b = h(`<button type="button" class="loadmore">Load more (${count} shown)</button>`);
        b.onclick = () => page(r.next_cursor);
        more.appendChild(b);
      } else if (r.truncated) {
        more.insertAdjacentHTML("beforeend", `<p class="note">The list is truncated at the server's cap.</p>`);
      }
    } catch (e) {
      if (e.name !== "AbortError") more.innerHTML = errorBox(e);
    }
  }
  await page("");
}

// saveBlob saves blob as a file named name.
export function saveBlob(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}

// download saves text as a file.
export function download(name, type, text) {
  saveBlob(name, new Blob([text], { type }));
}

// mixerDeposits renders the custodial mixer deposits a demixing trace
// reached (a trace's or a ransomware view's "demixes") as table id, at
// most limit rows: each with its outcome, why (its explanation), the
// taint it held and what was followed; a row selects the deposit's
// address node (data-node) where a graph listens.
export function mixerDeposits(hits, id, limit = hits.length) {
  return `<table class="list compact" id="${esc(id)}"><thead><tr><th>Deposit</th><th class="num">Tainted</th></tr></thead><tbody>
    ${hits.slice(0, limit).map((h) => `<tr data-outcome="${esc(h.outcome)}"${h.deposit_address ? ` data-node="a:${esc(h.deposit_address)}"` : ""}><td>${link.tx(h.deposit.split(":")[0], short(h.deposit, 8, 6))} <b>${esc(h.outcome)}</b>
      <br><span class="muted small">${esc(h.explanation || "")}</span></td>
      <td class="num">${btc(h.tainted_sat, "taint")}${h.followed_sat ? `<br><span class="muted small">${btc(h.followed_sat)} followed</span>` : ""}</td></tr>`).join("")}
    </tbody></table>${hits.length > limit ? `<p class="muted">${hits.length - limit} more in the JSON export.</p>` : ""}`;
}

// Ransom-payment reports, cases and statistics: the report form with live
// deadlines and field-level errors, the reports list and report page with
// exports under TLP, cases with notes, saved graphs and evidence bundles.
import { api, apiKey, ApiError, esc, enc, h, btc, usd, short, link, loading, errorBox, pager, saveBlob } from "./util.js";
import { barChart, columnChart, matrixChart } from "./charts.js";
import { openSavedGraph } from "./graph.js";

const ROLES = ["victim", "incident-responder", "insurer", "negotiator", "police", "fiu", "exchange"];
const SECTORS = [
  "chemical", "commercial-facilities", "communications", "critical-manufacturing", "dams", "defense-industrial-base",
  "emergency-services", "energy", "financial-services", "food-and-agriculture", "government-facilities",
  "healthcare-and-public-health", "information-technology", "nuclear-reactors-materials-and-waste",
  "transportation-systems", "water-and-wastewater-systems", "other",
];
const TLPS = ["clear", "green", "amber", "amber+strict", "red"];
const FORMATS = [["stix", "STIX 2.1"], ["misp", "MISP"], ["tagpack", "TagPack"], ["ransomwhere", "Ransomwhere"]];
const TLP_RULE = "TLP:RED never leaves this system; TLP:AMBER and AMBER+STRICT go only to a named partner (fill “to partner”); TLP:CLEAR and GREEN may be shared freely. An export takes the strictest marking of what it holds.";

const label = (s) => s.replace(/-/g, " ").replace(/\band\b/g, "and");
const opts = (list, sel, blank) => (blank ? `<option value="">${esc(blank)}</option>` : "") + list.map((v) => `<option value="${esc(v)}"${v === sel ? " selected" : ""}>${esc(label(v))}</option>`).join("");
export const tlpBadge = (t) => `<span class="tlp tlp-${esc(String(t || "").replace("+", "-"))}">TLP:${esc(String(t || "?").toUpperCase())}</span>`;
const when = (s) => (s ? esc(String(s).replace("T", " ").replace(/(:\d\d)(\.\d+)?Z$/, "$1 UTC")) : "–");
const yesno = (v) => (v === true ? "yes" : v === false ? "no" : `<span class="muted">unknown</span>`);
const lines = (s) => s.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);

// download posts to an API route answering a file and saves it under the
// name of its Content-Disposition.
async function postDownload(path, body, fallback) {
  const headers = { "Content-Type": "application/json" };
  if (apiKey()) headers["X-API-Key"] = apiKey();
  const resp = await fetch("/api/v2/" + path, { method: "POST", headers, body: JSON.stringify(body) });
  if (!resp.ok) {
    let err = { code: "http_" + resp.status, message: resp.statusText };
    try {
      err = (await resp.json()).error;
    } catch {
      /* not JSON */
    }
    throw new ApiError(resp.status, err.code, err.message);
  }
  const blob = await resp.blob();
  const m = /filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "");
  const name = m ? m[1] : fallback;
  saveBlob(name, blob);
  return { name, bytes: blob.size, sha256: resp.headers.get("X-Export-SHA256") || resp.headers.get("X-Evidence-Digest") || "" };
}

// exportBox renders the export buttons of reports or a case.
function exportBox(what, tlp) {
  const box = h(`<div class="exportbox">
    <div class="inline"><label>to partner <input name="to" size="22" placeholder="e.g. BKA, NCA, FBI IC3" aria-label="partner"></label>
    ${FORMATS.map(([f, n]) => `<button type="button" data-format="${f}">${esc(n)}</button>`).join("")}</div>
    <p class="muted small">${tlpBadge(tlp)} ${esc(TLP_RULE)}</p><div class="exportmsg"></div></div>`);
  box.querySelectorAll("button[data-format]").forEach((b) =>
    b.addEventListener("click", async () => {
      const msg = box.querySelector(".exportmsg");
      msg.innerHTML = loading("Exporting");
      try {
        const r = await postDownload("exports", { ...what, format: b.dataset.format, to: box.querySelector("input[name=to]").value.trim() }, "export");
        msg.innerHTML = `<p class="ok">Saved <b>${esc(r.name)}</b> (${r.bytes.toLocaleString("en-US")} bytes, SHA-256 <span class="mono">${esc(short(r.sha256, 10, 6))}</span>). The export is in the audit log.</p>`;
      } catch (e) {
        msg.innerHTML = errorBox(e) + (e.status === 403 || (e.status === 400 && /TLP/.test(e.message)) ? `<p class="note refused">Refused under TLP: ${esc(TLP_RULE)}</p>` : "");
      }
    }),
  );
  return box;
}

// ---- the report form -------------------------------------------------

function field(path, lbl, input, hint = "") {
  return `<label class="field" data-field="${path}"><span>${esc(lbl)}</span>${input}${hint ? `<small class="muted">${esc(hint)}</small>` : ""}<span class="ferr" role="alert"></span></label>`;
}

const inp = (name, extra = "") => `<input name="${name}" ${extra}>`;
const area = (name, ph) => `<textarea name="${name}" rows="2" spellcheck="false" placeholder="${esc(ph)}"></textarea>`;
const tri = (name) => `<select name="${name}"><option value="">unknown</option><option value="true">yes</option><option value="false">no</option></select>`;

export async function reportFormPage(el, params, signal) {
  document.title = "File a ransom-payment report";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Reports</div><h1>File a ransom-payment report</h1>
    <p class="lead">The fields of the Ransom Disclosure Act and CIRCIA. A Bitcoin payment is checked on chain: its transactions must exist
    and pay the stated addresses the stated amount (within fees). Nothing is stored while a field is wrong.</p></div>
    <div class="actions"><a class="btn" href="/reports" data-link>All reports</a></div></div>
  <form id="rform" class="rform" novalidate>
    <div class="formerr" role="alert"></div>
    <fieldset><legend>Reporter</legend><div class="fgrid">
      ${field("/reporter/role", "Role", `<select name="role">${opts(ROLES, "victim")}</select>`)}
      ${field("/reporter/name", "Name", inp("rname", 'placeholder="organisation or person filing"'))}
      ${field("/reporter/contact", "Contact", inp("contact", 'placeholder="e-mail or phone"'))}
      ${field("/tlp", "Sharing (TLP)", `<select name="tlp">${opts(TLPS, "amber")}</select>`, "how far this report may be shared")}
    </div></fieldset>
    <fieldset><legend>Organisation</legend><div class="fgrid">
      ${field("/organisation/name", "Name", inp("oname"))}
      ${field("/organisation/sector", "Sector", `<select name="sector">${opts(SECTORS, "", "— choose —")}</select>`, "critical-infrastructure sectors (CISA)")}
      ${field("/organisation/jurisdiction", "Jurisdiction", inp("jurisdiction", 'size="4" maxlength="2" placeholder="DE"'), "ISO 3166 country code")}
    </div></fieldset>
    <fieldset><legend>Attack</legend><div class="fgrid">
      ${field("/attack/start", "Started", inp("start", 'type="date"'))}
      ${field("/attack/end", "Ended", inp("end", 'type="date"'))}
      ${field("/attack/family", "Ransomware family", inp("family", 'placeholder="e.g. LockBit"'))}
      ${field("/attack/actor", "Actor", inp("actor", 'placeholder="group, if known"'))}
      ${field("/attack/description", "Description", area("description", "what happened"))}
    </div></fieldset>
    <fieldset><legend>Demand</legend><div class="fgrid">
      ${field("/demand/date", "Date", inp("ddate", 'type="date"'))}
      ${field("/demand/asset", "Asset", inp("dasset", 'value="BTC" size="6"'))}
      ${field("/demand/amount", "Amount", inp("damount", 'placeholder="1.25" inputmode="decimal"'))}
      ${field("/demand/addresses", "Pay-to addresses", area("daddrs", "one per line"))}
      ${field("/demand/note_sha256", "Ransom note SHA-256", inp("note", 'size="40" spellcheck="false"'))}
    </div></fieldset>
    <fieldset><legend>Payment</legend><div class="fgrid">
      ${field("/payment/date", "Paid at (your local time)", inp("pdate", 'type="datetime-local" step="1"'))}
      <div class="deadlines" id="deadlines" aria-live="polite"><span class="muted">Enter the payment time to see the filing deadlines.</span></div>
      ${field("/payment/asset", "Asset", inp("passet", 'value="BTC" size="6"'))}
      ${field("/payment/amount", "Amount", inp("pamount", 'placeholder="1.25" inputmode="decimal"'))}
      ${field("/payment/txids", "Transaction ids", area("txids", "one per line"))}
      ${field("/payment/to_addresses", "Paid to addresses", area("toaddrs", "one per line"))}
      ${field("/payment/from_addresses", "Paid from addresses", area("fromaddrs", "one per line"))}
      ${field("/payment/third_party_payer", "Third-party payer", inp("payer", 'placeholder="insurer or negotiator who paid"'))}
    </div></fieldset>
    <fieldset><legend>Outcome</legend><div class="fgrid">
      ${field("/outcome/decryptor_provided", "Decryptor provided", tri("dprov"))}
      ${field("/outcome/decryptor_worked", "Decryptor worked", tri("dworked"))}
      ${field("/outcome/data_returned", "Data returned / deleted", tri("dret"))}
      ${field("/law_enforcement/engaged", "Law enforcement engaged", `<select name="le"><option value="false">no</option><option value="true">yes</option></select>`)}
      ${field("/law_enforcement/agencies", "Agencies", inp("agencies", 'placeholder="FBI, BKA (comma-separated)"'))}
    </div></fieldset>
    <div class="row"><button class="primary" id="rsubmit">File report</button><span id="rstatus"></span></div>
  </form>
  <div id="rresult"></div>`;
  const f = el.querySelector("#rform");
  const dl = el.querySelector("#deadlines");
  const paidISO = () => {
    const v = f.pdate.value;
    if (!v) return "";
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? "" : d.toISOString().replace(/\.\d+Z$/, "Z");
  };
  let timer = null;
  const showDeadlines = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const p = paidISO();
      if (!p) {
        dl.innerHTML = `<span class="muted">Enter the payment time to see the filing deadlines.</span>`;
        return;
      }
      try {
        const r = await api("reports/deadlines?paid=" + enc(p), { signal });
        dl.innerHTML = r.deadlines.map((d) => `<div class="deadline ${d.late ? "late" : ""}"><b>${esc(d.regime)}</b> ${d.hours} h: due ${when(d.due)} ${d.late ? `<span class="risk risk-severe">overdue</span>` : `<span class="risk risk-none">open</span>`}</div>`).join("");
      } catch (e) {
        if (e.name !== "AbortError") dl.innerHTML = errorBox(e);
      }
    }, 200);
  };
  f.pdate.addEventListener("input", showDeadlines);
  f.pdate.addEventListener("change", showDeadlines);
  const build = () => {
    const v = (n) => f[n].value.trim();
    const b3 = (n) => (v(n) === "" ? undefined : v(n) === "true");
    const r = {
      tlp: v("tlp"),
      reporter: { role: v("role"), name: v("rname") || undefined, contact: v("contact") || undefined },
      organisation: { name: v("oname") || undefined, sector: v("sector"), jurisdiction: v("jurisdiction").toUpperCase() },
      attack: { start: v("start") || undefined, end: v("end") || undefined, family: v("family") || undefined, actor: v("actor") || undefined, description: v("description") || undefined },
      outcome: { decryptor_provided: b3("dprov"), decryptor_worked: b3("dworked"), data_returned: b3("dret") },
      law_enforcement: { engaged: v("le") === "true", agencies: v("agencies") ? v("agencies").split(",").map((s) => s.trim()).filter(Boolean) : undefined },
    };
    if (v("damount") || v("daddrs") || v("ddate") || v("note")) {
      r.demand = { date: v("ddate") || undefined, asset: v("dasset"), amount: v("damount"), addresses: lines(f.daddrs.value), note_sha256: v("note") || undefined };
    }
    if (v("pdate") || v("pamount") || v("txids") || v("toaddrs") || v("fromaddrs")) {
      r.payment = { date: paidISO() || v("pdate"), asset: v("passet"), amount: v("pamount"), txids: lines(f.txids.value), to_addresses: lines(f.toaddrs.value), from_addresses: lines(f.fromaddrs.value), third_party_payer: v("payer") || undefined };
    }
    return r;
  };
  const clearErrors = () => {
    f.querySelectorAll(".field").forEach((x) => x.classList.remove("bad"));
    f.querySelectorAll("[aria-invalid]").forEach((x) => x.removeAttribute("aria-invalid"));
    f.querySelectorAll(".ferr").forEach((x) => (x.textContent = ""));
    f.querySelector(".formerr").innerHTML = "";
  };
  // showErrors puts each field error next to its field: /payment/txids/1
  // goes to the txids box as "line 2: …".
  const showErrors = (e) => {
    const rest = [];
    for (const fe of e.fields || []) {
      let path = fe.field;
      let prefix = "";
      const m = /^(.*)\/(\d+)$/.exec(path);
      let box = f.querySelector(`.field[data-field="${CSS.escape(path)}"]`);
      if (!box && m) {
        box = f.querySelector(`.field[data-field="${CSS.escape(m[1])}"]`);
        prefix = `line ${Number(m[2]) + 1}: `;
      }
      if (!box) {
        rest.push(fe);
        continue;
      }
      box.classList.add("bad");
      box.querySelector("input, select, textarea")?.setAttribute("aria-invalid", "true");
      const err = box.querySelector(".ferr");
      err.textContent = (err.textContent ? err.textContent + " · " : "") + prefix + fe.message;
    }
    const n = (e.fields || []).length;
    f.querySelector(".formerr").innerHTML = `<div class="error"><b>Not filed</b>: ${n ? `${n} field${n === 1 ? " needs" : "s need"} attention (marked below); nothing was stored.` : esc(e.message)}
      ${rest.length ? `<ul>${rest.map((x) => `<li><code>${esc(x.field)}</code> ${esc(x.message)}</li>`).join("")}</ul>` : ""}</div>`;
    const first = f.querySelector(".field.bad");
    if (first) first.scrollIntoView({ block: "center" });
  };
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const st = el.querySelector("#rstatus");
    st.innerHTML = loading("Filing and verifying on chain");
    el.querySelector("#rresult").innerHTML = "";
    try {
      const r = await api("reports", { method: "POST", body: build(), signal });
      st.innerHTML = "";
      const out = el.querySelector("#rresult");
      out.innerHTML = `<section class="panel receipt" id="receipt"><div class="kind">Filed</div>
        <h2>Receipt <span class="mono" id="receiptid">${esc(r.receipt)}</span></h2>
        <p>Keep this receipt: it names the report in every later exchange. <a href="/reports/${enc(r.receipt)}" data-link>Open the report</a>.</p>
        ${verificationPanel(r)}</section>`;
      out.scrollIntoView({ block: "start" });
    } catch (e) {
      st.innerHTML = "";
      if (e.name === "AbortError") return;
      if (e.status === 400) showErrors(e);
      else f.querySelector(".formerr").innerHTML = errorBox(e);
    }
  });
}

// graphLink opens the payment in the investigation graph with a trace
// from the payment output, the report's family filled in as the owner
// demixing links payouts to.
function graphLink(r) {
  const v = r.verification;
  const tr = v && v.trace_request;
  if (!tr || !(tr.outpoints || []).length) return "";
  const start = (tr.addresses || [])[0];
  const owner = (tr.owner_labels || [])[0];
  return `<a class="btn primary" id="tracelink" href="/graph?inv=${enc(r.receipt)}${start ? "&start=" + enc("a:" + start) : ""}&trace=${enc(tr.outpoints[0])}${owner ? "&owner=" + enc(owner) : ""}" data-link>Where did the money go? Open the trace in the graph</a>`;
}

function verificationPanel(r) {
  const v = r.verification;
  const dls = (r.deadlines || []).map((d) => `<li>${esc(d.regime)} (${d.hours} h): due ${when(d.due)} ${d.late ? `<span class="risk risk-severe">filed late</span>` : `<span class="risk risk-none">in time</span>`}</li>`).join("");
  let status;
  if (!v) status = `<p class="muted">Not checked on chain (no Bitcoin payment with transactions or addresses${r.source ? ", or imported" : ""}).</p>`;
  else
    status = `<div class="verif"><span id="verifstatus" class="risk ${v.verified ? "risk-none" : v.pending ? "risk-medium" : "risk-high"}">${v.verified ? "verified" : v.pending ? "pending" : "not verified"}</span>
      ${v.verified ? `on chain at index height ${esc(v.index_height)}` : ""}</div>
      <dl class="facts">
        <dt>Stated</dt><dd>${btc(v.stated_sats)}</dd>
        <dt>Received on chain</dt><dd>${btc(v.received_sats, "big")} <span class="muted">(allowed difference ${btc(v.tolerance_sats)})</span></dd>
        <dt>USD on the day</dt><dd id="usdvalue"><b>${usd(v.usd)}</b> ${v.usd_per_btc ? `<span class="muted">at ${usd(v.usd_per_btc)}/BTC, close of ${esc(v.price_date)}</span>` : ""}</dd>
        <dt>Transactions</dt><dd>${(v.transactions || []).map((t) => `${link.tx(t.txid)} block ${link.block(t.height)} ${when(t.block_time)}`).join("<br>") || "–"}</dd>
        <dt>Payment addresses</dt><dd>${(v.payment_addresses || []).map((a) => link.address(a, short(a, 12, 8))).join("<br>") || "–"}</dd>
      </dl>
      ${(v.warnings || []).map((w) => `<p class="note">${esc(w)}</p>`).join("")}
      ${v.verified ? `<p class="muted small">The payment addresses are now ransomware tags (source report:${esc(r.receipt)}, ${tlpBadge(r.tlp)}).</p>` : ""}`;
  return `${status}${dls ? `<h3 class="sub">Filing deadlines</h3><ul class="plain">${dls}</ul>` : ""}<div class="btnrow">${graphLink(r)}</div>`;
}

// ---- reports list and report page ----------------------------------

export async function reportsPage(el, params, signal) {
  document.title = "Reports";
  const overdue = params.get("overdue") === "true";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Reports</div><h1>Ransom-payment reports</h1></div>
    <div class="actions"><a class="btn primary" href="/reports/new" data-link>File a report</a> <a class="btn" href="/stats" data-link>Statistics</a></div></div>
    <label class="inline"><input type="checkbox" id="overdueonly" ${overdue ? "checked" : ""}> overdue only (filed after the 24 h / 48 h deadlines)</label>
    <div id="rlist"></div>`;
  el.querySelector("#overdueonly").addEventListener("change", (ev) => {
    history.replaceState(null, "", "/reports" + (ev.target.checked ? "?overdue=true" : ""));
    reportsPage(el, new URLSearchParams(ev.target.checked ? "overdue=true" : ""), signal);
  });
  await pager(el.querySelector("#rlist"), {
    head: `<tr><th>Receipt</th><th>Submitted</th><th>Organisation</th><th>Family</th><th class="num">Paid</th><th>Chain</th><th>Deadlines</th><th>TLP</th></tr>`,
    fetch: (c) => api(`reports?limit=50${overdue ? "&overdue=true" : ""}${c ? "&cursor=" + enc(c) : ""}`, { signal }),
    row: (r) => `<tr class="${r.overdue ? "overdue" : ""}"><td><a class="mono" href="/reports/${enc(r.receipt)}" data-link>${esc(r.receipt)}</a>${r.source ? `<br><span class="muted small">from ${esc(r.source)}</span>` : ""}</td>
      <td>${when(r.submitted)}</td><td>${esc(r.organisation.name || "")}<br><span class="muted small">${esc(label(r.organisation.sector))}, ${esc(r.organisation.jurisdiction)}</span></td>
      <td>${esc(r.attack.family || "–")}</td>
      <td class="num">${r.payment ? esc(r.payment.amount + " " + r.payment.asset) : "–"}${r.verification && r.verification.usd != null ? `<br><span class="muted small">${usd(r.verification.usd)}</span>` : ""}</td>
      <td>${r.verification ? (r.verification.verified ? `<span class="risk risk-none">verified</span>` : r.verification.pending ? `<span class="risk risk-medium">pending</span>` : `<span class="risk risk-high">unverified</span>`) : `<span class="muted">–</span>`}</td>
      <td>${r.overdue ? `<span class="risk risk-severe" title="filed after a deadline">overdue</span>` : r.deadlines.length ? `<span class="muted">in time</span>` : `<span class="muted">no payment</span>`}</td>
      <td>${tlpBadge(r.tlp)}</td></tr>`,
    empty: overdue ? "No overdue report." : "No report filed yet.",
  });
}

export async function reportPage(el, params, signal, receipt) {
  document.title = "Report " + receipt;
  el.innerHTML = loading("Loading report");
  const r = await api("reports/" + enc(receipt), { signal });
  const d = r.demand, p = r.payment, o = r.outcome || {}, le = r.law_enforcement || {};
  const list = (xs) => (xs && xs.length ? xs.map((a) => `<div class="mono small">${esc(a)}</div>`).join("") : "–");
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Ransom-payment report</div><h1 class="mono">${esc(r.receipt)}</h1>
      <div>${tlpBadge(r.tlp)} ${r.overdue ? `<span class="risk risk-severe">overdue</span>` : ""} <span class="muted">submitted ${when(r.submitted)}${r.source ? `, imported from ${esc(r.source)} (their receipt ${esc(r.source_receipt || "–")})` : ""}</span></div></div>
      <div class="actions"><button type="button" id="reverify">Re-verify on chain</button></div></div>
    <div class="grid2">
      <section class="panel"><h2>Reporter and organisation</h2><dl class="facts">
        <dt>Reporter</dt><dd>${esc(label(r.reporter.role))}${r.reporter.name ? " — " + esc(r.reporter.name) : ""}${r.reporter.contact ? ` <span class="muted">${esc(r.reporter.contact)}</span>` : ""}</dd>
        <dt>Organisation</dt><dd>${esc(r.organisation.name || "–")}</dd>
        <dt>Sector</dt><dd>${esc(label(r.organisation.sector))}</dd>
        <dt>Jurisdiction</dt><dd>${esc(r.organisation.jurisdiction)}</dd></dl>
        <h3 class="sub">Attack</h3><dl class="facts">
        <dt>Period</dt><dd>${esc(r.attack.start || "?")} – ${esc(r.attack.end || "?")}</dd>
        <dt>Family</dt><dd>${esc(r.attack.family || "–")}</dd><dt>Actor</dt><dd>${esc(r.attack.actor || "–")}</dd>
        <dt>Description</dt><dd>${esc(r.attack.description || "–")}</dd></dl></section>
      <section class="panel"><h2>Demand and payment</h2><dl class="facts">
        ${d ? `<dt>Demand</dt><dd>${esc(d.amount + " " + d.asset)}${d.date ? " on " + esc(d.date) : ""}</dd><dt>Pay-to</dt><dd>${list(d.addresses)}</dd>
        ${d.note_sha256 ? `<dt>Note SHA-256</dt><dd class="mono small">${esc(d.note_sha256)}</dd>` : ""}` : `<dt>Demand</dt><dd>–</dd>`}
        ${p ? `<dt>Payment</dt><dd><b>${esc(p.amount + " " + p.asset)}</b> at ${when(p.date)}</dd><dt>Transactions</dt><dd>${(p.txids || []).map((t) => link.tx(t)).join("<br>") || "–"}</dd>
        <dt>To</dt><dd>${list(p.to_addresses)}</dd><dt>From</dt><dd>${list(p.from_addresses)}</dd><dt>Third-party payer</dt><dd>${esc(p.third_party_payer || "–")}</dd>` : `<dt>Payment</dt><dd>none reported</dd>`}
        </dl><h3 class="sub">Outcome</h3><dl class="facts">
        <dt>Decryptor provided</dt><dd>${yesno(o.decryptor_provided)}</dd><dt>Decryptor worked</dt><dd>${yesno(o.decryptor_worked)}</dd><dt>Data returned</dt><dd>${yesno(o.data_returned)}</dd>
        <dt>Law enforcement</dt><dd>${le.engaged ? "engaged" : "not engaged"}${(le.agencies || []).length ? ": " + esc(le.agencies.join(", ")) : ""}</dd></dl></section>
    </div>
    <section class="panel" id="verification"><h2>Verification on chain</h2><div id="verifbody">${verificationPanel(r)}</div></section>
    <section class="panel"><h2>Share</h2><div id="exports"></div></section>
    <section class="panel"><h2>Add to a case</h2><form id="tocase" class="inline"><select name="case" aria-label="case"><option value="">loading cases…</option></select><button>Add report</button></form><div id="tocasemsg"></div></section>`;
  el.querySelector("#exports").appendChild(exportBox({ receipts: [r.receipt] }, r.tlp));
  el.querySelector("#reverify").addEventListener("click", async () => {
    const box = el.querySelector("#verifbody");
    box.innerHTML = loading("Verifying");
    try {
      box.innerHTML = verificationPanel(await api(`reports/${enc(r.receipt)}/verify`, { method: "POST", signal }));
    } catch (e) {
      const fl = (e.fields || []).map((x) => `<li><code>${esc(x.field)}</code> ${esc(x.message)}</li>`).join("");
      box.innerHTML = errorBox(e) + (fl ? `<ul class="mismatch">${fl}</ul>` : "") + verificationPanel(r);
    }
  });
  caseSelect(el.querySelector("#tocase"), signal, async (id) => api("cases/" + enc(id), { method: "PATCH", body: { reports: [r.receipt] }, signal }), el.querySelector("#tocasemsg"));
}

// caseSelect fills a form's case <select> and calls act(caseID) on submit.
async function caseSelect(form, signal, act, msg) {
  const sel = form.case;
  try {
    const cs = await api("cases?limit=1000", { signal });
    sel.innerHTML = (cs.items || []).length ? cs.items.map((c) => `<option value="${esc(c.id)}">${esc(c.name)} (${esc(c.id)})</option>`).join("") : `<option value="">no case yet</option>`;
  } catch (e) {
    if (e.name !== "AbortError") msg.innerHTML = errorBox(e);
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!sel.value) {
      msg.innerHTML = `<p class="muted">Open a case first (<a href="/cases" data-link>Cases</a>).</p>`;
      return;
    }
    msg.innerHTML = loading();
    try {
      const c = await act(sel.value);
      msg.innerHTML = `<p class="ok">Added to <a href="/cases/${enc(c.id)}" data-link>${esc(c.name)}</a>.</p>`;
    } catch (e) {
      msg.innerHTML = errorBox(e);
    }
  });
}

// ---- cases ------------------------------------------------------------

export async function casesPage(el, params, signal) {
  document.title = "Cases";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Cases</div><h1>Cases</h1>
    <p class="lead">A case groups addresses, clusters, saved traces and graphs, notes and reports, with an owner and a TLP marking.</p></div></div>
    <section class="panel"><h2>Open a case</h2><form id="newcase" class="inline">
      <input name="name" placeholder="case name" size="30" aria-label="case name" required>
      <input name="owner" placeholder="owner (default: you)" size="20" aria-label="owner">
      <select name="tlp" aria-label="TLP">${opts(TLPS, "amber")}</select><button class="primary">Create</button></form><div id="newcasemsg"></div></section>
    <div id="clist"></div>`;
  el.querySelector("#newcase").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const msg = el.querySelector("#newcasemsg");
    try {
      const c = await api("cases", { method: "POST", body: { name: f.name.value.trim(), owner: f.owner.value.trim(), tlp: f.tlp.value }, signal });
      history.pushState(null, "", "/cases/" + enc(c.id));
      window.dispatchEvent(new PopStateEvent("popstate"));
    } catch (e) {
      if (e.name !== "AbortError") msg.innerHTML = errorBox(e);
    }
  });
  await pager(el.querySelector("#clist"), {
    head: `<tr><th>Case</th><th>Owner</th><th>TLP</th><th>Updated</th><th class="num">Addresses</th><th class="num">Reports</th><th class="num">Saved</th><th class="num">Notes</th></tr>`,
    fetch: (c) => api(`cases?limit=50${c ? "&cursor=" + enc(c) : ""}`, { signal }),
    row: (c) => `<tr><td><a href="/cases/${enc(c.id)}" data-link>${esc(c.name)}</a><br><span class="mono muted small">${esc(c.id)}</span></td><td>${esc(c.owner)}</td><td>${tlpBadge(c.tlp)}</td>
      <td>${when(c.updated)}</td><td class="num">${c.addresses}</td><td class="num">${c.reports}</td><td class="num">${c.saved}</td><td class="num">${c.notes}</td></tr>`,
    empty: "No case yet.",
  });
}

export async function casePage(el, params, signal, id) {
  document.title = "Case " + id;
  el.innerHTML = loading("Loading case");
  const c = await api("cases/" + enc(id), { signal });
  const patch = (body) => api("cases/" + enc(c.id), { method: "PATCH", body, signal });
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Case</div><h1 id="casename">${esc(c.name)}</h1>
      <div>${tlpBadge(c.tlp)} <span class="muted">${esc(c.id)} · owner <b>${esc(c.owner)}</b> · opened ${when(c.created)} · updated ${when(c.updated)}</span></div></div></div>
    <div class="grid2">
      <section class="panel"><h2>Addresses <span class="muted">${c.addresses.length}</span></h2>
        ${c.addresses.length ? `<ul class="plain">${c.addresses.map((a) => `<li>${link.address(a)}</li>`).join("")}</ul>` : `<p class="muted">None yet.</p>`}
        <form id="addaddr" class="inline"><input name="addr" placeholder="address" size="36" spellcheck="false" aria-label="address to add"><button>Add address</button></form>
        <h3 class="sub">Clusters</h3>${c.clusters.length ? c.clusters.map((x) => link.cluster(x)).join(", ") : `<span class="muted">none</span>`}</section>
      <section class="panel"><h2>Reports <span class="muted">${c.reports.length}</span></h2>
        ${c.reports.length ? `<ul class="plain">${c.reports.map((r) => `<li><a class="mono" href="/reports/${enc(r)}" data-link>${esc(r)}</a></li>`).join("")}</ul>` : `<p class="muted">None yet: add one from its report page.</p>`}
        <h3 class="sub">Saved traces and graphs</h3>
        ${c.saved.length ? `<table class="list compact" id="savedlist"><thead><tr><th>Name</th><th>Kind</th><th>Added</th><th><span class="sr-only">Actions</span></th></tr></thead><tbody>${c.saved.map((s, i) => `<tr><td>${esc(s.name)}</td><td>${esc(s.kind)}</td><td>${when(s.added)}</td>
          <td>${s.kind === "graph" ? `<button type="button" class="small" data-open="${i}">Open in graph</button>` : ""}</td></tr>`).join("")}</tbody></table>` : `<p class="muted">None yet: use “Save to case” on the graph page.</p>`}</section>
    </div>
    <section class="panel"><h2>Notes</h2>
      ${c.notes.length ? `<ul class="plain notes" id="notes">${c.notes.map((n) => `<li><span class="muted small">${when(n.time)} · ${esc(n.author)}</span><div>${esc(n.text)}</div></li>`).join("")}</ul>` : `<p class="muted">No note yet.</p>`}
      <form id="addnote" class="stack"><textarea name="note" rows="2" placeholder="A dated remark, signed with your key's name" aria-label="note"></textarea><div><button class="primary">Add note</button></div></form></section>
    <div class="grid2">
      <section class="panel"><h2>Owner and marking</h2><form id="setowner" class="inline">
        <input name="owner" value="${esc(c.owner)}" size="20" aria-label="owner"><select name="tlp" aria-label="TLP">${opts(TLPS, c.tlp)}</select><button>Save</button></form></section>
      <section class="panel"><h2>Evidence bundle</h2>
        <p class="muted small">A .zip of every transaction and address of the case (JSON and CSV), the saved graphs, the cluster links with their evidence,
        the index digest and block hashes and the audit entries, with a SHA-256 manifest that <code>ransomtrail evidence verify</code> checks.</p>
        <form id="evidence" class="inline"><input name="to" placeholder="recipient (required above TLP:GREEN)" size="30" aria-label="recipient"><button class="primary">Export evidence</button></form></section>
    </div>
    <section class="panel"><h2>Share the case's reports</h2><div id="caseexports"></div></section>
    <div id="casemsg"></div>`;
  const msg = el.querySelector("#casemsg");
  const reload = () => casePage(el, params, signal, c.id);
  const submit = (sel, fn) =>
    el.querySelector(sel).addEventListener("submit", async (ev) => {
      ev.preventDefault();
      msg.innerHTML = "";
      try {
        await fn(ev.target);
        await reload();
      } catch (e) {
        if (e.name !== "AbortError") (msg.innerHTML = errorBox(e)), msg.scrollIntoView({ block: "center" });
      }
    });
  submit("#addaddr", (f) => patch({ addresses: [f.addr.value.trim()] }));
  submit("#addnote", (f) => patch({ note: f.note.value }));
  submit("#setowner", (f) => patch({ owner: f.owner.value.trim(), tlp: f.tlp.value }));
  el.querySelector("#evidence").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.innerHTML = loading("Building the evidence bundle");
    try {
      const r = await postDownload(`cases/${enc(c.id)}/evidence`, { to: ev.target.to.value.trim() }, c.id + "-evidence.zip");
      msg.innerHTML = `<p class="ok" id="evidenceok">Saved <b>${esc(r.name)}</b> (${r.bytes.toLocaleString("en-US")} bytes), manifest digest <span class="mono">${esc(short(r.sha256, 12, 8))}</span>.</p>`;
    } catch (e) {
      msg.innerHTML = errorBox(e) + (e.status === 403 || /TLP/.test(e.message) ? `<p class="note refused">${esc(TLP_RULE)}</p>` : "");
    }
  });
  el.querySelectorAll("button[data-open]").forEach((b) =>
    b.addEventListener("click", () => {
      const s = c.saved[Number(b.dataset.open)];
      const name = openSavedGraph(c.id + " " + s.name, s.data);
      history.pushState(null, "", "/graph?inv=" + enc(name));
      window.dispatchEvent(new PopStateEvent("popstate"));
    }),
  );
  if (c.reports.length) el.querySelector("#caseexports").appendChild(exportBox({ case: c.id }, c.tlp));
  else el.querySelector("#caseexports").innerHTML = `<p class="muted">The case has no report to share.</p>`;
}

// ---- statistics -------------------------------------------------------

const GROUPS = [
  ["family", "By ransomware family"],
  ["month", "By month of payment"],
  ["sector", "By victim sector"],
  ["jurisdiction", "By victim jurisdiction"],
  ["origin", "By actor origin"],
];

export async function statsPage(el, params, signal) {
  document.title = "Statistics";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Reports</div><h1>Ransom payments: statistics</h1>
    <p class="lead">Over every filed and imported report. A verified payment counts what the chain shows and its USD value on the day;
    an unverified Bitcoin payment its stated amount at the stated date's close.</p></div></div>
    <div id="totals">${loading()}</div><div id="charts"></div>`;
  const all = await Promise.all(GROUPS.map(([by]) => api("stats?by=" + by, { signal })));
  const t = all[0];
  el.querySelector("#totals").innerHTML = `<h2 class="sr-only">Totals</h2><div class="cards stats">
    <div class="card"><h3>${t.reports}</h3><p>reports</p></div><div class="card"><h3>${t.payments}</h3><p>payments (${t.verified} verified on chain)</p></div>
    <div class="card"><h3>${btc(t.sats)}</h3><p>paid</p></div><div class="card"><h3>${usd(t.usd)}</h3><p>USD on the day of payment</p></div></div>`;
  const charts = el.querySelector("#charts");
  if (!t.reports) {
    charts.innerHTML = `<p class="muted">No report yet: <a href="/reports/new" data-link>file one</a>.</p>`;
    return;
  }
  GROUPS.forEach(([by, title], i) => {
    const rows = all[i].rows;
    const sec = h(`<section class="panel chartpanel" id="chart-${by}"><h2>${esc(title)}</h2><div class="chartpair"></div></section>`);
    const pair = sec.querySelector(".chartpair");
    const key = (r) => (by === "sector" ? label(r.key) : r.key);
    if (by === "month") {
      pair.appendChild(columnChart(rows.map((r) => ({ key: r.key, value: r.payments })), { title: "Payments", yLabel: "payments", xLabel: "month", fmt: String, integer: true }));
      pair.appendChild(columnChart(rows.map((r) => ({ key: r.key, value: r.usd })), { title: "USD paid", yLabel: "USD", xLabel: "month", fmt: usd, color: "#c0392b" }));
    } else {
      pair.appendChild(barChart(rows.map((r) => ({ key: key(r), value: r.payments })), { title: "Payments", xLabel: "payments", fmt: String, integer: true }));
      pair.appendChild(barChart(rows.map((r) => ({ key: key(r), value: r.usd })), { title: "USD paid", xLabel: "USD on the day", fmt: usd, color: "#c0392b" }));
    }
    charts.appendChild(sec);
  });
  const ot = h(`<section class="panel chartpanel" id="chart-origin-target"><h2>Actor origin × victim jurisdiction</h2>
    <p class="muted small">Where the actors come from and whom they hit (the breakdown of the Microsoft Digital Defense Report): payments in each cell, shaded by USD.</p></section>`);
  ot.appendChild(matrixChart(t.origin_target, { rowLabel: "actor origin", colLabel: "victim jurisdiction", fmt: usd }));
  charts.appendChild(ot);
}

// The ransomware view: the families of the ransomware tags, and for one
// family or campaign what it received (BTC, USD on each payment's day) and
// where the money went (a forward haircut trace from every payment to its
// cash-outs), optionally demixed at custodial mixers.
import { api, esc, enc, btc, usd, link, label, loading, timeText, mixerDeposits } from "./util.js";

// familyHref is a family page's address: the name goes in the query, so
// that any name works (BlackCat/ALPHV, LockBit 3.0), reloaded too.
export const familyHref = (family) => "/ransomware?family=" + enc(family);

export async function ransomwareListPage(el, params, signal) {
  if (params.get("family")) return ransomwareFamilyPage(el, params, signal, params.get("family"));
  document.title = "Ransomware";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Ransomware</div><h1>Families on the chain</h1>
    <p class="lead">The ransomware families of the imported tags (Ransomwhere, TagPacks, verified reports): their tagged addresses seen
    on the chain, the payments those received, and, per family, where the money went.</p></div></div>
    <div id="families">${loading()}</div>`;
  const fams = await api("ransomware", { signal });
  const box = el.querySelector("#families");
  if (!fams.length) {
    box.innerHTML = `<p class="muted">No ransomware tags on indexed addresses: import some (<code>ransomtrail tags import</code>).</p>`;
    return;
  }
  box.innerHTML = `<table class="list" id="familylist"><thead><tr><th>Family</th><th class="num">Addresses</th><th class="num">Payments</th><th class="num">Received</th></tr></thead><tbody>
    ${fams.map((f) => `<tr><td><a href="${familyHref(f.family)}" data-link>${esc(f.family)}</a></td><td class="num">${f.addresses}</td>
      <td class="num">${f.payments}</td><td class="num">${btc(f.received_sat)}</td></tr>`).join("")}
    </tbody></table>`;
}

export async function ransomwareFamilyPage(el, params, signal, family) {
  document.title = family + " · Ransomware";
  const demix = params.get("demix") === "on";
  el.innerHTML = `<div class="pagehead"><div><div class="kind"><a href="/ransomware" data-link>Ransomware</a></div><h1>${esc(family)}</h1>
    <p class="lead">What it received and where the money went: a forward haircut trace from every payment to the services it reached.</p></div>
    <div class="actions"><label title="follow the trace through custodial mixers into the payouts that go back to wallets the trace reached (an inference, not chain links)">
      <input type="checkbox" id="demix" ${demix ? "checked" : ""}> demix mixers</label></div></div>
    <div id="family">${loading("Tracing every payment")}</div>`;
  el.querySelector("#demix").addEventListener("change", (ev) => {
    const u = new URL(location.href);
    if (ev.target.checked) u.searchParams.set("demix", "on");
    else u.searchParams.delete("demix");
    // re-rendered through the router, which aborts this page's requests
    history.replaceState(null, "", u);
    window.dispatchEvent(new PopStateEvent("popstate"));
  });
  const r = await api(`ransomware?family=${enc(family)}${demix ? "&demix=on" : ""}`, { signal });
  const atMixer = (r.cash_outs || []).filter((c) => c.category === "mixer").reduce((s, c) => s + c.tainted_sat, 0);
  el.querySelector("#family").innerHTML = `<h2 class="sr-only">Totals</h2><div class="cards stats">
      <div class="card"><h3>${r.payments}</h3><p>payments to ${r.addresses} tagged address${r.addresses === 1 ? "" : "es"}</p></div>
      <div class="card"><h3>${btc(r.received_sat)}</h3><p>received</p></div>
      <div class="card"><h3>${usd(r.received_usd)}</h3><p>USD on the day of each payment${r.unpriced_payments ? ` (${r.unpriced_payments} without a price)` : ""}</p></div>
      <div class="card"><h3>${btc(r.exchange_sat)}</h3><p>reached exchanges and OTC desks</p></div></div>
    <p class="muted">Tags: ${(r.families || []).map(esc).join(", ")}${r.first_payment ? `; first payment ${esc(r.first_payment.slice(0, 10))}, last ${esc(r.last_payment.slice(0, 10))}` : ""}.
      ${r.truncated ? `<br><b>Truncated</b>: ${esc(r.truncated_reason || "")}` : ""}</p>
    <section class="panel"><h2>Where the money went</h2>
      <p class="muted small">Forward haircut trace, ${r.max_hops} hops, from every payment; ${btc(r.traced_sat)} traced, ${btc(r.service_sat)} reached services.
      ${r.demix ? `Demixed at custodial mixers: ${btc(r.demixed_sat)} followed into mixer payouts (inferred).` : atMixer > 0 ? `${btc(atMixer)} stopped at a custodial mixer: “demix mixers” follows it into payouts that go back to wallets the trace reached.` : ""}</p>
      <table class="list" id="cashouts"><thead><tr><th>Service</th><th class="num">Tainted</th><th class="num" title="at the daily close of each cash-out's day">USD</th><th class="num">Endpoints</th><th class="num">From</th></tr></thead><tbody>
      ${(r.cash_outs || []).map((c) => `<tr><td>${label(c.label, c.category)}${c.sanctioned ? ` <span class="risk risk-severe">sanctioned</span>` : ""}</td><td class="num">${btc(c.tainted_sat, "taint")}</td><td class="num">${usd(c.tainted_usd)}</td>
        <td class="num">${c.endpoints}</td><td class="num">${c.min_hops} hop${c.min_hops === 1 ? "" : "s"}</td></tr>`).join("")}
      </tbody></table></section>
    ${r.demix ? demixSection(r.demixes || []) : ""}
    <section class="panel"><h2>Payments</h2>
      <table class="list compact" id="payments"><thead><tr><th>Payment</th><th>Time</th><th class="num">Value</th><th class="num">USD</th></tr></thead><tbody>
      ${(r.payment_list || []).slice(0, 100).map((p) => `<tr><td>${link.tx(p.txid)}<br>${link.address(p.address)}
        <br><a class="small" href="/graph?inv=${enc(family)}&start=${enc("a:" + p.address)}&trace=${enc(p.txid + ":" + p.vout)}&owner=${enc(family)}" data-link>trace it in the graph</a></td>
        <td>${esc(timeText(Date.parse(p.time) / 1000))}</td>
        <td class="num">${btc(p.value_sat)}</td><td class="num">${usd(p.usd)}</td></tr>`).join("")}
      </tbody></table>${(r.payment_list || []).length > 100 ? `<p class="muted">${r.payment_list.length - 100} more in the API's answer.</p>` : ""}</section>`;
}

// demixSection lists the mixer deposits the trace reached, each with what
// became of it and why.
function demixSection(hits) {
  return hits.length ? `<section class="panel"><h2>Mixer deposits</h2>${mixerDeposits(hits, "familydemixes")}</section>` : "";
}

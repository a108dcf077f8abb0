// The investigation graph: address, transaction and cluster nodes joined by
// value flows; expand neighbours, run taint traces, annotate, export.
import cytoscape from "./vendor/cytoscape.esm.min.js";
import { api, esc, enc, h, btc, btcText, short, link, label, labels, loading, errorBox, download, mixerDeposits, usd } from "./util.js";

const INV_PREFIX = "rt.inv.";
// anchorText says how a demixed payout's coins reached the owner.
function anchorText(a) {
  if (a.reason === "one-wallet") {
    return `no payout of the deposit reached the owner; this one was paid to wallet ${link.cluster(a.owner_cluster_id)}, which received every other payout of the set too, and no other of the mixer's payouts in the deposit's window`;
  }
  const why = { account: "an exchange deposit address the trace reached (the owner's account there)", cluster: `${link.cluster(a.owner_cluster_id)}, which the trace reached by chain links`, label: `a cluster tagged ${esc(a.label || "")}` }[a.reason] || esc(a.reason);
  const n = (a.via_txids || []).length;
  const via = n === 0 ? "paid directly" : `reaches it after ${n} transaction${n === 1 ? "" : "s"}: ${a.via_txids.map((t) => link.tx(t, short(t, 8, 8))).join(" → ")}`;
  return `the owner's ${link.address(a.owner_address, short(a.owner_address, 12, 6))} — ${why}; ${via}`;
}

// What a demixed edge's evidence says (trace.Evidence*).
const demixEvidence = {
  linked: "every payout of the set goes back to wallets (or exchange accounts) the trace reached before the mixer, within three transactions",
  "partly-linked": "some payouts of the set go back to wallets the trace reached before the mixer; only those carry taint, the others only make the amount fit",
  "one-wallet": "no payout goes back to the owner; the set is every payout one wallet (cluster) received in the deposit's window, and no other deposit to the mixer fits it",
  amount: "amount and timing alone",
};
const CAT_COLOR = {
  ransomware: "#c0392b", sanctions: "#8e1b10", darknet: "#a93226", scam: "#a93226", theft: "#a93226",
  otc: "#d35400", mixer: "#e67e22", gambling: "#e67e22", market: "#e67e22",
  exchange: "#2c7be5", payment_processor: "#2c7be5", service: "#2c7be5", miner: "#6c757d", pool: "#6c757d",
};

// state is the open investigation: the graph model (independent of the
// view), the notes and the last trace. It is saved in localStorage.
let state = null;
let cy = null;
let selected = null;

function emptyState(name) {
  return { name, nodes: {}, edges: {}, notes: {}, starts: [], trace: null, view: "tx" };
}

function invNames() {
  const out = [];
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i);
    if (k.startsWith(INV_PREFIX)) out.push(k.slice(INV_PREFIX.length));
  }
  return out.sort();
}

function load(name) {
  try {
    const s = JSON.parse(localStorage.getItem(INV_PREFIX + name) || "null");
    if (s && s.nodes && s.edges) return Object.assign(emptyState(name), s, { name });
  } catch {
    /* a damaged entry starts empty */
  }
  return emptyState(name);
}

function save() {
  try {
    localStorage.setItem(INV_PREFIX + state.name, JSON.stringify(state));
  } catch (e) {
    console.warn("investigation not saved:", e);
  }
  localStorage.setItem("rt.inv", state.name);
}

// ---- model -------------------------------------------------------------

function addNode(n) {
  const old = state.nodes[n.id] || {};
  state.nodes[n.id] = Object.assign({}, old, {
    id: n.id,
    kind: n.kind,
    address: n.address || old.address || "",
    txid: n.txid || old.txid || "",
    cluster_id: n.cluster_id ?? old.cluster_id ?? null,
    labels: n.labels && n.labels.length ? n.labels : old.labels || [],
    category: n.category || old.category || "",
    height: n.height ?? old.height ?? null,
    coinjoin: n.coinjoin || old.coinjoin || "",
  });
}

// demixFacts keeps the fields of an inferred (demixed) edge.
function demixFacts(e) {
  return { via: e.via, confidence: e.confidence || 0, deposit: e.deposit || "", ambiguity: e.ambiguity || 0, matched_payouts: e.matched_payouts || [], evidence: e.evidence || "", anchor: e.anchor || null, n: e.n ?? null };
}

function edgeKey(from, to) {
  return from + ">" + to;
}

// modelKey keys an edge of the model or of a view: a demixed (inferred)
// edge is never summed with a chain link between the same nodes, nor with
// an inference from another deposit or to another payout transaction.
function modelKey(e, from = e.from, to = e.to) {
  return edgeKey(from, to) + (e.via ? `|${e.via}|${e.deposit || ""}|${e.txid || ""}` : "");
}

function addEdges(edges, fromTrace) {
  const agg = {};
  for (const e of edges) {
    const k = modelKey(e);
    const a = (agg[k] ||= { from: e.from, to: e.to, txid: e.txid, height: e.height, value_sat: 0, tainted_sat: 0 });
    a.value_sat += e.value_sat || 0;
    a.tainted_sat += e.tainted_sat || 0;
    // A flow between two clusters sums many transactions: txid is then
    // the latest one and txs their number.
    if (e.txs > 1) a.txs = (a.txs || 0) + e.txs;
    // A demixed edge is an inference (amount and timing at a custodial
    // mixer), not a chain link: keep what says so.
    if (e.via) Object.assign(a, demixFacts(e));
  }
  for (const [k, a] of Object.entries(agg)) {
    const old = state.edges[k];
    const e = { ...a };
    if (old) {
      e.value_sat = Math.max(old.value_sat || 0, a.value_sat);
      e.tainted_sat = fromTrace ? a.tainted_sat : old.tainted_sat || 0;
    } else if (!fromTrace) {
      e.tainted_sat = 0;
    }
    state.edges[k] = e;
  }
}

async function expand(id, direction, limit = 25) {
  const g = await api(`graph/neighbors?node=${enc(id)}&direction=${direction}&limit=${limit}`);
  g.nodes.forEach(addNode);
  addEdges(g.edges, false);
  save();
  return g;
}

// nodeId turns what a user typed into a graph node id.
function nodeId(s) {
  s = s.trim();
  if (/^[atc]:/.test(s)) return s;
  if (/^[0-9a-fA-F]{64}$/.test(s)) return "t:" + s.toLowerCase();
  if (/^c\d+$/.test(s)) return "c:" + s.slice(1);
  return "a:" + s;
}

// ---- view --------------------------------------------------------------

function nodeText(n, ep) {
  let name;
  if (n.kind === "tx") name = "tx " + short(n.txid, 6, 4);
  else if (n.kind === "cluster") name = (n.labels[0] ? n.labels[0] + "\n" : "") + "cluster #" + n.cluster_id;
  else if (n.kind === "output") name = "output " + short(n.id.slice(2), 6, 6);
  else name = (n.labels[0] ? n.labels[0] + "\n" : "") + short(n.address, 6, 4);
  if (ep) {
    name = (ep.label ? `${ep.label} · ${ep.category}` : `${ep.reason}`) + "\n" + (n.kind === "cluster" ? "cluster #" + n.cluster_id : short(n.address, 6, 4)) + "\n" + btcText(ep.tainted_sat) + " BTC";
  }
  return name;
}

// elements builds the Cytoscape elements of the model in the current view:
// "tx" shows addresses and transactions; "cluster" collapses address nodes
// into their clusters (edges summed).
function elements() {
  const view = state.view;
  const endpoints = {};
  for (const ep of (state.trace && state.trace.endpoints) || []) {
    const id = "a:" + ep.address;
    const cur = endpoints[id];
    if (!cur || ep.tainted_sat > cur.tainted_sat) endpoints[id] = { ...ep, tainted_sat: ep.tainted_sat + (cur ? cur.tainted_sat : 0) };
  }
  const map = (id) => {
    const n = state.nodes[id];
    if (view === "cluster" && n && n.kind === "address" && n.cluster_id != null) return "c:" + n.cluster_id;
    return id;
  };
  const nodes = {};
  for (const n of Object.values(state.nodes)) {
    const id = map(n.id);
    let v = nodes[id];
    if (!v) {
      const base = id === n.id ? n : state.nodes[id] || { id, kind: "cluster", cluster_id: n.cluster_id, labels: [], category: "", address: n.address };
      v = nodes[id] = { ...base, id, members: 0, ep: null };
    }
    v.members++;
    if (!v.labels.length && n.labels.length) v.labels = n.labels;
    if (!v.category && n.category) v.category = n.category;
    const ep = endpoints[n.id];
    if (ep) v.ep = v.ep ? { ...v.ep, tainted_sat: v.ep.tainted_sat + ep.tainted_sat } : { ...ep };
    if (state.starts.includes(n.id)) v.start = true;
  }
  const edges = {};
  for (const e of Object.values(state.edges)) {
    const from = map(e.from), to = map(e.to);
    if (!nodes[from] || !nodes[to] || from === to) continue;
    const k = modelKey(e, from, to);
    const v = (edges[k] ||= { id: "e:" + k, source: from, target: to, txid: e.txid, value_sat: 0, tainted_sat: 0, height: e.height, txs: 0 });
    v.value_sat += e.value_sat || 0;
    v.tainted_sat += e.tainted_sat || 0;
    // Edges summed into one (two clusters' flows) name the latest
    // transaction and count them all.
    v.txs = from.startsWith("t:") || to.startsWith("t:") ? 1 : v.txs + (e.txs || 1);
    if (e.txid !== v.txid && (e.height ?? -1) > (v.height ?? -1)) Object.assign(v, { txid: e.txid, height: e.height });
    if (e.via) Object.assign(v, demixFacts(e));
  }
  const maxT = Math.max(1, ...Object.values(edges).map((e) => e.tainted_sat));
  const out = [];
  for (const v of Object.values(nodes)) {
    out.push({
      group: "nodes",
      data: {
        id: v.id, kind: v.kind, base: nodeText(v, v.ep), text: nodeText(v, v.ep) + (state.notes[v.id] ? " ✎" : ""), color: CAT_COLOR[v.category] || (v.kind === "tx" ? "#9aa5b1" : "#5f6b7a"),
        endpoint: v.ep ? 1 : 0, endpoint_label: v.ep ? v.ep.label : "", endpoint_category: v.ep ? v.ep.category : "",
        note: state.notes[v.id] ? 1 : 0, start: v.start ? 1 : 0, category: v.category || "", label: v.labels[0] || "", labelled: v.category || v.labels.length ? 1 : 0,
      },
    });
  }
  for (const v of Object.values(edges)) {
    const r = v.tainted_sat / maxT;
    out.push({
      group: "edges",
      data: {
        ...v, tainted: v.tainted_sat > 0 ? 1 : 0, demix: v.via === "demix" ? 1 : 0,
        width: v.tainted_sat > 0 ? 2 + 10 * Math.sqrt(r) : 1.2,
        color: v.tainted_sat > 0 ? `rgb(${Math.round(235 - 60 * r)},${Math.round(150 - 110 * r)},${Math.round(120 - 90 * r)})` : "#c3cad3",
        amount: (v.tainted_sat > 0 ? btcText(v.tainted_sat) : btcText(v.value_sat)).replace(/0+$/, "").replace(/\.$/, "") + " BTC",
      },
    });
  }
  return out;
}

// layout places nodes in columns by hops from the start nodes (money flows
// left to right), then orders each column by the mean position of its
// neighbours (a few sweeps each way) to keep crossings few.
function layout() {
  const ids = cy.nodes().map((n) => n.id());
  const succ = {}, pred = {};
  for (const id of ids) (succ[id] = []), (pred[id] = []);
  cy.edges().forEach((e) => {
    succ[e.source().id()].push(e.target().id());
    pred[e.target().id()].push(e.source().id());
  });
  // Columns are hops from the start nodes: forward along the flow, then
  // backward to what paid them, then outward to anything left.
  const rank = {};
  let starts = ids.filter((id) => cy.getElementById(id).data("start"));
  if (!starts.length) starts = ids.filter((id) => pred[id].length === 0);
  if (!starts.length && ids.length) starts = [ids[0]];
  const bfs = (from, next, step) => {
    const queue = [...from];
    while (queue.length) {
      const id = queue.shift();
      for (const nb of next(id)) {
        if (!(nb in rank)) {
          rank[nb] = rank[id] + step(id, nb);
          queue.push(nb);
        }
      }
    }
  };
  starts.forEach((id) => (rank[id] = 0));
  bfs(starts, (id) => succ[id], () => 1);
  bfs(starts, (id) => pred[id], () => -1);
  for (const id of ids) {
    if (id in rank) continue;
    rank[id] = 0;
    bfs([id], (x) => [...succ[x], ...pred[x]], (x, nb) => (succ[x].includes(nb) ? 1 : -1));
  }
  bfs(Object.keys(rank), (x) => [...succ[x], ...pred[x]], (x, nb) => (succ[x].includes(nb) ? 1 : -1));
  const cols = {};
  for (const id of ids) (cols[rank[id]] ||= []).push(id);
  const keys = Object.keys(cols).map(Number).sort((a, b) => a - b);
  const ys = {};
  const place = (col) => col.forEach((id, i) => (ys[id] = i - (col.length - 1) / 2));
  keys.forEach((k) => place(cols[k]));
  const bary = (id, nbs) => {
    const ps = nbs.map((n) => ys[n]).filter((y) => y !== undefined);
    return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : ys[id];
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    const order = sweep % 2 === 0 ? keys : [...keys].reverse();
    for (const k of order) {
      const col = cols[k];
      const b = Object.fromEntries(col.map((id) => [id, bary(id, sweep % 2 === 0 ? pred[id] : succ[id])]));
      col.sort((x, y) => b[x] - b[y]);
      place(col);
    }
  }
  // A long chain (a peel chain runs for dozens of transactions) wraps into
  // bands read like lines of text, so the graph keeps a screen's shape.
  const lo = keys.length ? keys[0] : 0;
  const span = keys.length ? keys[keys.length - 1] - lo + 1 : 1;
  const perBand = span > 14 ? 10 : span;
  const tallest = Math.max(1, ...keys.map((k) => cols[k].length));
  const bandH = tallest * 64 + 150;
  const pos = {};
  for (const id of ids) {
    const r = rank[id] - lo;
    pos[id] = { x: (r % perBand) * 240, y: Math.floor(r / perBand) * bandH + ys[id] * 64 };
  }
  cy.layout({ name: "preset", positions: (n) => pos[n.id()], fit: true, padding: 40, animate: false }).run();
  if (cy.zoom() > 1.4) {
    cy.zoom(1.4);
    cy.center();
  }
}

function redraw() {
  const sel = selected;
  cy.elements().remove();
  cy.add(elements());
  layout();
  document.getElementById("gcount").textContent = `${cy.nodes().length} nodes, ${cy.edges().length} edges`;
  showTable();
  document.getElementById("gempty").hidden = cy.nodes().length > 0;
  if (sel && cy.getElementById(sel).length) cy.getElementById(sel).select();
  else showSelection(null);
}

const style = [
  {
    selector: "node",
    style: {
      "background-color": "data(color)", label: "data(text)", "font-size": 10, "text-wrap": "wrap", "text-max-width": 180,
      "text-valign": "bottom", "text-margin-y": 4, color: "#1f2933", width: 22, height: 22,
      "text-background-color": "#ffffff", "text-background-opacity": 0.75, "text-background-padding": 1,
      "min-zoomed-font-size": 7,
    },
  },
  { selector: "node[kind = 'tx']", style: { shape: "round-rectangle", width: 14, height: 14, "font-size": 8, color: "#52606d" } },
  { selector: "node[kind = 'cluster']", style: { shape: "round-hexagon", width: 34, height: 34 } },
  { selector: "node[kind = 'output']", style: { shape: "diamond", width: 14, height: 14 } },
  { selector: "node[endpoint = 1]", style: { "border-width": 4, "border-color": "#1f2933", width: 34, height: 34, "font-weight": "bold", "font-size": 13, "min-zoomed-font-size": 0, "z-index": 10, "text-background-opacity": 0.9 } },
  { selector: "node[start = 1]", style: { "border-width": 4, "border-color": "#f5b700", "border-style": "double" } },
  { selector: "node[note = 1]", style: { "outline-width": 2, "outline-color": "#7b61ff", "outline-offset": 2 } },
  { selector: "node:selected", style: { "overlay-color": "#2c7be5", "overlay-opacity": 0.25, "overlay-padding": 6 } },
  {
    selector: "edge",
    style: {
      width: "data(width)", "line-color": "data(color)", "target-arrow-color": "data(color)", "target-arrow-shape": "triangle",
      "curve-style": "bezier", "arrow-scale": 0.8, opacity: 0.9,
    },
  },
  { selector: "edge[tainted = 1]", style: { label: "data(amount)", "font-size": 8, color: "#8e1b10", "text-rotation": "autorotate", "text-background-color": "#fff", "text-background-opacity": 0.8, "min-zoomed-font-size": 7 } },
  { selector: "edge:selected", style: { "line-style": "dashed", label: "data(amount)", "font-size": 9 } },
  // Demixed edges: inferred by amount and timing, never a chain link.
  { selector: "edge[demix = 1]", style: { "line-style": "dashed", "line-dash-pattern": [7, 4], "target-arrow-shape": "vee", opacity: 0.75 } },
];

// ---- side panel --------------------------------------------------------

function showSelection(id) {
  selected = id;
  const box = document.getElementById("gsel");
  if (!id) {
    box.innerHTML = `<p class="muted">Click a node to see it, expand it, trace from it or write a note. Click an edge for its amounts.</p>`;
    return;
  }
  const n = state.nodes[id] || { id, kind: id.startsWith("c:") ? "cluster" : "?", labels: [], cluster_id: id.slice(2) };
  const page = n.kind === "tx" ? link.tx(n.txid, short(n.txid, 12, 10)) : n.kind === "cluster" ? link.cluster(n.cluster_id) : n.kind === "address" ? link.address(n.address, short(n.address, 14, 10)) : esc(id);
  const v = cy.getElementById(id);
  const ep = v.length && v.data("endpoint") ? (state.trace.endpoints || []).filter((e) => id === "a:" + e.address || (n.kind === "cluster" && String(e.cluster_id) === String(n.cluster_id))) : [];
  box.innerHTML = `<div class="kind">${esc(n.kind)}</div><div class="selname">${page}</div>
    <div>${labels(n.labels)}</div>
    ${n.kind === "address" && n.cluster_id != null ? `<div class="muted">in ${link.cluster(n.cluster_id)}</div>` : ""}
    ${n.height != null ? `<div class="muted">block ${link.block(n.height)}</div>` : ""}
    ${n.coinjoin ? `<div><span class="risk risk-medium">${esc(n.coinjoin)}</span></div>` : ""}
    ${ep.length ? `<div class="epbox">Endpoint: ${ep.map((e) => `${e.label ? label(e.label, e.category) : esc(e.reason)}${e.sanctioned ? ` <span class="risk risk-severe">sanctioned</span>` : ""} ${btc(e.tainted_sat, "taint")}`).join("<br>")}</div>` : ""}
    <div class="btnrow">
      <button type="button" data-expand="backward" title="where the money came from">← Expand back</button>
      <button type="button" data-expand="both">Expand</button>
      <button type="button" data-expand="forward" title="where the money went">Expand forward →</button>
    </div>
    <div class="btnrow">
      ${n.kind !== "cluster" ? `<button type="button" id="gtracehere">Trace from here</button>` : ""}
      <button type="button" id="gremove" class="danger">Remove</button>
    </div>
    <label class="notelabel">Note <textarea id="gnote" rows="3" placeholder="What you know about this node…">${esc(state.notes[id] || "")}</textarea></label>
    <div id="gselmsg"></div>`;
  box.querySelectorAll("button[data-expand]").forEach((b) =>
    b.addEventListener("click", async () => {
      const msg = box.querySelector("#gselmsg");
      msg.innerHTML = loading("Expanding");
      try {
        const before = cy.nodes().length;
        const g = await expand(id, b.dataset.expand);
        redraw();
        const added = cy.nodes().length - before;
        document.getElementById("gselmsg").innerHTML = `<p class="muted">${added} new node${added === 1 ? "" : "s"}${g.truncated ? " (more exist: the server capped the list)" : ""}.</p>`;
      } catch (e) {
        msg.innerHTML = errorBox(e);
      }
    }),
  );
  box.querySelector("#gremove").addEventListener("click", () => {
    // In the cluster view a cluster node stands for its member addresses.
    const gone = new Set([id]);
    if (n.kind === "cluster") {
      for (const m of Object.values(state.nodes)) if (m.kind === "address" && String(m.cluster_id) === String(n.cluster_id)) gone.add(m.id);
    }
    for (const g of gone) delete state.nodes[g];
    for (const [k, e] of Object.entries(state.edges)) if (gone.has(e.from) || gone.has(e.to)) delete state.edges[k];
    state.starts = state.starts.filter((s) => !gone.has(s));
    save();
    selected = null;
    redraw();
  });
  const tr = box.querySelector("#gtracehere");
  if (tr) tr.addEventListener("click", () => {
    const f = document.getElementById("gtrace");
    f.start.value = n.kind === "tx" ? n.txid : n.address;
    f.requestSubmit();
  });
  box.querySelector("#gnote").addEventListener("input", (ev) => {
    const t = ev.target.value;
    if (t.trim()) state.notes[id] = t;
    else delete state.notes[id];
    save();
    const v2 = cy.getElementById(id);
    if (v2.length) {
      v2.data("note", state.notes[id] ? 1 : 0);
      v2.data("text", v2.data("base") + (state.notes[id] ? " ✎" : ""));
    }
  });
}

function showEdge(e) {
  selected = null;
  const d = e.data();
  if (d.via === "demix") {
    const payouts = (d.matched_payouts || []).map((p) => link.tx(p.split(":")[0], short(p, 8, 8))).join("<br>");
    document.getElementById("gsel").innerHTML = `<div class="kind">demixed flow (inferred)</div>
    <div>${esc(short(d.source, 12, 6))} → ${esc(short(d.target, 12, 6))}</div>
    <p class="muted">Not a chain link: a custodial mixer deposit matched to this payout by amount and timing.</p>
    <dl class="facts"><dt>Evidence</dt><dd>${esc(demixEvidence[d.evidence] || "amount and timing alone")}</dd>
${d.anchor ? `<dt>${d.anchor.reason === "one-wallet" ? "Why followed" : "Why the owner's"}</dt><dd>${anchorText(d.anchor)}</dd>` : ""}
    <dt>Confidence</dt><dd>${Math.round((d.confidence || 0) * 100)} %</dd>
    <dt>Candidates</dt><dd>${esc(d.ambiguity)} equally good payout set${d.ambiguity === 1 ? "" : "s"}</dd>
    <dt>Deposit</dt><dd>${d.deposit ? link.tx(d.deposit.split(":")[0], short(d.deposit, 8, 8)) : "–"}</dd>
    <dt>Matched payouts</dt><dd>${payouts || "–"}</dd>
    <dt>Value</dt><dd>${btc(d.value_sat)}</dd>${d.tainted_sat ? `<dt>Tainted</dt><dd>${btc(d.tainted_sat, "taint")}</dd>` : ""}
    <dt>Payout tx</dt><dd>${link.tx(d.txid)}</dd><dt>Block</dt><dd>${d.height != null ? link.block(d.height) : "–"}</dd></dl>`;
    return;
  }
  const block = d.height != null ? link.block(d.height) : "–";
  document.getElementById("gsel").innerHTML = `<div class="kind">flow</div>
    <div>${esc(short(d.source, 12, 6))} → ${esc(short(d.target, 12, 6))}</div>
    <dl class="facts"><dt>Value</dt><dd>${btc(d.value_sat)}</dd>${d.tainted_sat ? `<dt>Tainted</dt><dd>${btc(d.tainted_sat, "taint")}</dd>` : ""}
    ${d.txs > 1
      ? `<dt>Transactions</dt><dd id="gseltxs">${esc(d.txs)} (values summed)</dd><dt>Latest</dt><dd>${link.tx(d.txid)}</dd><dt>Its block</dt><dd>${block}</dd>`
      : `<dt>Transaction</dt><dd>${link.tx(d.txid)}</dd><dt>Block</dt><dd>${block}</dd>`}</dl>`;
}

function showTrace() {
  const box = document.getElementById("gtraceout");
  const t = state.trace;
  if (!t) {
    box.innerHTML = "";
    return;
  }
  const eps = [...(t.endpoints || [])].sort((a, b) => b.tainted_sat - a.tainted_sat);
  box.innerHTML = `<h2>Trace: ${esc(t.direction)}, ${esc(t.model)}</h2>
    <p class="muted">${btc(t.source_sat)} from ${esc(t.start_kind)} ${esc(short(t.start, 10, 6))}; ${esc(t.txs_visited)} transactions, up to ${esc(t.max_hops)} hops.
    ${t.truncated ? `<br><b>Truncated</b>: ${esc(t.truncated_reason || "")}` : ""}
    ${t.demix ? `<br>Demixed at custodial mixers (inferred)${(t.demix_owner_labels || []).length ? `; owner named: ${t.demix_owner_labels.map(esc).join(", ")}` : ""}.` : ""}</p>
    <table class="list compact" id="gendpoints"><thead><tr><th>Endpoint</th><th class="num">Tainted</th></tr></thead><tbody>
    ${eps.slice(0, 30).map((e) => `<tr data-node="a:${esc(e.address)}"><td><button type="button" class="small gpick" aria-label="Select ${esc(e.label || e.reason)} ${esc(short(e.address, 8, 6))} in the graph">Select</button> ${e.label ? label(e.label, e.category) : `<span class="muted">${esc(e.reason)}</span>`}${e.sanctioned ? ` <span class="risk risk-severe">sanctioned</span>` : ""}<br>${link.address(e.address, short(e.address, 8, 6))}</td>
      <td class="num">${btc(e.tainted_sat, "taint")}${e.tainted_usd != null ? `<br><span class="usd small" title="at the daily close of each output's day">${usd(e.tainted_usd)}</span>` : ""}<br><span class="muted small">${esc(e.hops)} hop${e.hops === 1 ? "" : "s"}</span></td></tr>`).join("")}
    </tbody></table>${eps.length > 30 ? `<p class="muted">${eps.length - 30} more in the JSON export.</p>` : ""}
    ${demixTable(t)}`;
  box.querySelectorAll("tr[data-node]").forEach((tr) =>
    tr.addEventListener("click", (ev) => {
      if (ev.target.closest("a")) return;
      const id = state.view === "cluster" ? mapView(tr.dataset.node) : tr.dataset.node;
      const v = cy.getElementById(id);
      if (v.length) {
        cy.elements().unselect();
        v.select();
        cy.animate({ center: { eles: v }, duration: 200 });
        if (ev.target.closest("button")) document.getElementById("gsel").focus();
      }
    }),
  );
}

// showTable fills "Nodes and edges as a table" (when it is open): the text
// alternative of the drawing, each node and edge with its facts in words
// and a button that selects it as a click in the drawing would.
function showTable() {
  const box = document.getElementById("gtablebody");
  if (!box || !document.getElementById("gtable").open) return;
  const name = (id) => {
    const k = id.slice(0, 2), v = id.slice(2);
    if (k === "t:") return link.tx(v, short(v, 8, 6));
    if (k === "a:") return link.address(v, short(v, 8, 6));
    if (k === "c:") return link.cluster(v);
    return esc(short(id, 10, 6));
  };
  const plain = (id) => esc(id.startsWith("c:") ? "cluster " + id.slice(2) : short(id.slice(2), 8, 6));
  const nodes = cy.nodes().map((n) => {
    const d = n.data();
    const role = [d.start ? "start" : "", d.endpoint ? `endpoint${d.endpoint_label ? " " + esc(d.endpoint_label) : ""}` : "", d.note ? "note" : ""].filter(Boolean).join(", ");
    return `<tr><td>${name(d.id)}</td><td>${esc(d.kind)}</td><td>${d.label ? label(d.label, d.category) : d.category ? esc(d.category) : ""}</td><td>${role}</td>
      <td><button type="button" class="small" data-gsel="${esc(d.id)}" aria-label="Select ${esc(d.kind)} ${plain(d.id)}">Select</button></td></tr>`;
  });
  const edges = cy.edges().map((e) => {
    const d = e.data();
    return `<tr><td>${plain(d.source)} → ${plain(d.target)}${d.demix ? ` <span class="pill">inferred</span>` : ""}</td><td class="num">${btc(d.value_sat)}</td>
      <td class="num">${d.tainted_sat ? btc(d.tainted_sat, "taint") : ""}</td><td>${d.txid ? link.tx(d.txid, short(d.txid, 6, 4)) : ""}</td>
      <td><button type="button" class="small" data-gsel="${esc(d.id)}" aria-label="Select flow ${plain(d.source)} to ${plain(d.target)}">Select</button></td></tr>`;
  });
  box.innerHTML = `<table class="list compact" id="gnodes"><caption>${nodes.length} node${nodes.length === 1 ? "" : "s"}</caption>
      <thead><tr><th>Node</th><th>Kind</th><th>Label</th><th>Role</th><th><span class="sr-only">Actions</span></th></tr></thead><tbody>${nodes.join("")}</tbody></table>
    <table class="list compact" id="gedges"><caption>${edges.length} edge${edges.length === 1 ? "" : "s"} (flows)</caption>
      <thead><tr><th>Flow</th><th class="num">Value</th><th class="num">Tainted</th><th>Tx</th><th><span class="sr-only">Actions</span></th></tr></thead><tbody>${edges.join("")}</tbody></table>`;
}

// selectFromTable selects a node or an edge named in the table, as a click
// in the drawing would, and moves the focus to what it shows.
function selectFromTable(id) {
  const v = cy.getElementById(id);
  if (!v.length) return;
  cy.elements().unselect();
  v.select();
  if (v.isEdge()) showEdge(v);
  cy.animate({ center: { eles: v }, duration: 200 });
  document.getElementById("gsel").focus();
}

// demixTable lists the custodial mixer deposits a demixing trace reached:
// what became of each (followed into payouts, or why its taint stayed
// at the mixer).
function demixTable(t) {
  const hits = t.demix ? t.demixes || [] : [];
  return hits.length ? `<h2>Mixer deposits</h2>${mixerDeposits(hits, "gdemixes", 30)}` : "";
}

function mapView(id) {
  const n = state.nodes[id];
  return n && n.kind === "address" && n.cluster_id != null ? "c:" + n.cluster_id : id;
}

// ---- export ------------------------------------------------------------

// xml escapes s for XML text or an attribute; characters XML 1.0 does not
// allow at all (control characters a tag label or a pasted note may hold,
// lone surrogates) become U+FFFD so the document stays well-formed.
function xml(s) {
  return String(s ?? "")
    .replace(/[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")
    .replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]);
}

// csvCell quotes s for CSV; a cell a spreadsheet would run as a formula
// (starting with = + - @, tab or CR) is prefixed with ' to stay text.
function csvCell(s) {
  s = String(s ?? "");
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

// The exports cover the graph as shown (the current view) with the notes.
function viewGraph() {
  const nodes = cy.nodes().map((n) => {
    const d = n.data();
    const m = state.nodes[d.id] || {};
    return {
      id: d.id, kind: d.kind, address: m.address || "", txid: m.txid || "", cluster_id: m.cluster_id ?? null,
      labels: m.labels || (d.label ? [d.label] : []), category: d.category || "", height: m.height ?? null,
      endpoint: d.endpoint ? { label: d.endpoint_label, category: d.endpoint_category } : null, note: state.notes[d.id] || "",
    };
  });
  const edges = cy.edges().map((e) => {
    const d = e.data();
    const x = { from: d.source, to: d.target, txid: d.txid, height: d.height ?? null, value_sat: d.value_sat, tainted_sat: d.tainted_sat };
    if (d.txs > 1) x.txs = d.txs;
    return d.via ? Object.assign(x, demixFacts(d)) : x;
  });
  return { nodes, edges };
}

export function exportJSON() {
  const g = viewGraph();
  const trace = state.trace ? { ...state.trace } : null;
  if (trace) {
    delete trace.nodes;
    delete trace.edges;
  }
  return JSON.stringify({ format: "ransomtrail-graph", version: 1, investigation: state.name, view: state.view, nodes: g.nodes, edges: g.edges, notes: state.notes, trace }, null, 2);
}

export function exportGraphML() {
  const g = viewGraph();
  const nk = [["kind", "string"], ["address", "string"], ["txid", "string"], ["cluster_id", "long"], ["labels", "string"], ["category", "string"], ["height", "long"], ["endpoint_label", "string"], ["note", "string"]];
  const ek = [["txid", "string"], ["height", "long"], ["value_sat", "long"], ["tainted_sat", "long"], ["via", "string"], ["confidence", "double"], ["deposit", "string"], ["ambiguity", "int"], ["txs", "int"]];
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">`,
    ...nk.map(([k, t]) => `  <key id="n_${k}" for="node" attr.name="${k}" attr.type="${t}"/>`),
    ...ek.map(([k, t]) => `  <key id="e_${k}" for="edge" attr.name="${k}" attr.type="${t}"/>`),
    `  <key id="g_investigation" for="graph" attr.name="investigation" attr.type="string"/>`,
    // A graph id is an NMTOKEN (no spaces): the investigation's name, which
    // may have any, is the graph's data.
    `  <graph id="G" edgedefault="directed">`,
    `    <data key="g_investigation">${xml(state.name)}</data>`,
  ];
  for (const n of g.nodes) {
    const v = { ...n, labels: n.labels.join("; "), endpoint_label: n.endpoint ? n.endpoint.label : "" };
    lines.push(`    <node id="${xml(n.id)}">` + nk.filter(([k]) => v[k] !== "" && v[k] != null).map(([k]) => `<data key="n_${k}">${xml(v[k])}</data>`).join("") + `</node>`);
  }
  g.edges.forEach((e, i) => {
    lines.push(`    <edge id="e${i}" source="${xml(e.from)}" target="${xml(e.to)}">` + ek.filter(([k]) => e[k] != null).map(([k]) => `<data key="e_${k}">${xml(e[k])}</data>`).join("") + `</edge>`);
  });
  lines.push(`  </graph>`, `</graphml>`, ``);
  return lines.join("\n");
}

// exportCSV lists the graph's transactions: one row per txid with the value
// and taint that flows through it in the graph. Demixed edges are
// inferences (amount, timing and links back at a custodial mixer), not
// outputs the chain shows: each deposit's inference to a payout
// transaction is a row of its own, inferred=true with its confidence and
// deposit, never summed with the transaction's chain links. A flow between
// two clusters sums several transactions: it is a row of its own too,
// naming the latest transaction, with their number in "transactions" and
// no value in (the flow's value is value_out_sat).
export function exportCSV() {
  const txs = new Map();
  const row = (e, summed) => {
    const inferred = e.via === "demix";
    const k = inferred ? `${e.txid}|${e.via}|${e.deposit || ""}|${e.confidence}` : summed ? `${e.txid}|${e.from}>${e.to}` : e.txid;
    if (!txs.has(k)) {
      txs.set(k, { txid: e.txid, height: null, in_sat: summed ? "" : 0, out_sat: 0, tainted_out_sat: 0, from: new Set(), to: new Set(),
        inferred, confidence: inferred ? e.confidence : "", deposit: inferred ? e.deposit || "" : "", n: summed ? e.txs || 1 : 1, summed });
    }
    return txs.get(k);
  };
  const name = (id) => (id.startsWith("a:") || id.startsWith("t:") ? id.slice(2) : id);
  for (const e of viewGraph().edges) {
    if (!e.txid) continue;
    // A chain edge runs into or out of its transaction's node; one that
    // does not (cluster to cluster) stands for the transactions it sums.
    const summed = !e.via && e.to !== "t:" + e.txid && e.from !== "t:" + e.txid;
    const r = row(e, summed);
    r.height ??= e.height;
    if (summed) {
      r.out_sat += e.value_sat;
      r.tainted_out_sat += e.tainted_sat;
      r.from.add(name(e.from));
      r.to.add(name(e.to));
    } else if (e.to === "t:" + e.txid) {
      r.in_sat += e.value_sat;
      r.from.add(name(e.from));
    } else {
      r.out_sat += e.value_sat;
      r.tainted_out_sat += e.tainted_sat;
      r.to.add(name(e.to));
    }
  }
  const head = "txid,height,value_in_sat,value_out_sat,tainted_out_sat,from,to,note,inferred,confidence,deposit,transactions";
  const rows = [...txs.values()].sort((a, b) => (a.height ?? 0) - (b.height ?? 0) || (a.txid < b.txid ? -1 : a.txid > b.txid ? 1 : 0) || a.inferred - b.inferred || a.summed - b.summed || (a.deposit < b.deposit ? -1 : a.deposit > b.deposit ? 1 : 0) || ([...a.from].join() < [...b.from].join() ? -1 : 1));
  return [head, ...rows.map((r) => [r.txid, r.height ?? "", r.in_sat, r.out_sat, r.tainted_out_sat, [...r.from].join(" "), [...r.to].join(" "), r.summed ? "" : state.notes["t:" + r.txid] || "", r.inferred, r.confidence, r.deposit, r.n].map(csvCell).join(","))].join("\n") + "\n";
}

// ---- page --------------------------------------------------------------

export async function graphPage(el, params, signal) {
  document.title = "Investigation graph";
  const name = params.get("inv") || localStorage.getItem("rt.inv") || "default";
  state = load(name);
  selected = null;
  el.innerHTML = `<h1 class="sr-only">Investigation graph</h1><div class="graphpage">
    <aside class="gside" aria-label="Graph controls">
      <section><h2>Investigation</h2>
        <form id="ginv" class="inline"><input name="inv" list="ginvs" value="${esc(state.name)}" size="14" aria-label="investigation name"><datalist id="ginvs">${invNames().map((n) => `<option value="${esc(n)}">`).join("")}</datalist><button>Open</button></form>
        <p class="muted small">Kept in this browser; notes and graph go with the exports.</p></section>
      <section><h2>Add</h2>
        <form id="gadd" class="inline"><input name="node" placeholder="address, txid or c123" size="20" spellcheck="false" aria-label="node to add"><button class="primary">Add</button></form></section>
      <section><h2 id="gviewh">View</h2>
        <div class="seg" role="radiogroup" aria-labelledby="gviewh"><label><input type="radio" name="gview" value="tx" ${state.view !== "cluster" ? "checked" : ""}> Transactions</label>
        <label><input type="radio" name="gview" value="cluster" ${state.view === "cluster" ? "checked" : ""}> Clusters</label></div></section>
      <section><h2>Trace</h2>
        <form id="gtrace" class="stack">
          <input name="start" placeholder="address, txid or TXID:N" spellcheck="false" aria-label="trace start">
          <div class="inline"><select name="direction" aria-label="direction"><option value="forward">forward</option><option value="backward">backward</option></select>
          <select name="model" aria-label="taint model"><option value="haircut">haircut</option><option value="poison">poison</option><option value="fifo">FIFO</option></select></div>
          <div class="inline"><label>hops <input name="hops" type="number" min="1" max="50" value="6" style="width:4em"></label>
          <label>min BTC <input name="min" type="number" min="0" step="0.00000001" value="0.001" style="width:7em"></label></div>
          <label title="match custodial mixer deposits to payouts that go back to wallets the trace reached (inferred, dashed edges)"><input name="demix" type="checkbox"> demix mixers</label>
          <input name="owner" placeholder="owner label for demixing, e.g. LockBit" spellcheck="false" aria-label="owner label for demixing" title="a label the money's owner is known by (the family a victim's report names): wallets tagged with it count as the owner's when demixing">
          <button class="primary" id="gtracebtn">Run trace</button>
        </form></section>
      <section><h2>Case</h2>
        <form id="gcase" class="stack"><select name="case" aria-label="case"><option value="">choose a case…</option></select>
        <div class="inline"><input name="name" value="${esc(state.name)}" size="14" aria-label="name of the saved graph"><button id="gcasebtn">Save to case</button></div></form>
        <div id="gcasemsg"></div></section>
      <section><h2>Export</h2><div class="btnrow">
        <button type="button" id="gxjson">JSON</button><button type="button" id="gxgraphml">GraphML</button><button type="button" id="gxcsv">CSV of txs</button></div>
        <div class="btnrow"><button type="button" id="gfit">Fit</button><button type="button" id="gclear" class="danger">Clear graph</button></div></section>
      <section class="legend"><h2>Legend</h2>
        <div><i class="dot" style="background:#c0392b" aria-hidden="true"></i>ransomware / sanctions <i class="dot" style="background:#d35400" aria-hidden="true"></i>OTC / mixer</div>
        <div><i class="dot" style="background:#2c7be5" aria-hidden="true"></i>exchange / service <i class="dot" style="background:#5f6b7a" aria-hidden="true"></i>address <i class="sq" aria-hidden="true"></i>tx</div>
        <div>Shapes: circle address, square transaction, hexagon cluster. A labelled node carries its label as text; colour repeats its category.</div>
        <div>thick border: trace endpoint (named, with its tainted BTC); red edges: tainted value, labelled with the amount (width by amount); dashed edges: demixed (inferred, not on chain)</div>
        <div>The same nodes and edges, with their categories and amounts in words, are in “Nodes and edges as a table” on the right.</div></section>
    </aside>
    <div class="gmain"><div class="gbar"><span id="gcount"></span><span id="gstatus"></span></div>
      <div id="cy" class="cy" role="img" aria-label="Investigation graph drawing" aria-describedby="gcount gcydesc"></div>
      <p id="gcydesc" class="sr-only">A drawing for the mouse: “Nodes and edges as a table”, beside it, lists every node and edge with a button that selects it.</p><div id="gempty" class="gempty">Add an address or a transaction to start, or open a page and choose “Open in graph”.</div></div>
    <aside class="gdetail" aria-label="Selection, trace and table"><section id="gsel" tabindex="-1" aria-label="Selection"></section><section id="gtraceout"></section>
      <section id="glist"><details id="gtable"><summary>Nodes and edges as a table</summary><div id="gtablebody"></div></details></section></aside>
  </div>`;
  cy = cytoscape({ container: el.querySelector("#cy"), style, wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 4, boxSelectionEnabled: false });
  window.rt = { cy, state: () => state, exportJSON, exportGraphML, exportCSV };
  // Endpoints and labelled nodes keep readable labels when zoomed out.
  let lastZoom = 0;
  const keepReadable = () => {
    const z = cy.zoom();
    if (Math.abs(z - lastZoom) < 0.02) return;
    lastZoom = z;
    const k = Math.max(1, Math.min(5, 0.9 / z));
    cy.style()
      .selector("node[endpoint = 1]").style({ "font-size": 13 * k, "text-max-width": 340 * k, width: 34 * Math.sqrt(k), height: 34 * Math.sqrt(k) })
      .selector("node[endpoint = 0][labelled = 1]").style({ "font-size": 10 * k, "text-max-width": 260 * k, "min-zoomed-font-size": 0 })
      .update();
  };
  cy.on("zoom", keepReadable);
  cy.on("select", "node", (ev) => showSelection(ev.target.id()));
  el.querySelector("#gtable").addEventListener("toggle", showTable);
  el.querySelector("#gtablebody").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-gsel]");
    if (b) selectFromTable(b.dataset.gsel);
  });
  cy.on("tap", "edge", (ev) => showEdge(ev.target));
  cy.on("tap", (ev) => {
    if (ev.target === cy) showSelection(null);
  });
  const status = el.querySelector("#gstatus");
  const busy = async (what, fn) => {
    status.innerHTML = loading(what);
    try {
      await fn();
      status.innerHTML = "";
    } catch (e) {
      if (e.name !== "AbortError") status.innerHTML = errorBox(e);
    }
  };
  const addStart = async (raw) => {
    const id = nodeId(raw);
    await expand(id, "both", 12);
    if (!state.starts.includes(id)) state.starts.push(id);
    save();
    redraw();
    const v = cy.getElementById(id);
    if (v.length) v.select();
  };
  el.querySelector("#ginv").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const n = ev.target.inv.value.trim();
    if (n) {
      history.replaceState(null, "", "/graph?inv=" + enc(n));
      graphPage(el, new URLSearchParams("inv=" + enc(n)), signal);
    }
  });
  el.querySelector("#gadd").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = ev.target.node.value.trim();
    if (v) busy("Adding", () => addStart(v));
  });
  el.querySelectorAll("input[name=gview]").forEach((r) =>
    r.addEventListener("change", () => {
      state.view = r.value;
      save();
      redraw();
    }),
  );
  el.querySelector("#gtrace").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const s = f.start.value.trim() || (selected && state.nodes[selected] ? state.nodes[selected].address || state.nodes[selected].txid : "");
    if (!s) {
      status.innerHTML = errorBox({ code: "bad_request", message: "choose where the trace starts: type an address or txid, or select a node" });
      return;
    }
    f.start.value = s;
    const param = /^[0-9a-fA-F]{64}:\d+$/.test(s) ? "outpoint" : /^[0-9a-fA-F]{64}$/.test(s) ? "tx" : "address";
    const minSat = Math.max(1, Math.round(Number(f.min.value || 0) * 1e8));
    busy("Tracing", async () => {
      const t = await api(`trace?${param}=${enc(s)}&direction=${f.direction.value}&model=${f.model.value}&hops=${enc(f.hops.value)}&min_sat=${minSat}&max_nodes=400&demix=${f.demix.checked ? "on" : "off"}${f.demix.checked && f.owner.value.trim() ? `&demix_owner=${enc(f.owner.value.trim())}` : ""}`, { signal });
      for (const e of Object.values(state.edges)) e.tainted_sat = 0;
      t.nodes.forEach(addNode);
      addEdges(t.edges, true);
      const sid = param === "tx" ? "t:" + s.toLowerCase() : param === "address" ? "a:" + s : null;
      if (sid && !state.starts.includes(sid)) state.starts.push(sid);
      // The trace's nodes and edges are in the model now; the rest is kept.
      state.trace = { ...t, nodes: undefined, edges: undefined };
      save();
      redraw();
      showTrace();
    });
  });
  const stamp = () => state.name.replace(/[^\w.-]+/g, "_");
  el.querySelector("#gxjson").onclick = () => download(`ransomtrail-${stamp()}.json`, "application/json", exportJSON());
  el.querySelector("#gxgraphml").onclick = () => download(`ransomtrail-${stamp()}.graphml`, "application/graphml+xml", exportGraphML());
  el.querySelector("#gxcsv").onclick = () => download(`ransomtrail-${stamp()}-txs.csv`, "text/csv", exportCSV());
  el.querySelector("#gfit").onclick = () => cy.fit(undefined, 40);
  el.querySelector("#gclear").onclick = () => {
    if (!confirm(`Clear the graph of investigation “${state.name}” (notes are kept)?`)) return;
    Object.assign(state, { nodes: {}, edges: {}, starts: [], trace: null });
    save();
    redraw();
    showTrace();
  };
  // Save the graph shown (and its start addresses) to a case.
  const cf = el.querySelector("#gcase");
  let casesLoaded = null;
  const loadCases = () =>
    (casesLoaded ||= api("cases?limit=1000", { signal })
      .then((r) => {
        cf.case.innerHTML = (r.items || []).length
          ? `<option value="">choose a case…</option>` + r.items.map((c) => `<option value="${esc(c.id)}">${esc(c.name)}</option>`).join("")
          : `<option value="">no case: open one on the Cases page</option>`;
      })
      .catch((e) => {
        casesLoaded = null;
        if (e.name !== "AbortError") el.querySelector("#gcasemsg").innerHTML = errorBox(e);
      }));
  cf.case.addEventListener("focus", loadCases);
  cf.case.addEventListener("pointerdown", loadCases);
  cf.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = el.querySelector("#gcasemsg");
    await loadCases();
    if (!cf.case.value) {
      msg.innerHTML = `<p class="muted small">Choose a case (or open one on the <a href="/cases" data-link>Cases</a> page).</p>`;
      return;
    }
    msg.innerHTML = loading("Saving");
    try {
      const addresses = state.starts.filter((s) => s.startsWith("a:")).map((s) => s.slice(2));
      const c = await api("cases/" + enc(cf.case.value), { method: "PATCH", signal,
        body: { saved: [{ name: cf.name.value.trim() || state.name, kind: "graph", data: JSON.parse(exportJSON()) }], addresses } });
      msg.innerHTML = `<p class="ok small" id="gcaseok">Saved to <a href="/cases/${enc(c.id)}" data-link>${esc(c.name)}</a>.</p>`;
    } catch (e) {
      if (e.name !== "AbortError") msg.innerHTML = errorBox(e);
    }
  });
  redraw();
  showTrace();
  const start = params.get("start");
  const trace = params.get("trace");
  const owner = params.get("owner");
  if (owner) el.querySelector("#gtrace").owner.value = owner;
  if (start || trace || owner) history.replaceState(null, "", "/graph?inv=" + enc(state.name));
  if (start) await busy("Adding " + short(start, 12, 6), () => addStart(start));
  if (trace) {
    // A report's payment output: follow where the money went.
    const f = el.querySelector("#gtrace");
    f.start.value = trace;
    f.direction.value = "forward";
    f.requestSubmit();
  }
}

// openSavedGraph stores a graph saved in a case (the JSON export's
// format) as the investigation NAME and returns the name.
export function openSavedGraph(name, doc) {
  const s = emptyState(name);
  for (const n of (doc && doc.nodes) || []) {
    s.nodes[n.id] = { id: n.id, kind: n.kind, address: n.address || "", txid: n.txid || "", cluster_id: n.cluster_id ?? null,
      labels: n.labels || [], category: n.category || "", height: n.height ?? null, coinjoin: "" };
  }
  for (const e of (doc && doc.edges) || []) {
    s.edges[modelKey(e)] = { from: e.from, to: e.to, txid: e.txid, height: e.height, value_sat: e.value_sat || 0, tainted_sat: e.tainted_sat || 0,
      ...(e.txs > 1 ? { txs: e.txs } : {}), ...(e.via ? demixFacts(e) : {}) };
  }
  s.notes = (doc && doc.notes) || {};
  s.trace = (doc && doc.trace) || null;
  s.view = doc && doc.view === "cluster" ? "cluster" : "tx";
  localStorage.setItem(INV_PREFIX + name, JSON.stringify(s));
  localStorage.setItem("rt.inv", name);
  return name;
}

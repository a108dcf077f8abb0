// Administration pages: the tag sources (the recorded tag imports, with
// upload and removal for admin keys), the tags of one source, and the
// audit log with its hash-chain check.
import { api, esc, enc, h, link, label, category, loading, errorBox, pager, sourceLink } from "./util.js";

const when = (iso) => (iso ? esc(String(iso).replace("T", " ").replace(/(:\d\d)(\.\d+)?Z$/, "$1 UTC")) : "–");
const count = (n, one, many = one + "s") => `${Number(n || 0).toLocaleString("en-US")} ${n === 1 ? one : many}`;
const bytes = (n) => (n ? count(n, "byte") : "");

// adminRole asks the server whether the key in use is an admin's: the
// audit log is read by admin keys only, so one entry of it answers. true
// for an admin, false for a weaker or missing key, null when the server
// did not say (the admin buttons are then shown, and a refusal shows its
// error).
export async function adminRole(signal) {
  try {
    await api("audit?limit=1", { signal });
    return true;
  } catch (e) {
    if (e.name === "AbortError") throw e;
    if (e.status === 403 || e.status === 401) return false;
    return null;
  }
}

// tagSource is the source the tags of an import carry when the import's
// format decides it (tags package): the OFAC lists', Ransomwhere's, an
// address list's ("list " and the file's base name) and a CSV file's
// without a source column (the file's name). "" when the file decides it
// (a TagPack's creator, a CSV's source column) or it holds no tags.
function tagSource(imp) {
  const file = (imp.files[0] || {}).name || "";
  switch (imp.format) {
    case "ofac-sdn-advanced-xml":
    case "ofac-sdn-csv":
      return "OFAC SDN";
    case "ransomwhere-json":
      return "Ransomwhere";
    case "address-list":
      return file ? "list " + file.split(/[\\/]/).pop() : "";
    case "csv":
      return file;
  }
  return "";
}

const tagsLink = (source, text) => `<a href="/tags?source=${enc(source)}" data-link title="${esc("tags of source " + source)}">${esc(text)}</a>`;

function filesCell(imp) {
  return imp.files.map((f) => `<div class="file"><span class="fname">${esc(f.name)}</span>${f.bytes ? ` <span class="muted small">${esc(bytes(f.bytes))}</span>` : ""}</div>`).join("");
}

function rejectedList(rej, limit = 50) {
  if (!rej || !rej.length) return "";
  return `<table class="list compact rejected"><thead><tr><th>Where</th><th>Entry</th><th>Reason</th></tr></thead><tbody>
    ${rej.slice(0, limit).map((r) => `<tr><td>${esc(r.where)}</td><td class="mono">${esc(r.address)}${r.currency ? ` <span class="muted">${esc(r.currency)}</span>` : ""}</td><td>${esc(r.reason)}</td></tr>`).join("")}
    </tbody></table>${rej.length > limit ? `<p class="muted small">${rej.length - limit} more (ransomtrail tags imports --json lists them all).</p>` : ""}`;
}

const notesList = (notes) => (notes && notes.length ? `<ul class="plain notes-list">${notes.map((n) => `<li class="note">${esc(n)}</li>`).join("")}</ul>` : "");

function importRow(imp, admin) {
  const rej = imp.rejected.length;
  return `<tr data-import="${esc(imp.id)}">
    <td class="small">${when(imp.time)}</td>
    <td>${filesCell(imp)}<div class="mono muted small" title="${esc(imp.id)}">${esc(imp.id.slice(0, 16))}</div></td>
    <td>${esc(imp.format)}</td>
    <td class="num">${imp.tags.toLocaleString("en-US")}</td>
    <td class="num">${imp.actors.toLocaleString("en-US")}</td>
    <td class="num">${rej ? `<details><summary>${rej.toLocaleString("en-US")}</summary>${rejectedList(imp.rejected, 20)}</details>` : "0"}</td>
    <td class="small">${notesList(imp.notes)}</td>
    <td class="browse"><span class="muted">–</span></td>
    <td class="acts">${admin !== false ? `<button type="button" class="small danger" data-remove="${esc(imp.id)}">Remove</button>` : ""}</td></tr>`;
}

function reportPanel(r) {
  const byCur = Object.entries(r.tags_by_currency || {}).map(([c, n]) => `${esc(c)} ${n}`).join(", ");
  return `<section class="panel" id="importreport"><div class="kind">Imported</div>
    <h2>${(r.files || []).map((f) => `<span class="fname">${esc(f)}</span>`).join(", ")}</h2>
    <dl class="facts">
      <dt>Import id</dt><dd class="mono">${esc(r.import_id || "")}</dd>
      <dt>Format</dt><dd>${esc(r.format || "")}</dd>
      <dt>Tags</dt><dd id="rep-tags">${r.tags}${byCur ? ` <span class="muted">(${byCur})</span>` : ""}</dd>
      <dt>Actors</dt><dd>${r.actors || 0}</dd>
      <dt>Duplicates merged</dt><dd>${r.duplicates || 0}</dd>
      <dt>Kept newer</dt><dd id="rep-kept">${r.kept_newer || 0} <span class="muted small">designations a newer issue of the list already held</span></dd>
      <dt>Superseded</dt><dd id="rep-superseded">${r.superseded || 0} <span class="muted small">stored tags of an older issue replaced</span></dd>
      <dt>Rejected</dt><dd id="rep-rejected">${(r.rejected || []).length}</dd>
      <dt>Re-screening alerts</dt><dd id="rep-rescreen">${r.rescreen_alerts == null ? `<span class="muted">no monitor on this server</span>` : r.rescreen_alerts}</dd>
    </dl>
    ${rejectedList(r.rejected)}${notesList(r.notes)}</section>`;
}

function removedPanel(r) {
  return `<section class="panel" id="removereport"><div class="kind">Removed</div>
    <h2>${(r.files || []).map((f) => `<span class="fname">${esc(f)}</span>`).join(", ")}</h2>
    <p>Import <span class="mono">${esc(r.import_id)}</span> (${esc(r.format)}) is gone: <b id="rm-removed">${r.tags_removed}</b> of its ${count(r.tags, "tag")} removed${r.tags > r.tags_removed ? `; ${count(r.tags - r.tags_removed, "tag")} stayed because another import also brought them` : ""}.
    ${r.rescreen_alerts == null ? "" : `The watchlist was re-screened: ${count(r.rescreen_alerts, "alert")}.`}</p>${notesList(r.notes)}</section>`;
}

export async function sourcesPage(el, params, signal) {
  document.title = "Tag sources";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Administration</div><h1>Sources</h1>
      <p class="lead">The tag imports this server holds, oldest first: each file's format, how many tags and actors it brought,
      the entries it rejected and the parser's notes. Admin keys import a file or remove an import (its tags that no other import brought go with it);
      both are in the <a href="/audit" data-link>audit log</a>.</p></div></div>
    <div id="importbox"></div>
    <div id="sourcemsg"></div>
    <section class="panel"><div id="imports">${loading()}</div></section>
    <dialog id="removedlg"><form method="dialog"><h3>Remove this import?</h3><div id="removewhat"></div>
      <div class="row"><button value="remove" class="danger-fill" id="confirmremove">Remove</button>
      <button value="cancel" id="cancelremove">Cancel</button></div></form></dialog>`;
  const box = el.querySelector("#imports");
  const msg = el.querySelector("#sourcemsg");
  const dlg = el.querySelector("#removedlg");
  const [admin, list] = await Promise.all([adminRole(signal), api("tags/imports", { signal }).catch((e) => e)]);
  document.body.dataset.admin = admin === true ? "yes" : admin === false ? "no" : "unknown";
  if (admin !== false) {
    const form = h(`<form id="importform" class="panel inline">
      <label>Tag file <input type="file" name="file" required></label>
      <button class="primary" id="importbtn">Import</button>
      <span class="muted small">OFAC SDN XML, CSV, TagPack, ActorPack, Ransomwhere JSON, address lists (the format is read from the content;
      the SDN CSV pair is imported with <code>ransomtrail tags import</code>). Admin keys only.</span></form>`);
    el.querySelector("#importbox").appendChild(form);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = form.file.files[0];
      if (!file) return;
      const btn = form.querySelector("button");
      btn.disabled = true;
      msg.innerHTML = loading("Importing " + file.name);
      try {
        const r = await api("tags/import?name=" + enc(file.name), { method: "POST", raw: file, type: "application/octet-stream" });
        msg.innerHTML = reportPanel(r);
        form.reset();
        await load();
      } catch (e) {
        msg.innerHTML = errorBox(e);
      } finally {
        btn.disabled = false;
      }
    });
  }
  let imports = [];
  async function load(pre) {
    let r = pre;
    try {
      if (!r) r = await api("tags/imports", { signal });
      if (r instanceof Error) throw r;
    } catch (e) {
      if (e.name !== "AbortError") box.innerHTML = errorBox(e);
      return;
    }
    imports = r.imports || [];
    box.innerHTML = `<table class="list" id="importlist"><thead><tr><th>Imported</th><th>Files</th><th>Format</th><th class="num">Tags</th>
      <th class="num">Actors</th><th class="num">Rejected</th><th>Notes</th><th>Browse</th><th><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${imports.map((imp) => importRow(imp, admin)).join("")}</tbody></table>
      ${imports.length ? "" : `<p class="muted">No tag import yet.</p>`}`;
    // A browse link where the format names the source and tags of it are
    // stored (a source may hold the tags of several imports: two issues
    // of the OFAC list).
    const seen = new Map();
    await Promise.all(imports.map(async (imp) => {
      const src = tagSource(imp);
      if (!src) return;
      if (!seen.has(src)) seen.set(src, api("tags?limit=1&source=" + enc(src), { signal }).then((p) => (p.items || []).length > 0, () => false));
      if (!(await seen.get(src))) return;
      const cell = box.querySelector(`tr[data-import="${CSS.escape(imp.id)}"] td.browse`);
      if (cell) cell.innerHTML = tagsLink(src, "tags of " + src);
    }));
  }
  box.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-remove]");
    if (!b) return;
    const imp = imports.find((x) => x.id === b.dataset.remove);
    if (!imp) return;
    dlg.dataset.id = imp.id;
    el.querySelector("#removewhat").innerHTML = `<p>The import of ${imp.files.map((f) => `<b class="fname">${esc(f.name)}</b>`).join(" + ")}
      (${esc(imp.format)}, imported ${when(imp.time)}) holds <b id="removecount">${count(imp.tags, "tag")}</b>${imp.actors ? ` and ${count(imp.actors, "actor")}` : ""}.</p>
      <p>Its tags that no other import also brought are deleted; screening follows at once and the watchlist is re-screened. The removal is audited.</p>`;
    dlg.returnValue = "";
    dlg.showModal();
  });
  dlg.addEventListener("close", async () => {
    if (dlg.returnValue !== "remove") return;
    const id = dlg.dataset.id;
    const row = box.querySelector(`tr[data-import="${CSS.escape(id)}"]`);
    row?.querySelectorAll("button").forEach((x) => (x.disabled = true));
    msg.innerHTML = loading("Removing");
    try {
      const r = await api("tags/imports/" + enc(id), { method: "DELETE" });
      msg.innerHTML = removedPanel(r);
      await load();
    } catch (e) {
      row?.querySelectorAll("button").forEach((x) => (x.disabled = false));
      msg.innerHTML = errorBox(e);
    }
  });
  await load(list);
}

// tagsPage lists the stored tags of one source (?source=), paged.
export async function tagsPage(el, params, signal) {
  const source = params.get("source") || "";
  const cat = params.get("category") || "";
  document.title = source ? "Tags of " + source : "Tags";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Tags</div><h1>${source ? `Tags of <span class="fname">${esc(source)}</span>` : "All tags"}</h1>
      ${cat ? `<p>Category ${category(cat)}</p>` : ""}</div>
      <div class="actions"><a class="btn" href="/sources" data-link>Sources</a></div></div>
    <section class="panel" id="tags"></section>`;
  const q = [source ? "source=" + enc(source) : "", cat ? "category=" + enc(cat) : ""].filter(Boolean).join("&");
  await pager(el.querySelector("#tags"), {
    head: `<tr><th>Subject</th><th>Label</th><th>Source</th><th>Confidence</th><th>Date</th><th>Description</th></tr>`,
    fetch: (c) => api(`tags?limit=100${q ? "&" + q : ""}${c ? "&cursor=" + enc(c) : ""}`, { signal }),
    row: (t) => `<tr><td>${t.address ? link.address(t.address) : t.cluster_id != null ? link.cluster(t.cluster_id) : ""} <span class="muted small">${esc(t.currency)}</span></td>
      <td>${label(t.label, t.category)}${t.actor_label || t.actor ? `<div class="muted small">actor ${esc(t.actor_label || t.actor)}</div>` : ""}</td>
      <td>${sourceLink(t.source, t.source_url)}</td><td>${t.confidence}${t.authoritative ? " (authoritative)" : ""}</td>
      <td class="small">${esc(t.date || "")}</td><td class="small">${esc(t.description || "")}</td></tr>`,
    empty: "No tag of this source.",
  });
}

// objectLink links an audit entry's object to its page where the UI has one.
function objectCell(obj) {
  const s = String(obj || "");
  const i = s.indexOf(":");
  const kind = s.slice(0, i);
  const id = s.slice(i + 1);
  const page = { report: "/reports/", case: "/cases/" }[kind];
  if (i > 0 && page && id) return `<a href="${page}${enc(id)}" data-link class="mono">${esc(s)}</a>`;
  if (kind === "tags") return `<a href="/sources" data-link class="mono" title="${esc(s)}">${esc(s.length > 30 ? s.slice(0, 30) + "…" : s)}</a>`;
  return `<span class="mono">${esc(s)}</span>`;
}

export async function auditPage(el, params, signal) {
  document.title = "Audit log";
  el.innerHTML = `<div class="pagehead"><div><div class="kind">Administration</div><h1>Audit log</h1>
      <p class="lead">Who did what, in sequence order (oldest first): every change the server audits (tag imports and removals,
      reports, cases, exports…), with the API key's name as the actor. Each entry holds the hash of the one before it; the check
      reads the whole chain. Admin keys only.</p></div>
      <div class="actions"><button type="button" id="verifyaudit">Verify chain</button></div></div>
    <div id="verifymsg"></div>
    <section class="panel" id="audit"></section>`;
  const vmsg = el.querySelector("#verifymsg");
  el.querySelector("#verifyaudit").addEventListener("click", async (ev) => {
    const b = ev.currentTarget;
    b.disabled = true;
    vmsg.innerHTML = loading("Checking the hash chain");
    try {
      const r = await api("audit/verify", { signal });
      vmsg.innerHTML = r.ok
        ? `<p class="panel ok" id="chainok">Chain intact: ${count(r.entries, "entry", "entries")}, head <span class="mono">${esc(r.head || "–")}</span>.</p>`
        : `<div class="error" role="alert" id="chainbroken"><b>Chain broken</b> at entry ${esc(r.break ? r.break.seq : "?")}: ${esc(r.break ? r.break.reason : "")}
          (${count(r.entries, "entry", "entries")} checked before it).</div>`;
    } catch (e) {
      if (e.name !== "AbortError") vmsg.innerHTML = errorBox(e);
    } finally {
      b.disabled = false;
    }
  });
  await pager(el.querySelector("#audit"), {
    head: `<tr><th class="num">Seq</th><th>Time</th><th>Actor</th><th>Action</th><th>Object</th><th>Detail</th></tr>`,
    fetch: (c) => api(`audit?limit=100${c ? "&cursor=" + enc(c) : ""}`, { signal }),
    row: (a) => `<tr data-seq="${esc(a.seq)}"><td class="num">${esc(a.seq)}</td><td class="small">${when(a.time)}</td>
      <td class="actor">${esc(a.actor)}</td><td class="action">${esc(a.action)}</td><td class="object">${objectCell(a.object)}</td>
      <td class="small detail">${esc(a.detail || "")}</td></tr>`,
    empty: "The audit log is empty.",
  });
}

// Charts drawn as plain SVG: horizontal bars, columns over time and an
// origin × target matrix, each with axis labels and the values written.

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// ticks returns about n round tick values from 0 to max.
function ticks(max, n = 4, integer = false) {
  if (!(max > 0)) return [0, 1];
  const raw = integer ? Math.max(1, max / n) : max / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = 0; v <= max + step * 0.001; v += step) out.push(v);
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
  return out;
}

function compact(v, fmt) {
  const s = fmt(v);
  return s.length > 9 && v >= 1000 ? s.replace(/[\d,.]+/, (m) => {
    const n = Number(m.replace(/,/g, ""));
    return n >= 1e9 ? (n / 1e9).toFixed(1) + "B" : n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : (n / 1e3).toFixed(0) + "k";
  }) : s;
}

function frame(title, w, h) {
  const fig = document.createElement("figure");
  fig.className = "chart";
  const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": title });
  svg.appendChild(el("title", {}, title));
  fig.appendChild(svg);
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  fig.prepend(cap);
  return [fig, svg];
}

// barChart draws one horizontal bar per row ({key, value}), largest
// scale at the right, the value at the end of each bar.
export function barChart(rows, { title, xLabel, fmt = String, color = "#2c7be5", integer = false }) {
  rows = rows.slice(0, 20);
  const left = 170, right = 80, top = 10, barH = 22, gap = 6, bottom = 44, w = 560;
  const h = top + rows.length * (barH + gap) + bottom;
  const [fig, svg] = frame(title, w, h);
  const max = Math.max(0, ...rows.map((r) => r.value));
  const tk = ticks(max, 4, integer);
  const top2 = tk[tk.length - 1] || 1;
  const x = (v) => left + ((w - left - right) * v) / top2;
  const axisY = top + rows.length * (barH + gap);
  for (const t of tk) {
    svg.appendChild(el("line", { x1: x(t), x2: x(t), y1: top - 4, y2: axisY, class: "grid" }));
    svg.appendChild(el("text", { x: x(t), y: axisY + 14, "text-anchor": "middle", class: "tick" }, compact(t, fmt)));
  }
  svg.appendChild(el("line", { x1: left, x2: left, y1: top - 4, y2: axisY, class: "axis" }));
  svg.appendChild(el("line", { x1: left, x2: w - right, y1: axisY, y2: axisY, class: "axis" }));
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const g = el("g", { class: "bar", "data-key": r.key, "data-value": r.value });
    g.appendChild(el("title", {}, `${r.key}: ${fmt(r.value)}`));
    g.appendChild(el("text", { x: left - 8, y: y + barH / 2 + 4, "text-anchor": "end", class: "cat" }, r.key.length > 24 ? r.key.slice(0, 23) + "…" : r.key));
    g.appendChild(el("rect", { x: left, y, width: Math.max(1, x(r.value) - left), height: barH, fill: color, rx: 2 }));
    g.appendChild(el("text", { x: x(r.value) + 5, y: y + barH / 2 + 4, class: "val" }, fmt(r.value)));
    svg.appendChild(g);
  });
  svg.appendChild(el("text", { x: left + (w - left - right) / 2, y: h - 8, "text-anchor": "middle", class: "axislabel" }, xLabel));
  return fig;
}

// columnChart draws one column per row in order (months), the value on
// top of each column and the key under it.
export function columnChart(rows, { title, xLabel, yLabel, fmt = String, color = "#2c7be5", integer = false }) {
  const left = 70, right = 16, top = 22, bottom = 64, h = 300;
  const colW = Math.max(14, Math.min(48, 480 / Math.max(1, rows.length)));
  const w = Math.max(560, left + right + rows.length * (colW + 6));
  const [fig, svg] = frame(title, w, h);
  const max = Math.max(0, ...rows.map((r) => r.value));
  const tk = ticks(max, 4, integer);
  const top2 = tk[tk.length - 1] || 1;
  const axisY = h - bottom;
  const y = (v) => axisY - ((axisY - top) * v) / top2;
  for (const t of tk) {
    svg.appendChild(el("line", { x1: left, x2: w - right, y1: y(t), y2: y(t), class: "grid" }));
    svg.appendChild(el("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end", class: "tick" }, compact(t, fmt)));
  }
  svg.appendChild(el("line", { x1: left, x2: left, y1: top, y2: axisY, class: "axis" }));
  svg.appendChild(el("line", { x1: left, x2: w - right, y1: axisY, y2: axisY, class: "axis" }));
  rows.forEach((r, i) => {
    const cx = left + 6 + i * (colW + 6);
    const g = el("g", { class: "bar", "data-key": r.key, "data-value": r.value });
    g.appendChild(el("title", {}, `${r.key}: ${fmt(r.value)}`));
    g.appendChild(el("rect", { x: cx, y: y(r.value), width: colW, height: Math.max(1, axisY - y(r.value)), fill: color, rx: 2 }));
    g.appendChild(el("text", { x: cx + colW / 2, y: y(r.value) - 4, "text-anchor": "middle", class: "val" }, compact(r.value, fmt)));
    g.appendChild(el("text", { x: cx + colW / 2, y: axisY + 12, "text-anchor": "end", transform: `rotate(-45 ${cx + colW / 2} ${axisY + 12})`, class: "cat" }, r.key));
    svg.appendChild(g);
  });
  svg.appendChild(el("text", { x: left + (w - left - right) / 2, y: h - 6, "text-anchor": "middle", class: "axislabel" }, xLabel));
  svg.appendChild(el("text", { x: 14, y: top + (axisY - top) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${top + (axisY - top) / 2})`, class: "axislabel" }, yLabel));
  return fig;
}

// matrixChart draws cells ({origin, target, payments, usd}) in a grid of
// origins (rows) × targets (columns), shaded by USD, with the payments
// and USD written in each cell.
export function matrixChart(cells, { rowLabel, colLabel, fmt = String }) {
  const rowsK = [...new Set(cells.map((c) => c.origin))].sort();
  const colsK = [...new Set(cells.map((c) => c.target))].sort();
  const left = 120, top = 58, cw = 92, ch = 40;
  const w = left + colsK.length * cw + 20, h = top + rowsK.length * ch + 20;
  const [fig, svg] = frame(`${rowLabel} × ${colLabel}`, Math.max(w, 320), h);
  const max = Math.max(1, ...cells.map((c) => c.usd));
  svg.appendChild(el("text", { x: left + (colsK.length * cw) / 2, y: 16, "text-anchor": "middle", class: "axislabel" }, colLabel + " →"));
  svg.appendChild(el("text", { x: 8, y: top - 8, class: "axislabel" }, rowLabel + " ↓"));
  colsK.forEach((k, j) => svg.appendChild(el("text", { x: left + j * cw + cw / 2, y: top - 10, "text-anchor": "middle", class: "cat" }, k)));
  rowsK.forEach((k, i) => svg.appendChild(el("text", { x: left - 8, y: top + i * ch + ch / 2 + 4, "text-anchor": "end", class: "cat" }, k)));
  for (const c of cells) {
    const i = rowsK.indexOf(c.origin), j = colsK.indexOf(c.target);
    const a = 0.12 + 0.78 * Math.sqrt(c.usd / max);
    const g = el("g", { class: "cell", "data-origin": c.origin, "data-target": c.target });
    g.appendChild(el("title", {}, `${c.origin} → ${c.target}: ${c.payments} payment(s), ${fmt(c.usd)}`));
    g.appendChild(el("rect", { x: left + j * cw + 1, y: top + i * ch + 1, width: cw - 2, height: ch - 2, fill: `rgba(192,57,43,${a.toFixed(3)})`, rx: 3 }));
    g.appendChild(el("text", { x: left + j * cw + cw / 2, y: top + i * ch + 16, "text-anchor": "middle", class: a > 0.55 ? "val inv" : "val" }, `${c.payments} paid`));
    g.appendChild(el("text", { x: left + j * cw + cw / 2, y: top + i * ch + 31, "text-anchor": "middle", class: a > 0.55 ? "val inv small" : "val small" }, compact(c.usd, fmt)));
    svg.appendChild(g);
  }
  return fig;
}

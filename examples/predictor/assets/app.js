// The predictor's live page: polls /api/summary every 2 s and renders it (docs/predictor.md).
// Plain DOM and <canvas>, no library. Every number has an `id` or a `data-field` and its raw
// value in `data-value`; the text is the same number formatted for people.
"use strict";

const SUMMARY_URL = "/api/summary";
const POLL_MS = 2000;
const FETCH_TIMEOUT_MS = 5000;
// Until /api/summary says (drift_min_window), the library default.
const DEFAULT_DRIFT_MIN_WINDOW = 500;
const HISTORY_MS = 10 * 60 * 1000;
const MIN_SPAN_MS = 60 * 1000;

const state = { summary: null, lastOk: null };

// With --protect-details the summary needs the operator token. It is given once in the
// address as `/#token=...` (a fragment never leaves the browser: not in server logs nor in
// a Referer), kept for this tab in sessionStorage, and removed from the address bar.
const TOKEN_KEY = "predictor-token";
function takeToken() {
  const match = /(?:^#|&)token=([^&]*)/.exec(window.location.hash);
  if (match) {
    try { sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1])); } catch (_) { /* storage off */ }
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
}
function tokenHeaders() {
  let token = null;
  try { token = sessionStorage.getItem(TOKEN_KEY); } catch (_) { /* storage off */ }
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// ---- formatting -------------------------------------------------------------------------

const isNum = (v) => typeof v === "number" && Number.isFinite(v);

function fmtInt(v) {
  return isNum(v) ? Math.round(v).toLocaleString("en-US") : "–";
}

function fmtFixed(v, digits) {
  return isNum(v) ? v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–";
}

function fmtMs(v) {
  if (!isNum(v)) return "–";
  if (v < 10) return fmtFixed(v, 2);
  if (v < 100) return fmtFixed(v, 1);
  return fmtInt(v);
}

function fmtDuration(seconds) {
  if (!isNum(seconds)) return "–";
  let s = Math.floor(seconds);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${pad(h)}h ${pad(m)}m`;
  if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

function fmtClock(ms) {
  return new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
}

// ---- DOM helpers ------------------------------------------------------------------------

/** Sets an element's text and its raw `data-value` (empty for a missing value). */
function setValue(el, raw, text) {
  if (!el) return;
  el.textContent = text;
  el.dataset.value = raw === null || raw === undefined ? "" : String(raw);
}

function setById(id, raw, text) {
  setValue(document.getElementById(id), raw, text);
}

/** Creates an element: `h("span", {class: "x", dataset: {...}}, child, "text", ...)`. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "class") el.className = value;
    else if (key === "style") el.setAttribute("style", value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Only relative paths and http(s) URLs become links. */
function safeHref(url) {
  if (typeof url !== "string" || url === "") return null;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (_) {
    return null;
  }
}

function setLink(id, url) {
  const el = document.getElementById(id);
  const href = safeHref(url);
  if (href) {
    el.href = href;
    el.hidden = false;
    if (!href.startsWith("/")) { el.target = "_blank"; el.rel = "noopener noreferrer"; }
  } else if (id === "link-jaeger" || id === "link-grafana") {
    el.hidden = true;
  }
}

// ---- rendering --------------------------------------------------------------------------

function statusClass(status) {
  switch (status) {
    case "ok": return "badge-ok";
    case "degraded": case "insufficient_data": return "badge-warn";
    case "not_ready": case "drift": return "badge-bad";
    default: return "badge-neutral";
  }
}

function errorLevel(percent) {
  if (!isNum(percent)) return "";
  if (percent < 5) return "ok";
  if (percent < 10) return "warn";
  return "bad";
}

const LEVEL_TEXT = { ok: "healthy", warn: "elevated (≥ 5 %)", bad: "high (≥ 10 %)" };

function renderService(s) {
  setById("service-name", s.service, s.service || "–");
  setById("service-version", s.version, s.version || "–");
  const status = document.getElementById("service-status");
  setValue(status, s.status, (s.status || "unknown").replace(/_/g, " "));
  status.className = `badge ${statusClass(s.status)}`;
  document.title = `${s.service || "predictor"} · ${s.status || "unknown"}`;
  setById("uptime", s.uptime_seconds, fmtDuration(s.uptime_seconds));

  const r = s.requests || {};
  setById("requests-total", r.total, fmtInt(r.total));
  setById("requests-failed", r.failed, fmtInt(r.failed));
  setById("request-rate", r.rate_per_second, fmtFixed(r.rate_per_second, 1));
  setById("error-rate", r.error_rate_percent, fmtFixed(r.error_rate_percent, 2));
  setById("client-errors", r.client_errors, fmtInt(r.client_errors));
  setById("client-error-rate", r.client_error_rate_percent, fmtFixed(r.client_error_rate_percent, 2));
  const level = errorLevel(r.error_rate_percent);
  document.getElementById("error-rate-kpi").dataset.level = level;
  setById("error-level", level, LEVEL_TEXT[level] || "–");

  const l = s.latency_ms || {};
  setById("latency-p50", l.p50, fmtMs(l.p50));
  setById("latency-p95", l.p95, fmtMs(l.p95));
  setById("latency-p99", l.p99, fmtMs(l.p99));
  setById("latency-window", l.window_seconds, fmtInt(l.window_seconds));

  const sys = s.system || {};
  setById("cpu-percent", sys.cpu_percent, fmtFixed(sys.cpu_percent, 1));
  setById("memory-mb", sys.memory_mb, fmtFixed(sys.memory_mb, 1));

  const links = s.links || {};
  setLink("link-metrics", links.metrics || "/metrics");
  setLink("link-health", links.health || "/health/detailed");
  setLink("link-jaeger", links.jaeger);
  setLink("link-grafana", links.grafana);
}

/** An element holding one number of one model version. */
function field(m, name, raw, text, tag = "span", extra = {}) {
  const attrs = Object.assign({}, extra, {
    dataset: Object.assign({ model: m.name, version: m.version, field: name, value: raw === null || raw === undefined ? "" : String(raw) }, extra.dataset || {}),
  });
  return h(tag, attrs, text);
}

function renderClassMix(m) {
  const mix = m.class_mix || {};
  const labels = Object.keys(mix);
  if (labels.length === 0) return [h("p", { class: "drift-note" }, "No predictions yet.")];
  const total = labels.reduce((sum, label) => sum + (isNum(mix[label]) ? mix[label] : 0), 0);
  return labels.map((label) => {
    const count = mix[label];
    const share = total > 0 ? (100 * count) / total : 0;
    return h("div", { class: "mix-row" },
      h("span", {}, label),
      h("div", { class: "mix-track", role: "meter", "aria-label": `${label} share`, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": share.toFixed(1) },
        h("div", { class: "mix-fill", style: `width: ${share.toFixed(2)}%` })),
      h("span", { class: "mix-count" },
        field(m, "class-count", count, fmtInt(count), "span", { dataset: { label } }),
        ` · ${fmtFixed(share, 0)}%`));
  });
}

function renderDrift(m) {
  const drift = Array.isArray(m.drift) ? m.drift : [];
  const status = m.drift_status;
  if (status === "not_monitored") {
    return h("div", { class: "drift" }, h("h4", {}, "Feature drift"),
      h("p", { class: "drift-note" }, "Not monitored: this version has no drift reference."));
  }
  if (drift.length === 0) {
    const n = isNum(m.drift_window) ? m.drift_window : 0;
    const min = isNum(m.drift_min_window) && m.drift_min_window > 0 ? m.drift_min_window : DEFAULT_DRIFT_MIN_WINDOW;
    const pct = Math.min(100, (100 * n) / min);
    return h("div", { class: "drift" }, h("h4", {}, "Feature drift"),
      h("p", { class: "drift-note" }, "collecting data (",
        field(m, "drift-window", m.drift_window, fmtInt(n)), ` of ${fmtInt(min)})`),
      h("div", { class: "progress", role: "progressbar", "aria-label": "Drift window filled", "aria-valuemin": 0, "aria-valuemax": min, "aria-valuenow": n },
        h("div", { style: `width: ${pct.toFixed(1)}%` })));
  }
  const rows = drift.map((d) =>
    h("tr", {},
      h("th", { scope: "row" }, d.feature),
      h("td", { class: "n" }, field(m, "psi", d.psi, fmtFixed(d.psi, 3), "span", { dataset: { feature: d.feature } })),
      h("td", {}, field(m, "drift-detected", d.detected, d.detected ? "drift" : "ok", "span",
        { class: `flag ${d.detected ? "flag-bad" : "flag-ok"}`, dataset: { feature: d.feature } }))));
  return h("div", { class: "drift" },
    h("table", {},
      h("caption", {}, "Feature drift (window ",
        field(m, "drift-window", m.drift_window, fmtInt(m.drift_window)), ")"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Feature"), h("th", { scope: "col", class: "n" }, "PSI"), h("th", { scope: "col" }, "Detected"))),
      h("tbody", {}, rows)));
}

function renderModel(m) {
  const titleId = `model-${m.name}-${m.version}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const loaded = m.loaded === true;
  return h("article", { class: "model", "aria-labelledby": titleId, dataset: { model: m.name, version: m.version } },
    h("div", { class: "model-head" },
      h("h3", { id: titleId }, m.name, " ", h("span", { class: "muted" }, m.version)),
      field(m, "loaded", m.loaded, loaded ? "loaded" : "not loaded", "span", { class: `badge ${loaded ? "badge-ok" : "badge-bad"}` }),
      h("span", { class: "spacer" }),
      h("span", { class: "muted" }, "drift"),
      field(m, "drift-status", m.drift_status, (m.drift_status || "unknown").replace(/_/g, " "), "span", { class: `badge ${statusClass(m.drift_status)}` })),
    h("div", {},
      h("dl", { class: "model-stats" },
        h("dt", {}, "Predictions"), h("dd", {}, field(m, "predictions", m.predictions, fmtInt(m.predictions))),
        h("dt", {}, "Mean confidence"), h("dd", {}, field(m, "mean-confidence", m.mean_confidence, fmtFixed(m.mean_confidence, 3)))),
      h("h4", {}, "Class mix"),
      renderClassMix(m)),
    renderDrift(m));
}

function renderModels(models) {
  const container = document.getElementById("models");
  const list = Array.isArray(models) ? models : [];
  container.replaceChildren(...(list.length > 0
    ? list.map(renderModel)
    : [h("p", { class: "muted" }, "No model registered.")]));
}

// ---- charts -----------------------------------------------------------------------------

function niceMax(v) {
  if (!(v > 0)) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(v)));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * exp >= v) return step * exp;
  }
  return 10 * exp;
}

/**
 * Draws line series over time on a canvas, sized for the device pixel ratio.
 * `series`: [{values: [[t, y|null], ...], color}]; `opts`: {yMax?, format}.
 */
function drawChart(canvas, series, opts) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (width === 0 || height === 0) return;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const css = getComputedStyle(document.documentElement);
  const muted = css.getPropertyValue("--muted").trim() || "#555";
  const grid = css.getPropertyValue("--border").trim() || "#ddd";
  const points = series.flatMap((s) => s.values.filter(([, y]) => isNum(y)));
  const times = series.flatMap((s) => s.values.map(([t]) => t)).filter(isNum);
  const tMax = times.length ? Math.max(...times) : Date.now();
  // The last 10 minutes; a younger service's history fills the width (at least 1 minute).
  const span = times.length ? Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, tMax - Math.min(...times))) : HISTORY_MS;
  const tMin = tMax - span;
  const yMax = opts.yMax !== undefined ? opts.yMax : niceMax(Math.max(0, ...points.map(([, y]) => y)) * 1.1);

  ctx.font = "11px system-ui, sans-serif";
  const ticks = [0, 1, 2, 3, 4].map((i) => (yMax * i) / 4);
  const labelWidth = Math.max(...ticks.map((v) => ctx.measureText(opts.format(v)).width));
  const pad = { left: Math.ceil(labelWidth) + 10, right: 26, top: 8, bottom: 22 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const x = (t) => pad.left + ((t - tMin) / (tMax - tMin)) * plotW;
  const y = (v) => pad.top + plotH - (v / yMax) * plotH;

  ctx.lineWidth = 1;
  ctx.strokeStyle = grid;
  ctx.fillStyle = muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of ticks) {
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pad.left, yy);
    ctx.lineTo(pad.left + plotW, yy);
    ctx.stroke();
    ctx.fillText(opts.format(v), pad.left - 6, yy);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const short = span <= 3 * MIN_SPAN_MS;
  for (let i = 0; i <= 5; i++) {
    const t = tMin + (span * i) / 5;
    const label = new Date(t).toLocaleTimeString("en-GB", short
      ? { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }
      : { hour: "2-digit", minute: "2-digit", hour12: false });
    ctx.fillText(label, Math.min(Math.max(x(t), pad.left + 14), pad.left + plotW - 14), pad.top + plotH + 6);
  }

  if (points.length === 0) {
    ctx.textBaseline = "middle";
    ctx.fillText("no data yet", pad.left + plotW / 2, pad.top + plotH / 2);
    return;
  }
  ctx.save();
  ctx.beginPath();
  ctx.rect(pad.left - 4, pad.top - 4, plotW + 8, plotH + 8);
  ctx.clip();
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 2;
    ctx.lineJoin = "round";
    ctx.beginPath();
    let drawing = false;
    for (const [t, v] of s.values) {
      if (!isNum(v)) { drawing = false; continue; }
      if (drawing) ctx.lineTo(x(t), y(v)); else ctx.moveTo(x(t), y(v));
      drawing = true;
    }
    ctx.stroke();
    // A lone point (first sample, or between gaps) is drawn as a dot.
    const values = s.values;
    values.forEach(([t, v], i) => {
      const prev = i > 0 ? values[i - 1][1] : null;
      const next = i + 1 < values.length ? values[i + 1][1] : null;
      if (isNum(v) && !isNum(prev) && !isNum(next)) {
        ctx.beginPath();
        ctx.arc(x(t), y(v), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
    });
  }
  ctx.restore();
}

function renderCharts(history) {
  const h = Array.isArray(history) ? history : [];
  const css = getComputedStyle(document.documentElement);
  const color = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const latency = document.getElementById("chart-latency");
  drawChart(latency, [
    { values: h.map((p) => [p.t, p.p50_ms]), color: color("--p50", "#1f5fbf") },
    { values: h.map((p) => [p.t, p.p99_ms]), color: color("--p99", "#c2410c") },
  ], { format: (v) => `${fmtMs(v)} ms` });
  const confidence = document.getElementById("chart-confidence");
  drawChart(confidence, [
    { values: h.map((p) => [p.t, p.mean_confidence]), color: color("--conf", "#6d28d9") },
  ], { yMax: 1, format: (v) => fmtFixed(v, 2) });

  const last = [...h].reverse();
  const lastOf = (key) => (last.find((p) => isNum(p[key])) || {})[key];
  latency.setAttribute("aria-label", h.length
    ? `Latency, ${h.length} five-second samples of the last 10 minutes; latest p50 ${fmtMs(lastOf("p50_ms"))} ms, p99 ${fmtMs(lastOf("p99_ms"))} ms`
    : "Latency chart: no data yet");
  confidence.setAttribute("aria-label", h.length
    ? `Mean confidence, ${h.length} five-second samples of the last 10 minutes; latest ${fmtFixed(lastOf("mean_confidence"), 3)}`
    : "Confidence chart: no data yet");
}

// ---- polling ----------------------------------------------------------------------------

function render(summary) {
  renderService(summary);
  renderModels(summary.models);
  renderCharts(summary.history);
}

function showError(message) {
  document.body.dataset.state = "error";
  const banner = document.getElementById("error-banner");
  const since = state.lastOk ? ` Showing data from ${fmtClock(state.lastOk)}.` : "";
  banner.textContent = `Cannot load ${SUMMARY_URL}: ${message}. Retrying every ${POLL_MS / 1000} s.${since}`;
  banner.hidden = false;
}

async function poll() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const headers = { Accept: "application/json", ...tokenHeaders() };
    const response = await fetch(SUMMARY_URL, { cache: "no-store", signal: controller.signal, headers });
    if (response.status === 401) {
      throw new Error("HTTP 401: this service protects its summary; open the page as /#token=<the metrics token>");
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const summary = await response.json();
    state.summary = summary;
    state.lastOk = Date.now();
    render(summary);
    setById("last-updated", state.lastOk, fmtClock(state.lastOk));
    document.getElementById("last-updated").dateTime = new Date(state.lastOk).toISOString();
    document.getElementById("error-banner").hidden = true;
    document.body.dataset.state = "ok";
  } catch (error) {
    showError(error.name === "AbortError" ? "timed out" : error.message || String(error));
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_MS);
  }
}

window.addEventListener("resize", () => {
  if (state.summary) renderCharts(state.summary.history);
});

takeToken();
poll();

// Statistics and alerts: the health overview, success rate and latency percentiles
// per window, the breakdown by kind and status, errors by outcome (over the alerts and
// status changes shown), open and resolved alerts.
import { api, query } from "./api.js";
import { formatTime, h, render, statusBadge } from "./dom.js";

const percent = (v) => (v === null || v === undefined ? "—" : `${(100 * v).toFixed(1)}%`);
const ms = (v) => (v === null || v === undefined ? "—" : `${v.toFixed(1)} ms`);

export async function show(main) {
  const [summary, stats, open, resolved] = await Promise.all([
    api("/api/connections/health/summary"),
    api("/api/connections/stats"),
    api(`/api/connections/health/alerts${query({ state: "open" })}`),
    api(`/api/connections/health/alerts${query({ state: "resolved", limit: 20 })}`),
  ]);
  render(main, h("h1", {}, "Statistics and alerts"),
    h("h2", {}, "Health overview"),
    h("ul", { class: "counts", "aria-label": "Connections by status" },
      Object.entries(summary.by_status).map(([s, n]) => h("li", {}, statusBadge(s), `: ${n}`))),
    h("h2", {}, "Checks"),
    table(["Window", "Checks", "Failures", "Success rate", "Uptime", "p50", "p95", "p99"],
      Object.entries(stats.windows).map(([window, w]) => [window, w.count, w.failures, percent(w.success_rate),
        w.uptime_percent == null ? "—" : `${w.uptime_percent.toFixed(1)}%`, ms(w.latency_p50_ms), ms(w.latency_p95_ms), ms(w.latency_p99_ms)]), "Checks by window"),
    h("h2", {}, "Breakdown by kind and status"),
    table(["Kind", "Status", "Connections"], stats.by_kind_and_status.map((r) => [r.kind, r.status, r.connections]), "Breakdown by kind and status"),
    h("h2", {}, "Errors by outcome"),
    table(["Outcome", "Alerts", "Status changes"], errorBreakdown([...open.items, ...resolved.items], summary.recent_changes), "Errors by outcome"),
    h("h2", {}, "Recent status changes"),
    table(["Connection", "From", "To", "Reason", "At"], summary.recent_changes.map((c) => [c.connection_name, c.previous, c.status, c.reason, formatTime(c.at)]), "Recent status changes"),
    h("h2", {}, "Open alerts"), alerts(open.items, "Open alerts"),
    h("h2", {}, "Resolved alerts"), alerts(resolved.items, "Resolved alerts"));
}

function alerts(items, label) {
  if (!items.length) return h("p", {}, "None.");
  return table(["Connection", "Reason", "Outcome", "Raised", "Resolved"],
    items.map((a) => [a.connection_name, a.reason, a.outcome ?? "", formatTime(a.raised_at), formatTime(a.resolved_at)]), label);
}

function table(headers, rows, label) {
  return h("table", { "aria-label": label },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))));
}

/** Failure outcomes (timeout, auth_failed, ...) counted over the alerts and status changes shown. */
function errorBreakdown(alerts, changes) {
  const counts = new Map();
  const add = (outcome, column) => {
    if (!outcome || outcome === "ok") return;
    const row = counts.get(outcome) || [outcome, 0, 0];
    row[column] += 1;
    counts.set(outcome, row);
  };
  alerts.forEach((a) => add(a.outcome, 1));
  changes.forEach((c) => add(c.outcome, 2));
  return [...counts.values()].sort((a, b) => b[1] + b[2] - a[1] - a[2]);
}

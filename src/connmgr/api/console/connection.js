// One connection: status, last test with phases, actions, charts from /checks, the
// audit trail from /logs with the chain's last verified checkpoint, time travel.
import { api, query } from "./api.js";
import { h, formatTime, labelled, render, statusBadge, toast } from "./dom.js";
import { latencyChart, uptimeChart } from "./charts.js";
import { follow } from "./feed.js";

export async function show(main, id) {
  const target = h("div");
  render(main, target);
  const refresh = () => draw(target, id).catch((error) => render(target, h("p", { class: "error", role: "alert" }, error.message)));
  await refresh();
  return follow(null, (event) => {
    if (event.stream_id === id) refresh();
  });
}

async function draw(target, id) {
  const connection = await api(`/api/connections/${id}`);
  const [checks, logs] = await Promise.all([
    api(`/api/connections/${id}/checks${query({ limit: 100 })}`).catch(() => ({ samples: [] })),
    api(`/api/connections/${id}/logs${query({ limit: 200 })}`).catch(() => ({ items: [] })),
  ]);
  const samples = [...checks.samples].reverse();
  render(target,
    h("h1", {}, connection.name),
    h("p", {}, "Status: ", statusBadge(connection.status), ` since ${formatTime(connection.status_since)}`),
    h("p", {}, `Kind ${connection.kind} · version ${connection.version} · tags: ${connection.tags.join(", ") || "none"}`),
    connection.description ? h("p", { "aria-label": "Description" }, connection.description) : null,
    actions(connection, () => draw(target, id)),
    lastTest(connection.last_test),
    h("h2", {}, "Latency"), samples.length ? null : h("p", { class: "hint" }, "No checks recorded yet."), latencyChart(samples),
    h("h2", {}, "Uptime"), uptimeChart(samples),
    h("h2", {}, "Configuration"), h("pre", { "aria-label": "Configuration" }, JSON.stringify(
      { config: connection.config, auth: connection.auth, health_check: connection.health_check,
        secret_fields: connection.secret_fields }, null, 2)),
    timeTravel(connection),
    await auditTrail(logs.items),
  );
}

function lastTest(test) {
  if (!test) return h("section", { "aria-label": "Last test" }, h("h2", {}, "Last test"), h("p", {}, "Not tested yet."));
  const phases = Object.entries(test.phases || {});
  return h("section", { "aria-label": "Last test" }, h("h2", {}, "Last test"),
    h("p", { "data-outcome": test.outcome }, `Outcome: ${test.outcome}`, test.latency_ms != null ? ` in ${test.latency_ms} ms` : ""),
    phases.length ? h("table", { "aria-label": "Latency phases" },
      h("tbody", {}, phases.map(([phase, ms]) => h("tr", {}, h("th", { scope: "row" }, phase), h("td", {}, `${ms} ms`))))) : null,
    h("p", {}, test.detail), h("p", { class: "hint" }, `tested ${formatTime(test.tested_at)}`));
}

function actions(connection, redraw) {
  const run = (label, path) => async () => {
    try {
      const outcome = await api(path, { method: "POST", body: {} });
      toast(`${label}: ${outcome?.result?.outcome ?? outcome?.outcome ?? "sent"}`);
      await redraw();
    } catch (error) {
      toast(`${label} failed: ${error.message}`);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete ${connection.name}? Its secrets are destroyed; its history stays.`)) return;
    try {
      await api(`/api/connections/${connection.id}`, { method: "DELETE", headers: { "If-Match": connection._etag || `"${connection.id}.v${connection.version}"` } });
      toast(`Deleted ${connection.name}`);
      location.hash = "#/";
    } catch (error) {
      toast(`Delete failed: ${error.message}`);
    }
  };
  const base = `/api/connections/${connection.id}`;
  return h("div", { class: "actions", role: "group", "aria-label": "Actions" },
    h("button", { type: "button", onclick: run("Test", `${base}/test`) }, "Test"),
    h("button", { type: "button", onclick: run("Check now", `${base}/health-check`) }, "Check now"),
    h("a", { href: `#/connections/${connection.id}/edit` }, "Edit"),
    h("a", { href: `#/connections/${connection.id}/rotate` }, "Rotate secrets"),
    h("button", { type: "button", onclick: remove }, "Delete"));
}

function timeTravel(connection) {
  const version = h("input", { type: "number", min: 1, max: connection.version, value: Math.max(1, connection.version - 1), name: "version" });
  const output = h("pre", { "aria-label": "Connection at that version", "aria-live": "polite" });
  const go = async (event) => {
    event.preventDefault();
    try {
      const past = await api(`/api/connections/${connection.id}/versions/${Number(version.value)}`);
      render(output, JSON.stringify(past, null, 2));
    } catch (error) {
      render(output, `Cannot show that version: ${error.message}`);
    }
  };
  return h("form", { "aria-label": "Time travel", onsubmit: go }, h("h2", {}, "Time travel"),
    labelled("Version", version), h("button", { type: "submit" }, "Show version"), output);
}

async function auditTrail(events) {
  const checkpoint = await api("/api/audit/checkpoint").catch(() => null);
  return h("section", { "aria-label": "Audit trail" }, h("h2", {}, "Audit trail"),
    checkpointLine(checkpoint),
    h("table", {}, h("thead", {}, h("tr", {}, ["Version", "Event", "Actor", "At", "Hash"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, events.map((event) => h("tr", {},
        h("td", {}, event.version), h("td", {}, event.type), h("td", {}, event.metadata?.actor_id ?? ""),
        h("td", {}, formatTime(event.recorded_at)), h("td", { class: "hint" }, event.hash.slice(0, 12)))))));
}

/** The chain is global: the API walks all of it periodically (GET /api/audit/checkpoint). */
function checkpointLine(checkpoint) {
  if (!checkpoint || !checkpoint.verified) {
    return h("p", { "data-checkpoint": "pending" }, "The hash chain has not been verified yet.");
  }
  if (!checkpoint.ok) {
    return h("p", { class: "error", "data-checkpoint": "broken" },
      `The hash chain is broken at position ${checkpoint.broken_at}; it held up to ${checkpoint.position} (checked ${formatTime(checkpoint.verified_at)}).`);
  }
  return h("p", { "data-checkpoint": "ok", "data-position": checkpoint.position },
    `Hash chain verified up to position ${checkpoint.position} at ${formatTime(checkpoint.verified_at)}.`);
}

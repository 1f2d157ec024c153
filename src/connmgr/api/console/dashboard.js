// Dashboard: counts by status, search and filters, grid or list, server paging
// (keyset cursors), live updates from the feed without a reload (docs/console.md).
import { api, query } from "./api.js";
import { h, labelled, render, statusBadge, toast } from "./dom.js";
import { follow } from "./feed.js";

export const KINDS = ["postgres", "mysql", "mongodb", "redis", "http", "webhook", "s3", "smtp", "imap", "tcp"];
const STATUSES = ["unknown", "healthy", "degraded", "down", "flapping", "suspended"];
const PAGE_SIZE = 50;
const LIVE_TYPES = new Set([
  "ConnectionCreated", "ConnectionUpdated", "ConnectionDeleted", "ConnectionTested",
  "HealthStatusChanged", "SecretsRotated",
]);

export async function show(main) {
  const state = { filters: {}, cursors: [null], page: 0, view: "list", items: new Map() };
  const counts = h("ul", { class: "counts", "aria-label": "Connections by status" });
  const results = h("section", { "aria-label": "Connections", "aria-live": "polite" });
  const pager = h("nav", { "aria-label": "Pages" });
  render(main, h("h1", {}, "Connections"), counts, toolbar(state, () => load(state, results, pager)),
    results, pager);
  await Promise.all([load(state, results, pager), loadCounts(counts)]);
  let refreshCounts = null;
  return follow(null, async (event) => {
    if (!LIVE_TYPES.has(event.type)) return;
    await applyEvent(state, event, results);
    clearTimeout(refreshCounts);
    refreshCounts = setTimeout(() => loadCounts(counts), 200);
  });
}

function toolbar(state, reload) {
  const search = h("input", { type: "search", name: "q", placeholder: "name or description" });
  const kind = select("kind", ["", ...KINDS]);
  const status = select("status", ["", ...STATUSES]);
  const tag = h("input", { type: "text", name: "tag" });
  const view = select("view", ["list", "grid"]);
  const apply = (event) => {
    event.preventDefault();
    state.filters = { q: search.value.trim(), kind: kind.value, status: status.value, tag: tag.value.trim() };
    state.cursors = [null];
    state.page = 0;
    reload();
  };
  view.addEventListener("change", () => {
    state.view = view.value;
    reload();
  });
  return h("form", { class: "toolbar", role: "search", "aria-label": "Filter connections", onsubmit: apply },
    labelled("Search", search), labelled("Kind", kind), labelled("Status", status),
    labelled("Tag", tag), h("button", { type: "submit" }, "Apply filters"), labelled("View", view));
}

function select(name, values) {
  return h("select", { name }, values.map((value) => h("option", { value }, value || "any")));
}

async function loadCounts(target) {
  const summary = await api("/api/connections/health/summary");
  render(target, h("li", { "data-count": "total" }, `total: ${summary.total}`),
    Object.entries(summary.by_status).map(([status, count]) =>
      h("li", { "data-count": status }, statusBadge(status), `: ${count}`)));
}

async function load(state, results, pager) {
  const cursor = state.cursors[state.page];
  const page = await api(`/api/connections${query({ ...state.filters, limit: PAGE_SIZE, cursor })}`);
  state.cursors[state.page + 1] = page.next_cursor;
  state.items = new Map(page.items.map((item) => [item.id, item]));
  draw(state, results);
  const previous = h("button", { type: "button", disabled: state.page === 0 }, "Previous page");
  const next = h("button", { type: "button", disabled: !page.next_cursor }, "Next page");
  previous.addEventListener("click", () => { state.page -= 1; load(state, results, pager); });
  next.addEventListener("click", () => { state.page += 1; load(state, results, pager); });
  render(pager, previous, h("span", {}, ` page ${state.page + 1} `), next);
}

function draw(state, results) {
  const items = [...state.items.values()];
  if (!items.length) return render(results, h("p", {}, "No connections match."));
  if (state.view === "grid") {
    return render(results, h("ul", { class: "grid" }, items.map((item) =>
      h("li", { "data-connection": item.id }, link(item), h("p", {}, statusBadge(item.status)),
        h("p", {}, item.kind), h("p", { class: "hint" }, item.tags.join(", "))))));
  }
  render(results, h("table", {},
    h("thead", {}, h("tr", {}, ["Name", "Kind", "Status", "Tags", "Version"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, items.map((item) => h("tr", { "data-connection": item.id },
      h("td", {}, link(item)), h("td", {}, item.kind), h("td", {}, statusBadge(item.status)),
      h("td", {}, item.tags.join(", ")), h("td", {}, item.version))))));
}

function link(item) {
  return h("a", { href: `#/connections/${item.id}` }, item.name);
}

async function applyEvent(state, event, results) {
  const id = event.stream_id;
  if (event.type === "ConnectionDeleted") {
    state.items.delete(id);
    return draw(state, results);
  }
  if (event.type !== "ConnectionCreated" && !state.items.has(id)) return;
  if (event.type === "ConnectionCreated" && state.page !== 0) return;
  try {
    state.items.set(id, await api(`/api/connections/${id}`));
    draw(state, results);
    if (event.type === "ConnectionCreated") toast(`New connection: ${state.items.get(id).name}`);
  } catch {
    /* gone since, or filtered: the next reload shows the truth */
  }
}

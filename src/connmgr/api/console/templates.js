// The template gallery: categories, search, setup notes; "Use" opens a prefilled form.
import { api, query } from "./api.js";
import { h, labelled, render } from "./dom.js";

export async function show(main) {
  const list = h("section", { "aria-label": "Templates" });
  const search = h("input", { type: "search", name: "q" });
  const category = h("select", { name: "category" }, h("option", { value: "" }, "any"));
  const all = await api("/api/connections/templates");
  for (const name of [...new Set(all.items.map((t) => t.category))].sort()) category.append(h("option", { value: name }, name));
  const filter = async (event) => {
    event?.preventDefault();
    const page = await api(`/api/connections/templates${query({ q: search.value.trim(), category: category.value })}`);
    draw(list, page.items);
  };
  render(main, h("h1", {}, "Templates"),
    h("form", { class: "toolbar", role: "search", "aria-label": "Filter templates", onsubmit: filter },
      labelled("Search templates", search), labelled("Category", category), h("button", { type: "submit" }, "Filter")),
    list);
  draw(list, all.items);
}

function draw(target, items) {
  const byCategory = new Map();
  for (const item of items) byCategory.set(item.category, [...(byCategory.get(item.category) || []), item]);
  render(target, [...byCategory.entries()].map(([category, templates]) => h("section", { "aria-label": category },
    h("h2", {}, category),
    h("ul", { class: "grid" }, templates.map((t) => h("li", { "data-template": t.id },
      h("h3", {}, t.name), h("p", { class: "hint" }, t.kind), h("p", {}, t.setup_notes),
      h("a", { href: `#/new/${t.id}`, "aria-label": `Use template ${t.name}` }, "Use template")))))));
}

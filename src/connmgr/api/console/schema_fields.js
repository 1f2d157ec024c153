// Form controls generated from a JSON Schema (2020-12, as pydantic writes it): one
// labelled control per property, its default shown, an error slot beside it.
import { h } from "./dom.js";

export function resolve(schema, defs) {
  let node = schema || {};
  while (node.$ref) node = defs[node.$ref.split("/").pop()] || {};
  const options = node.anyOf || node.oneOf;
  if (options && options.length === 2 && options.some((o) => o.type === "null")) {
    return { ...resolve(options.find((o) => o.type !== "null"), defs), default: node.default, title: node.title, nullable: true };
  }
  return node;
}

/** Controls for every property of an object schema; field names are `${prefix}.${name}`. */
export function objectFields(schema, defs, prefix, values = {}) {
  const node = resolve(schema, defs);
  const required = new Set(node.required || []);
  return Object.entries(node.properties || {}).map(([name, property]) =>
    field(`${prefix}.${name}`, name, resolve(property, defs), required.has(name), values[name]));
}

function field(path, name, schema, required, value) {
  const current = value ?? schema.default;
  const control = controlFor(schema, current);
  Object.assign(control.dataset, { field: path, type: kindOf(schema) });
  control.name = path;
  control.required = required && kindOf(schema) !== "boolean";
  const errorId = `error-${path}`;
  control.setAttribute("aria-describedby", errorId);
  const hint = schema.default !== undefined && schema.default !== null
    ? h("span", { class: "hint" }, `default: ${JSON.stringify(schema.default)}`) : null;
  return h("div", { class: "row" },
    h("label", {}, `${schema.title || name}${required ? " (required)" : ""}`, control),
    hint, h("span", { class: "field-error", id: errorId, "data-error-for": path }));
}

function kindOf(schema) {
  if (schema.enum || schema.const !== undefined) return "enum";
  if (schema.type === "integer" || schema.type === "number" || schema.type === "boolean") return schema.type;
  if (schema.type === "string") return "string";
  if (schema.type === "array" && resolveItems(schema) === "string") return "list";
  return "json";
}

function resolveItems(schema) {
  return schema.items && schema.items.type;
}

function controlFor(schema, current) {
  switch (kindOf(schema)) {
    case "enum": {
      const values = schema.enum || [schema.const];
      return h("select", {}, values.map((v) => h("option", { value: v, selected: v === current }, String(v))));
    }
    case "boolean":
      return h("input", { type: "checkbox", checked: current === true });
    case "integer":
    case "number":
      return h("input", { type: "number", min: schema.minimum, max: schema.maximum, value: current ?? "",
        step: schema.type === "integer" ? 1 : "any" });
    case "list":
      return h("input", { type: "text", value: (current || []).join(", "), placeholder: "comma-separated" });
    case "string":
      return h("input", { type: "text", value: current ?? "", maxlength: schema.maxLength });
    default:
      return h("textarea", { rows: 2 }, current === undefined ? "" : JSON.stringify(current));
  }
}

/** The value of one generated control, or undefined when left empty. */
export function valueOf(control) {
  const raw = control.type === "checkbox" ? control.checked : control.value.trim();
  switch (control.dataset.type) {
    case "boolean": return raw;
    case "integer": case "number": return raw === "" ? undefined : Number(raw);
    case "list": return raw === "" ? [] : raw.split(",").map((s) => s.trim()).filter(Boolean);
    case "json": return raw === "" ? undefined : JSON.parse(raw);
    case "enum": return raw === "" ? undefined : (/^-?\d+$/.test(raw) && control.dataset.numeric ? Number(raw) : raw);
    default: return raw === "" ? undefined : raw;
  }
}

/** Collect `${prefix}.*` controls of a form into an object. */
export function collect(form, prefix) {
  const out = {};
  for (const control of form.querySelectorAll(`[data-field^="${prefix}."]`)) {
    const value = valueOf(control);
    if (value !== undefined) out[control.dataset.field.slice(prefix.length + 1)] = value;
  }
  return out;
}

// The connection form: create, edit, rotate, and "test before save" (a draft test).
// Config, auth and health-check controls come from the served JSON Schemas; secrets
// are sealed in the browser (seal.js) and only their sealed blob is sent.
import { api, ProblemError } from "./api.js";
import { h, labelled, render, toast } from "./dom.js";
import { KINDS } from "./dashboard.js";
import { formSchemas, methodsOf } from "./form_schemas.js";
import { collect, objectFields } from "./schema_fields.js";
import { sealSecrets } from "./seal.js";

const DEFAULT_SECRETS = { basic: ["password"], bearer: ["token"], api_key: ["api_key"], oauth2: ["client_secret"],
  oauth1: ["consumer_secret", "token_secret"], jwt: ["signing_key"], mtls: ["client_key_pem"] };

export async function show(main, { id, template }) {
  const schemas = await formSchemas();
  const existing = id ? await api(`/api/connections/${id}`) : null;
  const preset = template ? await findTemplate(template) : null;
  const start = existing || fromTemplate(preset) || { kind: "postgres", config: {}, auth: { method: "none" }, tags: [] };
  const state = { schemas, existing, template: preset, connectionId: existing?.id || crypto.randomUUID() };
  const form = h("form", { "aria-labelledby": "form-title", novalidate: true });
  render(main, form);
  drawForm(form, state, start);
}

async function findTemplate(templateId) {
  const list = await api("/api/connections/templates");
  return list.items.find((item) => item.id === templateId) || null;
}

function fromTemplate(template) {
  if (!template) return null;
  return { name: template.name, kind: template.kind, template: template.id, config: template.config,
    auth: template.auth, tags: [template.category], secret_fields: template.secret_fields };
}

function drawForm(form, state, values) {
  const { schemas, existing } = state;
  const name = h("input", { type: "text", name: "name", value: values.name || "", required: true, "data-field": "name", "aria-describedby": "error-name" });
  const kind = h("select", { name: "kind", disabled: Boolean(existing) }, KINDS.map((k) => h("option", { value: k, selected: k === values.kind }, k)));
  const allowed = methodsOf(schemas, values.kind);
  const method = h("select", { name: "auth.method" }, Object.keys(allowed).map((m) => h("option", { value: m, selected: m === values.auth?.method }, m)));
  const rerender = () => drawForm(form, state, { ...values, ...read(form), kind: kind.value, auth: { ...read(form).auth, method: method.value } });
  kind.addEventListener("change", rerender);
  method.addEventListener("change", rerender);
  const result = h("div", { role: "status", "aria-live": "polite", id: "form-result" });
  render(form,
    h("h1", { id: "form-title" }, existing ? `Edit ${existing.name}` : "New connection"),
    state.template ? h("p", { class: "hint" }, `From template ${state.template.name}: ${state.template.setup_notes}`) : null,
    h("div", { class: "row" }, labelled("Name", name), errorSlot("name")),
    labelled("Kind", kind),
    h("div", { class: "row" }, labelled("Description", h("input", { type: "text", name: "description", value: values.description || "", "data-field": "description" }))),
    h("div", { class: "row" }, labelled("Tags (comma-separated)", h("input", { type: "text", name: "tags", value: (values.tags || []).join(", "), "data-field": "tags" })), errorSlot("tags")),
    configFieldset(schemas, kind.value, values.config || {}),
    h("fieldset", {}, h("legend", {}, "Authentication"), labelled("Auth method", method),
      authFields(schemas, method.value, values.auth || {})),
    secretsFieldset(secretNames(values, allowed[method.value], method.value), Boolean(existing)),
    h("fieldset", {}, h("legend", {}, "Health check"), objectFields(schemas.health, schemas.defs, "health_check", values.health_check || {})),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => submit(form, state, "test", result) }, "Test before save"),
      h("button", { type: "submit" }, existing ? "Save changes" : "Create connection")),
    h("p", { class: "error", role: "alert", id: "form-error" }),
    result);
  form.onsubmit = (event) => {
    event.preventDefault();
    submit(form, state, "save", result);
  };
}

function errorSlot(path) {
  return h("span", { class: "field-error", id: `error-${path}`, "data-error-for": path });
}

function configFieldset(schemas, kind, config) {
  const schema = schemas.kinds[kind];
  const body = schema ? objectFields(schema, schemas.defs, "config", config)
    : [h("div", { class: "row" }, labelled("Configuration (JSON)", h("textarea", { rows: 5, "data-field": "config", "data-type": "json", name: "config" }, JSON.stringify(config, null, 2))), errorSlot("config"))];
  return h("fieldset", {}, h("legend", {}, `Configuration (${kind})`), body);
}

function authFields(schemas, method, auth) {
  if (schemas.auth[method]) {
    return objectFields(schemas.auth[method], schemas.defs, "auth", auth).filter((row) => !row.querySelector('[data-field="auth.method"]'));
  }
  if (method === "none") return null;
  const { method: _, ...settings } = auth;
  return h("div", { class: "row" }, labelled("Auth settings (JSON)", h("textarea", { rows: 2, "data-field": "auth-json", name: "auth-json" }, JSON.stringify(settings))), errorSlot("auth"));
}

/** [name, required] of each secret field: the served schema's, else the template's or a guess. */
function secretNames(values, served, method) {
  if (served) {
    const named = served.from_field ? (values.auth?.[served.from_field] || []) : [];
    return [...served.required, ...named].map((n) => [n, true]).concat(served.optional.map((n) => [n, false]));
  }
  const names = values.secret_fields?.length ? values.secret_fields : DEFAULT_SECRETS[method] || [];
  return names.map((n) => [n, true]);
}

function secretsFieldset(names, editing) {
  return h("fieldset", {}, h("legend", {}, "Secrets"),
    h("p", { class: "hint" }, editing ? "Leave empty to keep the stored secrets. Values are sealed in this browser before sending." : "Values are sealed in this browser before sending."),
    names.map(([secret, required]) => h("div", { class: "row" }, labelled(`Secret: ${secret}${required ? "" : " (optional)"}`,
      h("input", { type: "password", autocomplete: "new-password", "data-secret": secret, name: `secret-${secret}` })), errorSlot(`secrets.${secret}`))));
}

function read(form) {
  const tags = form.querySelector('[data-field="tags"]').value.split(",").map((t) => t.trim()).filter(Boolean);
  const configText = form.querySelector('textarea[data-field="config"]');
  return {
    name: form.querySelector('[data-field="name"]').value.trim(),
    description: form.querySelector('[data-field="description"]').value.trim(),
    tags,
    config: configText ? JSON.parse(configText.value || "{}") : collect(form, "config"),
    auth: { ...collect(form, "auth"), ...jsonOf(form.querySelector('[data-field="auth-json"]')), method: form.querySelector('[name="auth.method"]').value },
    health_check: collect(form, "health_check"),
  };
}

function jsonOf(textarea) {
  return textarea && textarea.value.trim() ? JSON.parse(textarea.value) : {};
}

function plainSecrets(form) {
  const secrets = {};
  for (const input of form.querySelectorAll("[data-secret]")) if (input.value) secrets[input.dataset.secret] = input.value;
  return Object.keys(secrets).length ? secrets : null;
}

async function submit(form, state, action, result) {
  clearErrors(form);
  let body;
  try {
    body = await buildBody(form, state, action);
  } catch (error) {
    return showError(form, error);
  }
  try {
    const outcome = await send(state, action, body);
    if (action === "test") return render(result, describeTest(outcome));
    toast(`Saved ${body.name || state.existing?.name}`);
    location.hash = `#/connections/${outcome?.connection_id || state.connectionId}`;
  } catch (error) {
    showError(form, error);
  }
}

async function buildBody(form, state, action) {
  const values = read(form);
  const draft = { id: state.connectionId, kind: form.querySelector('[name="kind"]').value, template: state.template?.id ?? state.existing?.template ?? undefined, ...values };
  const body = state.existing && action !== "test" ? values : draft;
  const secrets = plainSecrets(form);
  if (secrets) body.secrets = await sealSecrets(secrets, await api("/api/keys/seal"), state.connectionId);
  return body;
}

function send(state, action, body) {
  if (action === "test") return api("/api/connections/test", { method: "POST", body });
  if (!state.existing) return api("/api/connections", { method: "POST", body });
  return api(`/api/connections/${state.existing.id}`, { method: "PUT", body, headers: { "If-Match": state.existing._etag || `"${state.existing.id}.v${state.existing.version}"` } });
}

function describeTest(outcome) {
  const test = outcome?.result || outcome?.test || outcome || {};
  const phases = Object.entries(test.phases || {}).map(([p, ms]) => `${p} ${ms} ms`).join(", ");
  return h("p", { "data-outcome": test.outcome }, `Draft test: ${test.outcome ?? outcome?.outcome ?? "sent"}${phases ? ` (${phases})` : ""}`);
}

function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) render(slot);
  render(form.querySelector("#form-error"));
}

function showError(form, error) {
  const banner = form.querySelector("#form-error");
  if (!(error instanceof ProblemError)) return render(banner, error.message);
  const conflict = error.status === 409;
  render(banner, conflict ? `Conflict: this connection changed since you opened it (${error.message}). Reload to see the new version.` : error.message);
  for (const [field, message] of Object.entries(error.fieldErrors())) {
    const path = field.replace(/^(body|payload)\./, "");
    const slot = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`) || banner;
    if (slot !== banner) render(slot, message);
    else banner.append(` ${path}: ${message}.`);
  }
}

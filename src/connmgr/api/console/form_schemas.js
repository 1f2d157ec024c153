// The schemas the connection form is generated from, as the API serves them
// (GET /api/schemas/connections), reduced to: per kind its config schema and the auth
// methods it allows with their secret fields, per auth method its schema, the
// health-check settings, and the $defs they refer to.
// Without that route the form falls back to a JSON editor for the config.
import { api } from "./api.js";

const HEALTH_FALLBACK = {
  type: "object",
  properties: {
    enabled: { type: "boolean", default: true },
    interval_s: { type: "integer", minimum: 10, maximum: 86400, default: 60 },
    timeout_s: { type: "integer", minimum: 1, maximum: 60, default: 5 },
    failure_threshold: { type: "integer", minimum: 1, maximum: 100, default: 3 },
    recovery_threshold: { type: "integer", minimum: 1, maximum: 100, default: 2 },
  },
};
const METHODS_FALLBACK = ["none", "basic", "bearer", "api_key", "oauth2", "oauth1", "custom_headers", "mtls", "jwt"];

let cached = null;

export async function formSchemas() {
  if (!cached) cached = load();
  return cached;
}

async function load() {
  let document = null;
  try {
    document = await api("/api/schemas/connections");
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  return document ? reduce(document) : { served: false, kinds: {}, kindMethods: {}, auth: {}, health: HEALTH_FALLBACK, defs: {}, methods: METHODS_FALLBACK };
}

/** The auth methods a kind allows, each {required, optional} secret field names. */
export function methodsOf(schemas, kind) {
  return schemas.kindMethods[kind] || Object.fromEntries(schemas.methods.map((m) => [m, null]));
}

function reduce(document) {
  const defs = { ...(document.$defs || {}) };
  const kinds = {};
  const kindMethods = {};
  for (const [kind, entry] of Object.entries(document.kinds || {})) {
    const config = entry.config || entry;
    Object.assign(defs, config.$defs || {}, entry.$defs || {});
    kinds[kind] = config;
    if (entry.auth_methods) kindMethods[kind] = entry.auth_methods;
  }
  const auth = {};
  for (const schema of Object.values(defs)) {
    const method = schema.properties?.method;
    const name = method?.const ?? method?.default;
    if (typeof name === "string" && schema.title?.endsWith("Auth")) auth[name] = schema;
  }
  for (const [name, schema] of Object.entries(document.auth || document.auth_methods || {})) auth[name] = schema;
  const health = document.health_check || defs.HealthCheckSettings || HEALTH_FALLBACK;
  const methods = Object.keys(auth).length ? Object.keys(auth) : METHODS_FALLBACK;
  return { served: true, kinds, kindMethods, auth, health, defs, methods };
}

// The console's one door to the API: the bearer token from session storage in an
// Authorization header (never in a URL), JSON in and out, RFC 9457 problems thrown.

const TOKEN_KEY = "connmgr.token";

export class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
  /** Field errors as {field: message}. */
  fieldErrors() {
    const out = {};
    for (const error of this.problem.errors || []) out[error.field] = error.message;
    return out;
  }
}

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  save: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** A request with the session's token; resolves to parsed JSON (null for 204). A 401
 * logs out (back to the login page), except for the login's own check. */
export async function api(path, { method = "GET", body, headers = {}, signal, login = false } = {}) {
  const init = { method, signal, headers: { Accept: "application/json", ...headers } };
  const token = session.token();
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401 && !login) window.dispatchEvent(new Event("connmgr:unauthorized"));
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ProblemError(response.status, data || {});
  if (data && typeof data === "object") {
    Object.defineProperty(data, "_status", { value: response.status });
    Object.defineProperty(data, "_etag", { value: response.headers.get("ETag") });
  }
  return data;
}

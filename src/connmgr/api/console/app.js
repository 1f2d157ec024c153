// The console's entry: login, the hash router and the navigation (docs/console.md).
// Routes live in the fragment (#/connections/<id>); a token never appears in a URL.
import { api, session } from "./api.js";
import { h, labelled, render } from "./dom.js";

const PAGES = [
  [/^#\/?$/, () => import("./dashboard.js"), () => []],
  [/^#\/new(?:\/([a-z0-9-]+))?$/, () => import("./form.js"), (m) => [{ template: m[1] }]],
  [/^#\/connections\/([0-9a-f-]{36})\/edit$/, () => import("./form.js"), (m) => [{ id: m[1] }]],
  [/^#\/connections\/([0-9a-f-]{36})$/, () => import("./connection.js"), (m) => [m[1]]],
  [/^#\/connections\/([0-9a-f-]{36})\/rotate$/, () => import("./rotate.js"), (m) => [m[1]]],
  [/^#\/templates$/, () => import("./templates.js"), () => []],
  [/^#\/stats$/, () => import("./stats.js"), () => []],
];

const main = document.getElementById("main");
let leave = null;

async function route() {
  if (leave) leave();
  leave = null;
  if (!session.token()) return showLogin();
  document.getElementById("nav").hidden = false;
  const hash = location.hash || "#/";
  for (const [pattern, load, args] of PAGES) {
    const match = hash.match(pattern);
    if (!match) continue;
    const page = await load();
    leave = (await page.show(main, ...args(match))) || null;
    return;
  }
  render(main, h("h1", {}, "Not found"), h("p", {}, "No page has this address."));
}

function showLogin() {
  document.getElementById("nav").hidden = true;
  const token = h("input", { type: "password", name: "token", autocomplete: "off", required: true });
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { "aria-labelledby": "login-title", onsubmit: (event) => login(event, token, error) },
    h("h1", { id: "login-title" }, "Log in"),
    h("p", {}, "Paste an API token. It stays in this tab's session storage only."),
    labelled("API token", token),
    h("button", { type: "submit" }, "Log in"),
    error,
  );
  render(main, form);
  token.focus();
}

async function login(event, input, error) {
  event.preventDefault();
  session.save(input.value.trim());
  input.value = "";
  try {
    await api("/api/connections?limit=1", { login: true });
  } catch (problem) {
    session.clear();
    render(error, `Login failed: ${problem.message}`);
    return;
  }
  route();
}

document.getElementById("logout").addEventListener("click", () => {
  session.clear();
  location.hash = "#/";
  route();
});
window.addEventListener("connmgr:unauthorized", () => {
  session.clear();
  route();
});
window.addEventListener("hashchange", route);
route();

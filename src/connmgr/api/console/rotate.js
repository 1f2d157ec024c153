// Rotate a connection's secrets: every secret again, sealed in the browser.
import { api } from "./api.js";
import { h, labelled, render, toast } from "./dom.js";
import { sealSecrets } from "./seal.js";

export async function show(main, id) {
  const connection = await api(`/api/connections/${id}`);
  const inputs = connection.secret_fields.map((name) =>
    h("input", { type: "password", autocomplete: "new-password", "data-secret": name, name: `secret-${name}`, required: true }));
  const error = h("p", { class: "error", role: "alert" });
  const rotate = async (event) => {
    event.preventDefault();
    const secrets = Object.fromEntries(inputs.map((input) => [input.dataset.secret, input.value]));
    try {
      const sealed = await sealSecrets(secrets, await api("/api/keys/seal"), id);
      await api(`/api/connections/${id}/rotate`, { method: "POST", body: { secrets: sealed } });
      toast(`Rotated the secrets of ${connection.name}`);
      location.hash = `#/connections/${id}`;
    } catch (problem) {
      render(error, problem.message);
    }
  };
  render(main, h("form", { "aria-labelledby": "rotate-title", onsubmit: rotate },
    h("h1", { id: "rotate-title" }, `Rotate the secrets of ${connection.name}`),
    inputs.map((input) => h("div", { class: "row" }, labelled(`Secret: ${input.dataset.secret}`, input))),
    h("button", { type: "submit" }, "Rotate secrets"), error));
}

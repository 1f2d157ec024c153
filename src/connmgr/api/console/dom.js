// Element building without HTML strings: every text goes through textContent, so a
// name or tag like `<img src=x onerror=...>` is shown as text, never parsed (docs/console.md).

/** h("button", {type: "button", onclick: f}, "Save") */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace a node's children. */
export function render(target, ...children) {
  target.replaceChildren();
  append(target, children);
}

/** A labelled control: the label wraps the control, so its accessible name is the text. */
export function labelled(text, control) {
  return h("label", {}, text, control);
}

export function statusBadge(status) {
  return h("span", { class: `status status-${status}`, "data-status": status }, status);
}

export function toast(message) {
  render(document.getElementById("toast"), message);
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

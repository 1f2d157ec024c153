// Inline SVG charts (no library): latency as a line, checks as ok/failed bars.
const NS = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 120;

function svg(tag, attributes = {}) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

function frame(label) {
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", role: "img", "aria-label": label });
  const title = svg("title");
  title.textContent = label;
  chart.append(title);
  return chart;
}

/** Latency of each sample, oldest left. */
export function latencyChart(samples) {
  const max = Math.max(1, ...samples.map((s) => s.latency_ms));
  const chart = frame(samples.length ? `Latency of the last ${samples.length} checks, up to ${max.toFixed(1)} ms` : "Latency: no checks yet");
  if (samples.length < 2) return chart;
  const step = WIDTH / (samples.length - 1);
  const points = samples.map((s, i) => `${(i * step).toFixed(1)},${(HEIGHT - (s.latency_ms / max) * (HEIGHT - 10)).toFixed(1)}`);
  chart.append(svg("polyline", { class: "line", points: points.join(" ") }));
  return chart;
}

/** One bar per sample: green when ok, red otherwise; the label gives the uptime. */
export function uptimeChart(samples) {
  const ok = samples.filter((s) => s.outcome === "ok").length;
  const percent = samples.length ? ((100 * ok) / samples.length).toFixed(1) : "—";
  const chart = frame(samples.length ? `Uptime over the last ${samples.length} checks: ${percent}%` : "Uptime: no checks yet");
  const width = WIDTH / Math.max(1, samples.length);
  samples.forEach((s, i) => {
    chart.append(svg("rect", { class: s.outcome === "ok" ? "bar-ok" : "bar-down", x: (i * width).toFixed(1),
      y: 10, width: Math.max(1, width - 1).toFixed(1), height: HEIGHT - 20 }));
  });
  return chart;
}

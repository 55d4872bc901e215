// The stats panel: queue depth, images in flight, and a bar chart (inline
// SVG) of images finished per minute over the last hour.

import { h, fill } from "./dom.js";

const STATS = `{
  stats {
    queueDepth inFlight
    imagesPerMinute(minutes: 60) { minute done failed }
  }
}`;
const REFRESH_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 120;
const TOP = 4;
const BOTTOM = 1;

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function bars(minutes, peak) {
  const slot = WIDTH / minutes.length;
  const scale = (HEIGHT - TOP - BOTTOM) / peak;
  return minutes.map((m, i) => {
    const x = i * slot + 1;
    const done = m.done * scale;
    const failed = m.failed * scale;
    const base = HEIGHT - BOTTOM;
    return svg("g", {},
      svg("title", {}, `${clock(m.minute)}: ${m.done} done, ${m.failed} failed`),
      svg("rect", { class: "bar-done", x, y: base - done, width: slot - 2, height: done }),
      svg("rect", { class: "bar-failed", x, y: base - done - failed, width: slot - 2, height: failed }));
  });
}

/** An SVG chart of per-minute counts, described for screen readers. */
export function minuteChart(minutes) {
  const done = minutes.reduce((sum, m) => sum + m.done, 0);
  const failed = minutes.reduce((sum, m) => sum + m.failed, 0);
  const peak = Math.max(1, ...minutes.map((m) => m.done + m.failed));
  const label = `Images per minute over the last hour: ${done} done and ${failed} failed in all, at most ${peak} in one minute.`;
  // Labels stay HTML: the drawing stretches to the panel's width.
  return h("figure", { className: "chart-box" },
    svg("svg", {
      class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label,
      preserveAspectRatio: "none",
    },
    svg("line", { class: "axis", x1: 0, x2: WIDTH, y1: HEIGHT - BOTTOM, y2: HEIGHT - BOTTOM }),
    ...bars(minutes, peak)),
    h("figcaption", { className: "chart-axis", "aria-hidden": "true" },
      h("span", {}, "60 min ago"), h("span", {}, `highest: ${peak}/min`), h("span", {}, "now")));
}

function summary(stats) {
  const minutes = stats.imagesPerMinute;
  const done = minutes.reduce((sum, m) => sum + m.done, 0);
  const failed = minutes.reduce((sum, m) => sum + m.failed, 0);
  return h("dl", { className: "figures" },
    h("div", {}, h("dt", {}, "Queue depth"), h("dd", { id: "queue-depth" }, stats.queueDepth)),
    h("div", {}, h("dt", {}, "In flight"), h("dd", { id: "in-flight" }, stats.inFlight)),
    h("div", {}, h("dt", {}, "Done, last hour"), h("dd", {}, done)),
    h("div", {}, h("dt", {}, "Failed, last hour"), h("dd", {}, failed)));
}

/** The panel; it refreshes itself until the scope ends. */
export function statsPanel(scope, app) {
  const body = h("div", { className: "stats-body" }, "Loading…");
  const panel = h("section", { className: "panel stats", "aria-labelledby": "stats-title" },
    h("h2", { id: "stats-title" }, "Throughput"), body);
  const refresh = async () => {
    const data = await app.query(STATS);
    if (data && scope.alive) fill(body, summary(data.stats), minuteChart(data.stats.imagesPerMinute));
  };
  refresh();
  scope.every(REFRESH_MS, refresh);
  return panel;
}

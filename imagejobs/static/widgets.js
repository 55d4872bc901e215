// Pieces shown in more than one view: status badges and progress bars.

import { h } from "./dom.js";

export function statusBadge(status) {
  return h("span", { className: `badge badge-${status.toLowerCase()}` }, status);
}

/** The share of a job's images that have an outcome, 0-100. */
export function percentFinished(progress) {
  if (!progress.total) return 100;
  const finished = progress.done + progress.failed + progress.cancelled;
  return Math.floor((100 * finished) / progress.total);
}

function progressText(p) {
  const parts = [`${p.done} of ${p.total} done`];
  if (p.failed) parts.push(`${p.failed} failed`);
  if (p.cancelled) parts.push(`${p.cancelled} cancelled`);
  return parts.join(", ");
}

function segment(kind, count, total) {
  const width = total ? (100 * count) / total : 0;
  return h("span", { className: `segment segment-${kind}`, style: `width: ${width}%` });
}

/** A bar of done, failed and cancelled images over the job's total. */
export function progressBar(progress) {
  const percent = percentFinished(progress);
  const text = progressText(progress);
  return h("div", { className: "progress-cell" },
    h("div", {
      className: "progress",
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": percent,
      "aria-valuetext": `${percent}%: ${text}`,
      "data-percent": percent,
    },
    segment("done", progress.done, progress.total),
    segment("failed", progress.failed, progress.total),
    segment("cancelled", progress.cancelled, progress.total)),
    h("span", { className: "progress-text" }, `${percent}% · ${text}`));
}

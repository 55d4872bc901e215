// Small helpers for building the page without a framework.

/**
 * Create an element: h("a", {href: "#/jobs"}, "Jobs").
 * Attributes starting with "on" become listeners; null and false are skipped.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "className") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Replace everything inside an element. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A table; each row's cells carry their column's label for phone layout. */
export function table(caption, headings, rows, kind = "") {
  return h("div", { className: "table-wrap" },
    h("table", { className: `rows ${kind}` },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
}

/** A row of cells labelled for the phone layout. */
export function row(headings, cells, attributes = {}) {
  return h("tr", attributes, cells.map((cell, i) =>
    h("td", { "data-label": headings[i] }, cell)));
}

const UNITS = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];

/** "3 min", "2 h 5 min", "12 s" for a number of seconds. */
export function span(seconds) {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole} s`;
  const parts = [];
  let rest = whole;
  for (const [size, unit] of UNITS) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
  }
  return parts.join(" ");
}

/** Seconds between two ISO times, or until now when the end is missing. */
export function secondsBetween(start, end) {
  const stop = end ? Date.parse(end) : Date.now();
  return (stop - Date.parse(start)) / 1000;
}

/** A short form of a job id for narrow columns, the whole id kept as title. */
export function shortId(id) {
  return id.length > 10 ? `…${id.slice(-8)}` : id;
}

/** "1 job", "3 jobs". */
export function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Announce a message to screen readers and show it in the status line. */
export function announce(message) {
  const status = document.getElementById("status");
  if (status) status.textContent = message;
}

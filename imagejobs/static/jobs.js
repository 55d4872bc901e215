// The jobs list: newest first, filtered, paged, rows updated live.

import { fill, h, plural, row, secondsBetween, shortId, span, table } from "./dom.js";
import { TERMINAL, watchJob } from "./live.js";
import { statsPanel } from "./chart.js";
import { progressBar, statusBadge } from "./widgets.js";

export const JOB_FIELDS = `id status priority count createdAt finishedAt
  progress { total done failed cancelled pending }`;
const LIST = `query Jobs($status: JobStatus, $storeId: String, $first: Int, $after: String) {
  jobs(status: $status, storeId: $storeId, first: $first, after: $after) {
    edges { node { ${JOB_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const PAGE_SIZE = 20;
const STATUSES = ["PENDING", "ONGOING", "COMPLETED", "FAILED", "CANCELLED"];
const HEADINGS = ["Job", "Status", "Priority", "Stores", "Progress", "Age", "Duration"];
// The cursor of the page before each page seen, for the "Newer" link.
const previous = new Map();

/** How long a job ran, or has run so far; nothing before it starts. */
export function duration(job) {
  if (job.status === "PENDING") return "–";
  const seconds = span(secondsBetween(job.createdAt, job.finishedAt));
  return job.finishedAt ? seconds : `${seconds} so far`;
}

function jobCells(job) {
  return [
    h("a", { href: `#/jobs/${job.id}`, title: job.id, "aria-label": `Job ${job.id}` }, shortId(job.id)),
    statusBadge(job.status),
    job.priority,
    job.count,
    progressBar(job.progress),
    span(secondsBetween(job.createdAt)),
    duration(job),
  ];
}

function jobRow(job) {
  return row(HEADINGS, jobCells(job), { "data-job-id": job.id, "data-status": job.status });
}

function filterForm(params, app) {
  const status = h("select", { id: "filter-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s, selected: params.status === s }, s)));
  const store = h("input", { id: "filter-store", name: "store", value: params.store || "", autocomplete: "off" });
  const apply = (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (status.value) query.set("status", status.value);
    if (store.value.trim()) query.set("store", store.value.trim());
    app.navigate(`#/jobs?${query}`);
  };
  return h("form", { className: "filters", role: "search", "aria-label": "Filter jobs", onsubmit: apply },
    h("div", { className: "field" }, h("label", { for: "filter-status" }, "Status"), status),
    h("div", { className: "field" }, h("label", { for: "filter-store" }, "Store id"), store),
    h("button", { type: "submit" }, "Filter"),
    h("a", { href: "#/jobs", className: "button-link" }, "Clear"));
}

function pager(params, pageInfo) {
  const base = new URLSearchParams(params);
  base.delete("after");
  const links = [];
  if (params.after) {
    const before = previous.get(params.after);
    const back = new URLSearchParams(base);
    if (before) back.set("after", before);
    links.push(h("a", { href: `#/jobs?${back}`, rel: "prev" }, "← Newer"));
  }
  if (pageInfo.hasNextPage) {
    previous.set(pageInfo.endCursor, params.after || "");
    const next = new URLSearchParams(base);
    next.set("after", pageInfo.endCursor);
    links.push(h("a", { href: `#/jobs?${next}`, rel: "next" }, "Older →"));
  }
  return h("nav", { className: "pager", "aria-label": "Pages" }, links);
}

function follow(job, tr, scope, app) {
  const stop = watchJob(job.id, JOB_FIELDS, (fresh) => {
    Object.assign(job, fresh);
    tr.dataset.status = job.status;
    fill(tr, [...row(HEADINGS, jobCells(job)).children]);
  }, app.handleError);
  scope.onEnd(stop);
}

/** Render the list; `params` holds status, store and after from the hash. */
export async function renderJobs(main, params, app, scope) {
  const list = h("div", { id: "job-list" }, "Loading…");
  fill(main, h("h1", { tabindex: -1 }, "Jobs"), statsPanel(scope, app), filterForm(params, app), list);
  const data = await app.query(LIST, {
    status: params.status || null, storeId: params.store || null, first: PAGE_SIZE, after: params.after || null,
  });
  if (!data || !scope.alive) return;
  const jobs = data.jobs.edges.map((e) => e.node);
  const rows = jobs.map((job) => [job, jobRow(job)]);
  const caption = jobs.length ? `${plural(jobs.length, "job")}, newest first` : "No jobs match";
  fill(list, table(caption, HEADINGS, rows.map(([, tr]) => tr)), pager(params, data.jobs.pageInfo));
  for (const [job, tr] of rows) if (!TERMINAL.has(job.status)) follow(job, tr, scope, app);
  scope.every(1000, () => refreshTimes(rows));
}

function refreshTimes(rows) {
  for (const [job, tr] of rows) {
    tr.cells[5].textContent = span(secondsBetween(job.createdAt));
    tr.cells[6].textContent = duration(job);
  }
}

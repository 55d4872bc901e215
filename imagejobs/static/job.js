// One job: its summary, store errors, visits and images, and actions.

import { announce, fill, h, row, secondsBetween, span, table } from "./dom.js";
import { JOB_FIELDS, duration } from "./jobs.js";
import { TERMINAL, watchJob } from "./live.js";
import { progressBar, statusBadge } from "./widgets.js";

const SUMMARY_FIELDS = `${JOB_FIELDS} errors { storeId error }`;
const DETAILS = `query JobDetails($id: ID!) {
  job(id: $id) {
    id
    visits {
      storeId visitTime store { name areaCode }
      images { url status width height perimeter format error errorCode }
    }
  }
}`;
const IMAGE_HEADINGS = ["Thumbnail", "URL", "Status", "Size", "Perimeter", "Format", "Error"];
const DETAILS_DELAY_MS = 1000;

function thumbnail(url) {
  if (!/^https?:/i.test(url)) return "–";
  const markBroken = (event) => event.target.replaceWith(h("span", { className: "no-thumb" }, "no preview"));
  return h("img", { src: url, alt: "", loading: "lazy", width: 64, height: 64, className: "thumb", onerror: markBroken });
}

function urlLink(url) {
  if (!/^https?:/i.test(url)) return h("span", { className: "url" }, url);
  return h("a", { href: url, className: "url", target: "_blank", rel: "noopener noreferrer" }, url);
}

function imageError(image) {
  if (!image.error && !image.errorCode) return "";
  return h("span", { className: "image-error" },
    image.error || "", " ", image.errorCode ? h("code", {}, image.errorCode) : "");
}

function imageRow(image) {
  const size = image.width === null ? "–" : `${image.width} × ${image.height}`;
  return row(IMAGE_HEADINGS, [
    thumbnail(image.url), urlLink(image.url), statusBadge(image.status), size,
    image.perimeter ?? "–", image.format ?? "–", imageError(image),
  ], { "data-status": image.status });
}

function visitSection(visit, index) {
  const store = visit.store
    ? `${visit.store.name}, area ${visit.store.areaCode}`
    : "not in the store master";
  const title = `Visit ${index + 1}: store ${visit.storeId}`;
  return h("section", { className: "visit", "aria-label": title },
    h("h3", {}, title),
    h("p", { className: "visit-meta" }, store, " · visited ", visit.visitTime),
    table(`Images of visit ${index + 1}`, IMAGE_HEADINGS, visit.images.map(imageRow), "images"));
}

function storeErrors(errors) {
  if (!errors.length) return "";
  return h("section", { className: "panel store-errors", "aria-labelledby": "store-errors-title" },
    h("h2", { id: "store-errors-title" }, `Store errors (${errors.length})`),
    h("ul", {}, errors.map((e) => h("li", {}, h("strong", {}, e.storeId), ": ", e.error))));
}

function facts(job) {
  const fact = (term, value) => h("div", {}, h("dt", {}, term), h("dd", {}, value));
  return h("dl", { className: "facts" },
    fact("Status", statusBadge(job.status)),
    fact("Priority", job.priority),
    fact("Visits", job.count),
    fact("Created", `${new Date(job.createdAt).toLocaleString()} (${span(secondsBetween(job.createdAt))} ago)`),
    fact("Duration", duration(job)),
    fact("Images", progressBar(job.progress)));
}

/** Render one job; `params.id` is its id. */
export function renderJob(main, params, app, scope) {
  const view = new JobView(main, params.id, app, scope);
  view.start();
}

class JobView {
  constructor(main, id, app, scope) {
    Object.assign(this, { main, id, app, scope });
    this.summary = h("div", { className: "summary" }, "Loading…");
    this.actions = h("div", { className: "actions" });
    this.errors = h("div");
    this.visits = h("div", { className: "visits" });
    this.pending = null;
    fill(main, h("h1", { tabindex: -1 }, `Job ${id}`), this.summary, this.actions,
      this.errors, h("h2", {}, "Visits"), this.visits);
  }

  start() {
    this.stop?.();
    this.stop = watchJob(this.id, SUMMARY_FIELDS, (job) => this.show(job), this.app.handleError);
    this.scope.onEnd(() => this.stop());
    this.loadDetails();
  }

  show(job) {
    if (!this.scope.alive) return;
    fill(this.summary, facts(job));
    fill(this.errors, storeErrors(job.errors));
    this.showActions(job);
    clearTimeout(this.pending);
    const delay = TERMINAL.has(job.status) ? 0 : DETAILS_DELAY_MS;
    this.pending = setTimeout(() => this.loadDetails(), delay);
  }

  async loadDetails() {
    const data = await this.app.query(DETAILS, { id: this.id });
    if (!data || !this.scope.alive) return;
    if (!data.job) {
      fill(this.summary, h("p", { role: "alert" }, "There is no job with this id."));
      return;
    }
    fill(this.visits, data.job.visits.map(visitSection));
  }

  async showActions(job) {
    const caps = await this.app.capabilities();
    const buttons = [];
    if (caps.cancelJob && !TERMINAL.has(job.status)) buttons.push(this.actionButton("cancelJob", "Cancel job"));
    if (caps.retryJob && job.status === "FAILED") buttons.push(this.actionButton("retryJob", "Retry failed images"));
    if (this.scope.alive) fill(this.actions, buttons);
  }

  actionButton(mutation, label) {
    return h("button", { type: "button", onclick: () => this.act(mutation, label) }, label);
  }

  async act(mutation, label) {
    const text = `mutation Act($id: ID!) { ${mutation}(id: $id) { job { id status } userErrors { message code } } }`;
    const data = await this.app.query(text, { id: this.id });
    if (!data) return;
    const problems = data[mutation].userErrors;
    announce(problems.length ? `${label}: ${problems.map((p) => p.message).join("; ")}` : `${label}: done`);
    this.start();
  }
}

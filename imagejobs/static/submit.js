// Submit a job in the REST payload shape; show userErrors beside the fields.

import { announce, fill, h, plural } from "./dom.js";

const SUBMIT = `mutation Submit($input: SubmitJobInput!) {
  submitJob(input: $input) {
    job { id }
    userErrors { field message code }
  }
}`;
const PRIORITIES = ["NORMAL", "HIGH", "LOW"];
const REST_NAMES = { storeId: "store_id", imageUrls: "image_url", visitTime: "visit_time" };
const EXAMPLE = `{
  "count": 1,
  "visits": [
    {
      "store_id": "RP00004",
      "visit_time": "2024-06-01 10:15",
      "image_url": ["https://example.com/shelf.jpg"]
    }
  ]
}`;

function newKey() {
  // crypto.randomUUID needs a secure context; plain http on a LAN is not one.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `dashboard-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A field path as the REST payload names it: visits[2].image_url[0]. */
export function restPath(path) {
  return path.reduce((text, part) => {
    if (/^\d+$/.test(part)) return `${text}[${part}]`;
    const name = REST_NAMES[part] || part;
    return text ? `${text}.${name}` : name;
  }, "");
}

function text(value) {
  return typeof value === "string" ? value : value === undefined ? "" : value;
}

function list(value) {
  return Array.isArray(value) ? value : [];
}

/**
 * The GraphQL input for a REST-shaped job, and the problems found on the
 * way. Missing strings are sent empty so the service reports them.
 */
export function toInput(job, priority) {
  const problems = [];
  if (job === null || typeof job !== "object" || Array.isArray(job)) {
    return { input: null, problems: [{ field: [], message: "the job must be a JSON object", code: "MISSING_FIELD" }] };
  }
  if (!Number.isInteger(job.count)) problems.push({ field: ["count"], message: "count must be a whole number", code: "MISSING_FIELD" });
  if (!Array.isArray(job.visits)) problems.push({ field: ["visits"], message: "visits must be a list", code: "NO_VISITS" });
  const visits = list(job.visits).map((visit, i) => {
    const v = visit && typeof visit === "object" ? visit : {};
    if (v.image_url !== undefined && !Array.isArray(v.image_url)) {
      problems.push({ field: ["visits", String(i), "imageUrls"], message: "image_url must be a list of URLs", code: "NO_IMAGES" });
    }
    return { storeId: String(text(v.store_id)), imageUrls: list(v.image_url).map((u) => String(u)), visitTime: String(text(v.visit_time)) };
  });
  return { input: { count: Number.isInteger(job.count) ? job.count : 0, visits, priority }, problems };
}

/** Each problem by its path; those naming nothing shown stay in `rest`. */
class ProblemIndex {
  constructor(problems) {
    this.byPath = new Map();
    for (const p of problems) {
      const key = (p.field || []).join(".");
      this.byPath.set(key, [...(this.byPath.get(key) || []), p]);
    }
  }

  take(path) {
    const key = path.join(".");
    const found = this.byPath.get(key) || [];
    this.byPath.delete(key);
    return found.map((p) => h("p", { className: "field-error" }, `${p.message} `, h("code", {}, p.code)));
  }

  rest() {
    return [...this.byPath.values()].flat();
  }
}

function item(label, value, index, path) {
  const errors = index.take(path);
  const invalid = errors.length > 0;
  return h("li", { className: invalid ? "invalid" : "", "data-field": restPath(path) },
    h("span", { className: "item-name" }, label), " ",
    h("span", { className: "item-value" }, value === "" ? "(empty)" : String(value)), errors);
}

function visitPreview(visit, i, index) {
  const at = ["visits", String(i)];
  const urls = visit.imageUrls.map((url, j) =>
    item(`image_url[${j}]`, url, index, [...at, "imageUrls", String(j)]));
  return h("li", { className: "preview-visit", "data-field": restPath(at) },
    h("span", { className: "item-name" }, `visits[${i}]`), index.take(at),
    h("ul", {},
      item("store_id", visit.storeId, index, [...at, "storeId"]),
      item("visit_time", visit.visitTime, index, [...at, "visitTime"]),
      urls, index.take([...at, "imageUrls"])));
}

/** The job as understood, each problem beside the field it names. */
function preview(input, problems) {
  const index = new ProblemIndex(problems);
  const body = h("ul", { className: "preview" },
    item("count", input ? input.count : "", index, ["count"]),
    h("li", {}, h("span", { className: "item-name" }, "visits"), index.take(["visits"]),
      h("ul", {}, input ? input.visits.map((v, i) => visitPreview(v, i, index)) : [])));
  const general = index.rest().map((p) => h("li", {}, restPath(p.field || []) || "job", ": ", p.message, " ", h("code", {}, p.code)));
  return h("section", { className: "panel problems", "aria-labelledby": "problems-title" },
    h("h2", { id: "problems-title", tabindex: -1 }, `${plural(problems.length, "problem")} to fix`),
    general.length ? h("ul", { className: "general-errors" }, general) : "",
    body);
}

/** Render the submit form. */
export function renderSubmit(main, params, app, scope) {
  const form = new SubmitForm(app, scope);
  fill(main, h("h1", { tabindex: -1 }, "Submit a job"),
    h("p", {}, "Paste or upload a job in the REST payload shape: ",
      h("code", {}, "count"), ", and ", h("code", {}, "visits"), " each with ",
      h("code", {}, "store_id"), ", ", h("code", {}, "image_url"), " (a list) and ",
      h("code", {}, "visit_time"), "."),
    form.element, form.result);
}

class SubmitForm {
  constructor(app, scope) {
    Object.assign(this, { app, scope });
    this.key = null;
    this.json = h("textarea", { id: "job-json", rows: 14, spellcheck: "false", "aria-describedby": "job-json-help job-json-error" });
    this.file = h("input", { id: "job-file", type: "file", accept: ".json,application/json", onchange: () => this.readFile() });
    this.priority = h("select", { id: "job-priority" }, PRIORITIES.map((p) => h("option", { value: p }, p)));
    this.parseError = h("p", { id: "job-json-error", className: "field-error", hidden: true });
    this.button = h("button", { type: "submit" }, "Submit job");
    this.result = h("div", { id: "submit-result", "aria-live": "polite" });
    this.element = h("form", { className: "submit-form", onsubmit: (e) => this.submit(e) },
      h("div", { className: "field wide" },
        h("label", { for: "job-json" }, "Job (JSON)"), this.json,
        h("p", { id: "job-json-help", className: "hint" }, "For example: ", h("code", {}, EXAMPLE.replace(/\s+/g, " "))),
        this.parseError),
      h("div", { className: "field" }, h("label", { for: "job-file" }, "Or upload a JSON file"), this.file),
      h("div", { className: "field" }, h("label", { for: "job-priority" }, "Priority"), this.priority),
      h("div", { className: "field" }, this.button));
  }

  async readFile() {
    const file = this.file.files[0];
    if (file) this.json.value = await file.text();
  }

  showParseError(message) {
    this.parseError.textContent = message;
    this.parseError.hidden = !message;
    this.json.setAttribute("aria-invalid", message ? "true" : "false");
    if (message) this.json.focus();
  }

  parse() {
    try {
      const job = JSON.parse(this.json.value);
      this.showParseError("");
      return job;
    } catch (error) {
      this.showParseError(`This is not valid JSON: ${error.message}`);
      fill(this.result);
      return undefined;
    }
  }

  async submit(event) {
    event.preventDefault();
    const job = this.parse();
    if (job === undefined) return;
    const { input, problems } = toInput(job, this.priority.value);
    if (problems.length) return this.showProblems(input, problems);
    this.button.disabled = true;
    try {
      await this.send(input);
    } finally {
      this.button.disabled = false;
    }
  }

  async send(input) {
    // The same key for a repeat after no answer, so a retry after a lost
    // response cannot submit the job twice; a new one after any answer.
    this.key ??= newKey();
    const data = await this.app.query(SUBMIT, { input: { ...input, idempotencyKey: this.key } });
    if (!data || !this.scope.alive) return;
    this.key = null;
    const { job, userErrors } = data.submitJob;
    if (userErrors.length) return this.showProblems(input, userErrors);
    announce(`Job ${job.id} submitted.`);
    this.app.navigate(`#/jobs/${job.id}`);
  }

  showProblems(input, problems) {
    fill(this.result, preview(input, problems));
    this.result.querySelector("h2").focus();
  }
}

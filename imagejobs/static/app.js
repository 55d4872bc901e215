// The dashboard's shell: hash routes, the token prompt, and error display.

import { AuthRequired, capabilities, gql, setToken, token } from "./api.js";
import { announce, fill } from "./dom.js";
import { renderJob } from "./job.js";
import { renderJobs } from "./jobs.js";
import { renderStores } from "./stores.js";
import { renderSubmit } from "./submit.js";

const main = document.getElementById("main");
const dialog = document.getElementById("token-dialog");

/** What a view owns while it is shown: timers and watchers to stop after. */
class Scope {
  constructor() {
    this.alive = true;
    this.cleanups = [];
  }

  onEnd(cleanup) {
    this.cleanups.push(cleanup);
  }

  every(ms, action) {
    const timer = setInterval(action, ms);
    this.onEnd(() => clearInterval(timer));
  }

  end() {
    this.alive = false;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }
}

function parseRoute() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  const params = Object.fromEntries(new URLSearchParams(search));
  if (parts[0] === "jobs" && parts[1]) return { view: renderJob, name: "jobs", params: { ...params, id: decodeURIComponent(parts[1]) } };
  if (parts[0] === "submit") return { view: renderSubmit, name: "submit", params };
  if (parts[0] === "stores") return { view: renderStores, name: "stores", params };
  return { view: renderJobs, name: "jobs", params };
}

let scope = new Scope();
let firstRoute = true;

const app = {
  /** Run a GraphQL operation; on failure show why and resolve to null. */
  async query(text, variables) {
    try {
      return await gql(text, variables);
    } catch (error) {
      handleError(error);
      return null;
    }
  },
  capabilities: () => capabilities().catch((error) => {
    handleError(error);
    return { jobProgress: false, cancelJob: false, retryJob: false };
  }),
  navigate(hash) {
    location.hash = hash;
  },
  handleError,
};

function handleError(error) {
  if (error instanceof AuthRequired) askForToken(error.message);
  else announce(`Error: ${error.message}`);
}

function showRoute() {
  scope.end();
  scope = new Scope();
  const route = parseRoute();
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.route === route.name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  announce("");
  fill(main);
  route.view(main, route.params, app, scope);
  if (!firstRoute) main.querySelector("h1")?.focus();
  firstRoute = false;
}

function askForToken(reason) {
  if (dialog.open) return;
  const error = document.getElementById("token-error");
  error.hidden = !token();
  error.textContent = token() ? `That token was not accepted (${reason}).` : "";
  dialog.showModal();
}

function useToken(event) {
  event.preventDefault();
  const input = document.getElementById("token-input");
  setToken(input.value.trim());
  input.value = "";
  dialog.close();
  showForgetButton();
  showRoute();
}

function showForgetButton() {
  document.getElementById("forget-token").hidden = !token();
}

function forgetToken() {
  setToken(null);
  showForgetButton();
  showRoute();
}

function skipToMain(event) {
  event.preventDefault();
  main.focus();
}

document.getElementById("token-form").addEventListener("submit", useToken);
document.getElementById("forget-token").addEventListener("click", forgetToken);
document.querySelector(".skip").addEventListener("click", skipToMain);
window.addEventListener("hashchange", showRoute);
showForgetButton();
showRoute();

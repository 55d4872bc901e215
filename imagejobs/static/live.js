// Live job state: the jobProgress subscription over graphql-transport-ws,
// or polling while the service's schema has no such subscription.

import { ApiError, AuthRequired, authHeader, capabilities, gql } from "./api.js";

export const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
const POLL_MS = 1000;
const RETRY_MS = 2000;

/** One WebSocket carrying any number of subscriptions, open while needed. */
class Connection {
  constructor() {
    this.socket = null;
    this.ready = false;
    this.nextId = 1;
    this.active = new Map();
  }

  subscribe(query, variables, sink) {
    const id = String(this.nextId++);
    this.active.set(id, { query, variables, sink });
    if (this.ready) this.start(id);
    else this.open();
    return () => this.stop(id);
  }

  open() {
    if (this.socket) return;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    const socket = new WebSocket(url, "graphql-transport-ws");
    this.socket = socket;
    socket.onopen = () => this.send({ type: "connection_init", payload: authHeader() });
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      if (this.socket === socket) this.closed(event.code);
    };
  }

  receive(message) {
    const entry = this.active.get(message.id);
    if (message.type === "connection_ack") {
      this.ready = true;
      for (const id of this.active.keys()) this.start(id);
    } else if (message.type === "ping") {
      this.send({ type: "pong" });
    } else if (message.type === "next" && entry) {
      const { data, errors } = message.payload;
      if (errors && errors.length) entry.sink.error(new ApiError(errors[0].message));
      else entry.sink.next(data);
    } else if (message.type === "error" && entry) {
      this.active.delete(message.id);
      entry.sink.error(new ApiError(message.payload.map((e) => e.message).join("; ")));
    } else if (message.type === "complete" && entry) {
      this.active.delete(message.id);
      entry.sink.complete();
      this.closeIfIdle();
    }
  }

  start(id) {
    const { query, variables } = this.active.get(id);
    this.send({ id, type: "subscribe", payload: { query, variables } });
  }

  stop(id) {
    if (!this.active.delete(id)) return;
    if (this.ready) this.send({ id, type: "complete" });
    this.closeIfIdle();
  }

  send(message) {
    this.socket.send(JSON.stringify(message));
  }

  closeIfIdle() {
    if (this.active.size || !this.socket) return;
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    socket.close(1000);
  }

  closed(code) {
    this.socket = null;
    this.ready = false;
    const entries = [...this.active.values()];
    this.active.clear();
    const error = code === 4401 || code === 4403
      ? new AuthRequired("the live connection was refused")
      : new Error(`the live connection closed (${code})`);
    for (const entry of entries) entry.sink.error(error);
  }
}

const connection = new Connection();

/**
 * Follow one job: onJob(job) with each whole snapshot until it ends.
 * `fields` is the selection inside Job. Returns a function that stops.
 */
export function watchJob(id, fields, onJob, onError) {
  const watch = { stopped: false, stop: () => {} };
  capabilities().then((caps) => {
    if (watch.stopped) return;
    const follow = caps.jobProgress ? subscribeJob : pollJob;
    follow(id, fields, watch, onJob, onError);
  }, onError);
  return () => {
    watch.stopped = true;
    watch.stop();
  };
}

function subscribeJob(id, fields, watch, onJob, onError) {
  const query = `subscription Live($id: ID!) { jobProgress(id: $id) { ${fields} } }`;
  watch.stop = connection.subscribe(query, { id }, {
    next: (data) => onJob(data.jobProgress),
    complete: () => {},
    error: (error) => {
      if (error instanceof AuthRequired || error instanceof ApiError) onError(error);
      else if (!watch.stopped) retryLater(() => subscribeJob(id, fields, watch, onJob, onError), watch);
    },
  });
}

function pollJob(id, fields, watch, onJob, onError) {
  const query = `query Poll($id: ID!) { job(id: $id) { ${fields} } }`;
  const tick = () => gql(query, { id }).then((data) => {
    if (watch.stopped || !data.job) return;
    onJob(data.job);
    if (!TERMINAL.has(data.job.status)) retryLater(tick, watch, POLL_MS);
  }, onError);
  tick();
}

function retryLater(action, watch, delay = RETRY_MS) {
  const timer = setTimeout(() => {
    if (!watch.stopped) action();
  }, delay);
  watch.stop = () => clearTimeout(timer);
}
